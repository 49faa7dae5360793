# The two set-up commands: `make demo` and `make test`. Each creates .venv if it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch pinned (here a CPU wheel from the machine's own index); an unpinned torch would pull a multi-GB CUDA build.
# Override, e.g.: make TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0

.PHONY: demo test venv fonts model peers clean fuzz soak mutation

venv: $(VENV)/.installed fonts

# The generator's fonts (Debian packages; apt-get runs only for what is missing).
fonts:
	bash scripts/install_fonts.sh

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[torch,data,lm,dev]"
	# The pretrained backbone's weights (PP-OCRv6 rec small, Apache-2.0) come from the rapidocr wheel's ONNX file;
	# only the file is needed, not rapidocr's own dependencies (OpenCV and more).
	$(PY) -m pip install -q --no-deps "rapidocr==3.10.*"
	touch $@

demo: venv
	bash scripts/demo.sh

# The page's browser test drives Debian's Chromium: installed here when missing (apt-get), so that the test never
# installs anything itself; where it cannot be installed the test says why (and fails under CI).
# The tests run in TEST_WORKERS processes (pytest-xdist), each computing on its share of the cores (tests/conftest.py),
# a worker that runs out of tests taking some of the other's (worksteal); on 2 cores two are faster than one or three
# (BENCHMARKS, the suite). TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2
test: venv
	-bash scripts/install_chromium.sh > /dev/null
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

# The shipped model's recipe: training on generated signs (resumes a stopped run), then calibration, export and
# the model card. Each stage's config says why it is there (stage 7: 192-px views, the letters nearer the backbone's
# 48-px lines; stage 8: independent names and secondary lines under the name, as on real plates; stage 9: each view
# cut to its text by PP-OCRv6's detector and read at 128x256, the letters larger again at fewer pixels; stage 10:
# small first names and clutter beside the name, a fifth of the signs each; stage 11: the last 3 backbone stages
# trainable under L2-SP, which keeps them near the published weights; stage 12: a house-number plate beside the name
# plate on 15 % of the signs, never in the label; stage 13: more of the two weakest kinds, first names painted small
# and clutter; stage 14: signs photographed fewer than 4 times on 15 % of the signs; then stages 13 and 14 averaged
# weight by weight, which reads more of the generated columns, all together, than either alone; stage 15: that
# average continued on stage 14's recipe and averaged with its start again; stage 16: 30 % of the signs painted in 8
# more typefaces than the plain set's five, averaged with its start). The shipped file reads the 2 sharpest of each
# sign's 4 views and a third only for the signs it is unsure of (confidence under 0.9): what 3 views read on every
# measured column, 1.3x as fast.
model: venv
	$(call train_stage,shipped)
	$(call train_stage,shipped-stage2-glyph)
	$(call train_stage,shipped-stage3)
	$(call train_stage,shipped-stage4)
	$(call train_stage,shipped-stage5)
	$(call train_stage,shipped-stage6)
	$(call train_stage,shipped-stage7)
	$(call train_stage,shipped-stage8)
	$(call train_stage,shipped-stage9)
	$(call train_stage,shipped-stage10)
	$(call train_stage,shipped-stage11)
	$(call train_stage,shipped-stage12)
	$(call train_stage,shipped-stage13)
	$(call train_stage,shipped-stage14)
	$(PY) scripts/average_checkpoints.py runs/shipped-stage13/last.pt runs/shipped-stage14/last.pt \
	    --out runs/shipped-stage14/soup.pt
	$(call train_stage,shipped-stage15)
	$(PY) scripts/average_checkpoints.py runs/shipped-stage14/soup.pt runs/shipped-stage15/last.pt \
	    --out runs/shipped-stage15/soup.pt
	$(call train_stage,shipped-stage16)
	$(PY) scripts/average_checkpoints.py runs/shipped-stage15/soup.pt runs/shipped-stage16/last.pt \
	    --out runs/shipped-stage16/soup.pt
	$(PY) scripts/ship_model.py --checkpoint runs/shipped-stage16/soup.pt --heldout 1000 --read-views 2 \
	    --reread-below 0.9

define train_stage
	if [ -f runs/$(1)/last.pt ]; then $(PY) -m seqocr train --config configs/$(1).yaml --resume; \
	else $(PY) -m seqocr train --config configs/$(1).yaml; fi
endef

REAL ?= ../shared/fsns-sample/labels.tsv  # real FSNS samples, used by `make peers` when present

# Peers side by side on the same images (Tesseract from Debian, RapidOCR from PyPI); not part of the tests.
peers: venv
	bash scripts/install_peers.sh $(VENV)
	test -f data/heldout/labels.tsv || $(PY) -m seqocr synth --n 200 --split test --seed 1 --out data/heldout
	$(PY) -m benchmarks.bench_peers --labels data/heldout/labels.tsv \
	    $(if $(wildcard $(REAL)),--labels $(REAL)) --json benchmarks/peers.json

# Every fuzz target for FUZZ_SECONDS each from the committed seed corpus (tests/fuzz/corpus), coverage-guided with
# atheris where it installs, else by random mutation; failing inputs land in fuzz-out/TARGET/ (issue 15).
FUZZ_SECONDS ?= 60
fuzz: venv
	-$(PY) -m pip install -q "atheris>=2.3"
	$(PY) -m scripts.fuzz --seconds $(FUZZ_SECONDS)

# The service under load for SOAK_MINUTES at its measured capacity, bad requests, slow uploads, a flood, SIGTERM.
SOAK_MINUTES ?= 10
soak: venv
	$(PY) -m benchmarks.soak --minutes $(SOAK_MINUTES) --json benchmarks/soak.json

# Mutation score of the modules a user's result passes through (issues 24, 39): each mutated against the tests that
# cover it (mutmut, from PyPI); the core's ten take about 10 minutes on 2 cores, the whole list hours (each module's
# minutes are in BENCHMARKS.md; MUTATE=imaging/textcrop,data/lmdb_store runs some). The surviving mutants' diffs land
# in build/mutation-survivors/. Not part of `make test`.
MUTATE ?=
mutation: venv
	$(PY) -m pip install -q "mutmut>=3.3,<4"
	$(PY) scripts/mutation.py --json benchmarks/mutation.json --survivors build/mutation-survivors --only "$(MUTATE)"

# Training runs (runs/) are kept: `make model` resumes from them.
clean:
	rm -rf demo .pytest_cache
