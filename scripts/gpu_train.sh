#!/usr/bin/env bash
# Train the shipped recipe's next stage on a GPU machine that reaches no network, in one command.
#
#   bash scripts/gpu_train.sh --out DIR [--minutes M] [--device cuda|cpu] [--init-from CKPT] [--config C]
#                             [--bundle gpu-bundle] [--set KEY=VALUE ...] [--bench MODEL:BATCH,...]
#                             [--bench-steps N] [--profile-batch N] [--profile-steps N]
#
# 1. installs what is missing from the carried bundle (scripts/gpu_bundle.sh made it here): the wheels with pip
#    --no-index, the fonts through SEQOCR_FONT_DIR; seqocr itself without dependencies when it is not importable;
# 2. trains --config for M minutes (train.max_minutes, default 9) on --device, bf16,
#    DataLoader workers = cores - 1 that only draw signs (the crop / resize / colour jitter run on the device as
#    batched tensor ops: data.augment_on=device, so the CPU dry run tests what a GPU runs), starting from
#    --init-from's weights when given (train.init_from). The default config, configs/continue.yaml, continues the
#    shipped model (or --init-from's) at that model's own settings (view size, trainable stages) with a learning rate
#    for continuing: a lent GPU's minutes go on making the shipped model better, not on starting stage 1 again;
# 3. writes into DIR: run/ (last.pt, tb/, log.jsonl: step, loss, images/s as JSON lines), model.safetensors (the
#    weights, config and charset alone: 22 MB for the shipped model) and summary.json (steps, images, minutes,
#    images/s, device, the view size trained at, the learning rate and where the run started);
# 4. with --bench (e.g. default:32,default:1024,reference:32,reference:128): DIR/bench.jsonl, the training step's
#    images/s and MFU against the device's measured bf16 peak for each model and batch (`seqocr bench train`; a
#    batch that does not fit is a line with "error"; --bench-steps timed steps each, default 10, after up to 3
#    warm-up steps), and DIR/profile.txt, where the step's time goes
#    (benchmarks/profile_step.py: torch.profiler over --profile-steps steps, default 5, of --config at --profile-batch,
#    default 256).
#
# With `--device cpu --minutes 1` the same script runs on a laptop (tests/test_gpu_script.py runs a short dry run).
# Uses $PYTHON, else the project's .venv/bin/python when there is one (make venv), else python3.
set -euo pipefail
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON; elif [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
OUT="" MINUTES=9 DEVICE=cuda INIT="" CONFIG=configs/continue.yaml BUNDLE=gpu-bundle BENCH="" BENCH_STEPS=10 PROFILE_BATCH=256 PROFILE_STEPS=5
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --minutes) MINUTES="$2"; shift 2 ;;
    --device) DEVICE="$2"; shift 2 ;;
    --init-from) INIT="$2"; shift 2 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --bundle) BUNDLE="$2"; shift 2 ;;
    --set) EXTRA+=(--set "$2"); shift 2 ;;
    --bench) BENCH="$2"; shift 2 ;;
    --bench-steps) BENCH_STEPS="$2"; shift 2 ;;
    --profile-batch) PROFILE_BATCH="$2"; shift 2 ;;
    --profile-steps) PROFILE_STEPS="$2"; shift 2 ;;
    *) echo "gpu_train: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$OUT" ] || { echo "gpu_train: --out DIR is required" >&2; exit 2; }
case "$DEVICE" in cuda|cuda:*|cpu) ;; *) echo "gpu_train: --device must be cuda, cuda:N or cpu" >&2; exit 2 ;; esac
[ -f "$CONFIG" ] || { echo "gpu_train: no config $CONFIG" >&2; exit 2; }
if [ -e "$OUT/run/last.pt" ]; then echo "gpu_train: $OUT/run already holds a run; choose another --out" >&2; exit 2; fi
mkdir -p "$OUT"

# 1. what is missing
missing=()
for mod in faker lmdb google_crc32c rapidfuzz; do
  "$PY" -c "import $mod" 2>/dev/null || missing+=("$mod")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ -d "$BUNDLE/wheels" ] || { echo "gpu_train: missing ${missing[*]} and no $BUNDLE/wheels (scripts/gpu_bundle.sh)" >&2; exit 1; }
  "$PY" -m pip install -q --no-index --find-links "$BUNDLE/wheels" faker lmdb google-crc32c rapidfuzz
