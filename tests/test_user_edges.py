"""What a new user hit (issue 40): each rough edge of the command line and the Python API, tested as the user met
it: real commands (in this process through ``main``, or a child process where what matters is a real stderr file),
real ONNX Runtime sessions, a real service on loopback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seqocr.cli import main
from seqocr.inference.onnx_reader import SHIPPED_ONNX
from tests.helpers import CONFIGS, ROOT, SAMPLES

SAMPLE = SAMPLES / "sign-0000000.png"
SHIPPED_WEIGHTS = SHIPPED_ONNX.with_suffix(".safetensors")
TINY = ["--config", str(CONFIGS / "tiny.yaml"), "--set", "train.batch_size=4", "--set", "data.val=",
        "--set", "data.workers=0", "--set", "train.log_every=1"]


def seqocr(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``seqocr ARGS`` in a child process, its stdout and stderr plain files (not terminals), as in a script or CI;
    their text as written (bytes decoded here: ``text=True`` would turn a carriage return into a newline)."""
    r = subprocess.run([sys.executable, "-m", "seqocr", *args], capture_output=True, timeout=280, check=False,
                       cwd=cwd, input=None if stdin is None else stdin.encode())
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())


def samples_with_a_truncated_image(root: Path) -> Path:
    """The bundled samples' folder and labels, sign 1 cut to its first 300 bytes (a truncated PNG)."""
    folder = root / "signs"
    shutil.copytree(SAMPLES, folder)
    (folder / "sign-0000001.png").write_bytes((SAMPLES / "sign-0000001.png").read_bytes()[:300])
    return folder / "labels.tsv"


@pytest.fixture(scope="module")
def short_run(tmp_path_factory) -> dict:
    """One tiny training run that meets three of the edges at once: a warm-up (50 steps) longer than the run (4), a
    labels file of two images, one unreadable and so drawn several times in each batch of 8, and a stderr that is
    not a terminal. Its exit status, stdout, stderr and folder."""
    import contextlib
    import io

    from tests.helpers import write_synth_folder

    root = tmp_path_factory.mktemp("short")
    labels = write_synth_folder(root / "d", 2)
    (root / "d" / "img" / "1.png").write_bytes(b"not a png")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["train", *TINY, "--set", "train.steps=4", "--set", "train.batch_size=8", "--set",
                       "train.warmup_steps=50", "--set", f"data.train={labels}", "--set", "data.max_skip_fraction=0.5",
                       "--set", f"train.out_dir={root / 'run'}"])
    return {"status": status, "out": out.getvalue(), "err": err.getvalue(), "run": root / "run"}


# -- eval names each unreadable image and exits 1, as read does ----------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A tiny untrained PyTorch checkpoint: where the engine's code path matters, not what it reads."""
    from seqocr.charset import Charset
    from tests.helpers import tiny_checkpoint

    return tiny_checkpoint(tmp_path_factory.mktemp("tiny"), "default", Charset.fsns())


@pytest.mark.parametrize("engine", ["onnxruntime", "torch"])
def test_eval_names_each_unreadable_image_scores_the_rest_and_exits_1(engine, tiny, tiny_onnx, tmp_path, capsys):
    model = ["--onnx", str(tiny_onnx[1])] if engine == "onnxruntime" else ["--checkpoint", str(tiny)]
    labels = samples_with_a_truncated_image(tmp_path)
    status = main(["eval", *model, "--data", str(labels), "--predictions", str(tmp_path / "p.tsv"), "--json",
                   "--no-progress"])
    out, err = capsys.readouterr()
    assert status == 1
    assert json.loads(out)["samples"] == 5  # the other five are scored and printed
    named = [line for line in err.splitlines() if "sign-0000001.png" in line]
    assert len(named) == 1 and "unreadable or truncated image" in named[0], err
    assert len((tmp_path / "p.tsv").read_text(encoding="utf-8").splitlines()) == 6  # header + the five


# -- install hints: the pinned CPU torch of the Makefile, and torch named first for export -------------------------

def makefile_torch() -> str:
    return re.search(r"^TORCH \?= (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)[1]


WITHOUT = "import sys; [sys.modules.__setitem__(m, None) for m in sys.argv[1].split(',')]; " \
          "from seqocr.cli import main; sys.exit(main(sys.argv[2:]))"
# what `pip install ".[onnx]"` leaves out: torch and its extra's libraries, the data libraries
ONNX_ONLY = "torch,tensorboard,safetensors,onnx,faker,fontTools,lmdb,google_crc32c"


def run_without(modules: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT, modules, *args], capture_output=True, text=True,
                          timeout=280, check=False)


def test_export_on_a_torch_free_install_names_torch_with_the_pinned_cpu_build(tmp_path):
    r = run_without(ONNX_ONLY, "export", "--out", str(tmp_path / "m.onnx"))
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    line = r.stderr.strip()
    assert "seqocr export needs torch" in line and "faker" not in line
    assert f"pip install {makefile_torch()} --index-url https://download.pytorch.org/whl/cpu" in line


def test_every_torch_hint_gives_the_pinned_cpu_build(tmp_path):
    pin = f"pip install {makefile_torch()} --index-url https://download.pytorch.org/whl/cpu"
    r = run_without("torch", "train", "--config", str(CONFIGS / "tiny.yaml"))
    assert r.returncode == 1 and pin in r.stderr
    r = run_without("torch", "read", "--checkpoint", str(SHIPPED_WEIGHTS), str(SAMPLE))
    assert r.returncode == 1 and pin in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    r = subprocess.run([sys.executable, "-c", ("import sys; sys.modules['torch'] = None; import seqocr; "
                        "seqocr.Predictor")], capture_output=True, text=True, timeout=120, check=False)
    assert pin in r.stderr


# -- a failed command leaves no folder behind ------------------------------------------------------------------------

def test_a_failed_eval_leaves_no_report_or_predictions_folder(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab on this line\n", encoding="utf-8")
    assert main(["eval", "--onnx", str(SHIPPED_ONNX), "--data", str(bad), "--report", str(tmp_path / "rep"),
                 "--predictions", str(tmp_path / "new" / "p.tsv"), "--no-progress"]) == 1
    assert "bad.tsv:1: expected path<TAB>text" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tsv"]


def test_read_show_on_an_unreadable_image_leaves_no_folder_and_claims_no_pictures(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["read", "--show", str(tmp_path / "shows"), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.png: unreadable or truncated image" in err and "attention pictures" not in err
    assert not (tmp_path / "shows").exists()


# -- a string path is one image ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["onnxruntime", "torch"])
def test_a_path_given_alone_reads_as_one_image(engine, tiny):
    from seqocr import Predictor

    reader = Predictor.from_checkpoint() if engine == "onnxruntime" else Predictor.from_checkpoint(tiny)
    assert reader.engine == engine
    one = reader.read([SAMPLE])
    assert [r.text for r in reader.read(str(SAMPLE))] == [one[0].text]
    assert [r.text for r in reader.read(SAMPLE)] == [one[0].text]


# -- an .onnx given as a checkpoint points to --onnx -------------------------------------------------------------------

def test_an_onnx_file_given_as_a_checkpoint_points_to_onnx(capsys):
    assert main(["read", "--checkpoint", str(SHIPPED_ONNX), str(SAMPLE)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"--onnx {SHIPPED_ONNX}" in err, err
    from seqocr import Predictor
    from seqocr.errors import ConfigError

    with pytest.raises(ConfigError, match="an ONNX model"):
        Predictor.from_checkpoint(SHIPPED_ONNX)


# -- no progress bar where stderr is not a terminal, in any command ----------------------------------------------------

def test_no_command_writes_a_progress_bar_into_a_file(short_run, tiny_onnx, tmp_path, capsys):
    """A real process whose stderr is a file (eval, the case reported), then every command in this process, whose
    stderr pytest captures (or the fixture, for train): not a terminal either."""
    assert short_run["status"] == 0 and "\r" not in short_run["err"] and "step/s" not in short_run["err"]
    from tests.helpers import small_samples, write_split

    r = seqocr("eval", "--onnx", str(tiny_onnx[1]), "--data", str(SAMPLES / "labels.tsv"), "--predictions",
               str(tmp_path / "p.tsv"))
    assert r.returncode == 0 and "\r" not in r.stderr and "image/s" not in r.stderr, r.stderr
    write_split(tmp_path / "fsns", "test", small_samples(4), shards=1)
    runs = {
        "synth": ["synth", "--n", "2", "--out", str(tmp_path / "s")],
        "pack": ["pack", "--synth", "2", "--out", str(tmp_path / "db")],
        "convert": ["convert", "fsns", "--tfrecords", str(tmp_path / "fsns"), "--split", "test", "--out",
                    str(tmp_path / "png")],
    }
    for command, args in runs.items():
        assert main(args) == 0, command
        err = capsys.readouterr().err
        assert "\r" not in err and "it/s" not in err and "img/s" not in err, (command, err)


# -- help texts say what the commands take -----------------------------------------------------------------------------

def test_eval_help_names_every_kind_of_data_source(capsys):
    from seqocr.data.sources import SOURCES

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    words = {"synth": "synth:", "lmdb": "LMDB folder", "tfrecords": "TFRecord", "labels": "labels file"}
    assert {s.kind for s in SOURCES} == set(words)  # a new kind of source is named here and in the help
    for kind, word in words.items():
        assert word in text, kind


# -- a warm-up longer than the run -------------------------------------------------------------------------------------

def test_a_warm_up_longer_than_the_run_is_shortened_with_one_line(short_run):
    assert short_run["status"] == 0, short_run["err"]
    said = [line for line in short_run["out"].splitlines() if "warming up" in line]
    assert len(said) == 1 and said[0].startswith("train.warmup_steps 50 is not shorter than train.steps 4"), said
    rates = [json.loads(line)["lr"] for line in (short_run["run"] / "log.jsonl").read_text().splitlines()]
    assert max(rates) == pytest.approx(0.002)  # configs/tiny.yaml's lr is reached


# -- each bad sample reported once -------------------------------------------------------------------------------------

def test_a_bad_sample_is_reported_once_however_often_it_is_drawn(short_run):
    assert short_run["status"] == 0, short_run["err"]
    reports = [line for line in short_run["out"].splitlines() if "1.png" in line]
    assert len(reports) == 1 and "unreadable or truncated image" in reports[0], reports


# -- a bad flag value is one line --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["read", "--batch-size", "-4", "x.png"], "argument --batch-size: must be >= 1, got -4"),
    (["eval", "--data", "x", "--beam", "99"], "argument --beam: must be from 1 to 32, got 99"),
    (["serve", "--port", "http"], "argument --port: expected an integer, got 'http'"),
    (["read"], "the following arguments are required: IMAGE"),
])
def test_a_bad_flag_value_is_one_line_without_the_usage_block(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and message in err[0], err
    assert err[0].startswith(f"seqocr {args[0]}: error: ") and f"seqocr {args[0]} --help" in err[0]


# -- the fast reader by default ----------------------------------------------------------------------------------------

def test_read_uses_onnx_runtime_by_default_and_reads_the_same_texts_as_torch(capsys):
    images = [str(p) for p in sorted(SAMPLES.glob("sign-*.png"))[:3]]
    assert main(["read", "--json", *images]) == 0
    default = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["read", "--json", "--torch", *images]) == 0
    torch = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["engine"] for r in default} == {"onnxruntime"} and {r["engine"] for r in torch} == {"torch"}
    assert [r["text"] for r in default] == [r["text"] for r in torch]
    assert all(abs(a["confidence"] - b["confidence"]) < 1e-3 for a, b in zip(default, torch))


def test_python_default_reader_is_onnx_runtime_unless_torch_is_asked_for(tiny):
    """The texts are the same either way (tests/test_shipped_model.py reads the bundled signs with both files; the
    test above does through the command line); here, which engine each choice gets."""
    from seqocr import Predictor
    from seqocr.inference.onnx_reader import OnnxReader

    assert isinstance(Predictor.from_checkpoint(), OnnxReader) and Predictor.from_checkpoint().engine == "onnxruntime"
    assert Predictor.from_checkpoint(tiny).engine == "torch"  # a checkpoint
    assert Predictor.from_checkpoint(engine="torch").engine == "torch"
    from seqocr.errors import ConfigError
    from seqocr.inference.engine import choose

    for asks_torch in ({"bf16": True}, {"reading": {"read_views": 4}}, {"reading": {"reread_below": 0.5}},
                       {"attention": True}):
        assert choose(None, **asks_torch) == "torch", asks_torch  # what ONNX Runtime cannot read alike

    with pytest.raises(ConfigError, match="needs engine='torch'"):
        Predictor.from_checkpoint(engine="onnxruntime", reading={"read_views": 4})
    with pytest.raises(ConfigError, match="attention maps come from the PyTorch reader"):
        Predictor.from_checkpoint().read([SAMPLE], attention=True)


def test_eval_json_names_its_engine(tiny, tmp_path, capsys):
    args = ["eval", "--data", str(SAMPLES / "labels.tsv"), "--predictions", str(tmp_path / "p.tsv"), "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["engine"] == "onnxruntime"
    assert main([*args, "--checkpoint", str(tiny)]) == 0
    assert json.loads(capsys.readouterr().out)["engine"] == "torch"


def test_the_service_reads_with_onnx_runtime_by_default_and_says_so():
    import httpx

    from scripts.spawn_serve import spawn

    proc, url = spawn([])
    try:
        health = httpx.get(f"{url}/healthz", timeout=60).json()
        assert health["engine"] == "onnxruntime" and health["attention"] is False
        assert "--torch" in health["attention_refusal"]
        got = httpx.post(f"{url}/v1/read", timeout=120,
                         files=[("images", (SAMPLE.name, SAMPLE.read_bytes(), "image/png"))]).json()
        assert got["results"][0]["text"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