fi
if ! "$PY" -c "import rapidocr" 2>/dev/null && [ -z "$INIT" ] && ls "$BUNDLE"/wheels/rapidocr-*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps "$BUNDLE"/wheels/rapidocr-*.whl  # the backbone's weights
fi
"$PY" -c "import seqocr" 2>/dev/null || "$PY" -m pip install -q --no-deps --no-build-isolation .
if ! "$PY" -c "from seqocr.data.synth import font_paths; font_paths()" 2>/dev/null; then
  export SEQOCR_FONT_DIR="$PWD/$BUNDLE/fonts"
fi

# 2. train
cores=$(nproc)
workers=$(( cores > 1 ? cores - 1 : 1 ))
args=(--set "train.out_dir=$OUT/run" --set "train.max_minutes=$MINUTES" --set train.bf16=true
      --set "data.workers=$workers" --set "train.device=$DEVICE" --set data.augment_on=device)
[ -n "$INIT" ] && args+=(--set "train.init_from=$INIT")
start=$(date +%s)
"$PY" -m seqocr train --config "$CONFIG" "${args[@]}" "${EXTRA[@]}"
end=$(date +%s)

# 3. weights alone, and a summary
"$PY" - "$OUT" "$DEVICE" $(( end - start )) <<'PYEOF'
import json, sys
from pathlib import Path
from seqocr.model.weights import export_weights, read_checkpoint

out, device, seconds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
state = read_checkpoint(out / "run" / "last.pt")
export_weights(out / "run" / "last.pt", out / "model.safetensors", {"trained_on": device})
log_file = out / "run" / "log.jsonl"  # none when the run stopped before its first logging step
log = [json.loads(line) for line in log_file.read_text().splitlines()] if log_file.is_file() else []
batch = state["config"]["train"]["batch_size"]
cfg = state["config"]
summary = {"device": device, "steps": state["step"], "images": state["step"] * batch, "wall_seconds": seconds,
           "view": [cfg["model"]["view_height"], cfg["model"]["view_width"]], "lr": cfg["train"]["lr"],
           "init_from": cfg["train"]["init_from"],
           "images_per_s": log[-1]["images_per_s"] if log else 0.0, "final_loss": log[-1]["loss"] if log else None,
           "model_mb": round((out / "model.safetensors").stat().st_size / 1e6, 1)}
(out / "summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary))
PYEOF

# 4. throughput, MFU and a profile of the step, when asked: in bf16 where it pays (a GPU, a CPU with bf16 kernels),
# else fp32 (an AVX2-only CPU emulates bf16: ~7x slower; seqocr.device.bf16_pays)
if [ -n "$BENCH" ]; then
  DTYPE=$("$PY" -c "from seqocr.device import bf16_pays, pick_device as d
print('bf16' if bf16_pays(d('$DEVICE')) else 'fp32')")
  : > "$OUT/bench.jsonl"
  IFS=, read -r -a runs <<< "$BENCH"
  for run in "${runs[@]}"; do
    model=${run%%:*} batch=${run##*:}
    "$PY" -m seqocr bench train --model "$model" --batch-size "$batch" --dtype "$DTYPE" --device "$DEVICE" --steps "$BENCH_STEPS" \
        --warmup $(( BENCH_STEPS < 3 ? BENCH_STEPS : 3 )) --json >> "$OUT/bench.jsonl" 2>> "$OUT/bench.err" \
      || echo "{\"model\": \"$model\", \"batch\": $batch, \"error\": \"failed: see bench.err (out of memory?)\"}" \
           >> "$OUT/bench.jsonl"
  done
  "$PY" -m benchmarks.profile_step --config "$CONFIG" "${EXTRA[@]}" --device "$DEVICE" --batch "$PROFILE_BATCH" --steps "$PROFILE_STEPS" \
      $([ "$DTYPE" = bf16 ] && echo --bf16) --out "$OUT/profile.txt" > /dev/null
  cat "$OUT/bench.jsonl"
fi
