#!/usr/bin/env bash
# default vs reference on the same generated data and the same wall-clock budget, side by side:
# both train at once, one thread each, on the same synthetic stream (seed 0), bf16 autocast, then both are
# evaluated on one fixed held-out set (street names never seen in training).
# Usage: scripts/bench_compare.sh [MINUTES] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
MIN=${1:-30}
OUT=${2:-runs/compare}
SEQOCR=.venv/bin/seqocr
mkdir -p "$OUT"
[ -f "$OUT/heldout/labels.tsv" ] || $SEQOCR synth --n 500 --split test --seed 1 --out "$OUT/heldout" --no-progress
common=(--set train.max_minutes=$MIN --set train.steps=1000000 --set train.threads=1 --set train.bf16=true
        --set data.val= --set data.workers=1 --set train.ckpt_every=200 --set data.synth_seed=0 --no-progress)
$SEQOCR train --config configs/default.yaml "${common[@]}" --set train.out_dir=$OUT/default \
    --set train.steps=$((MIN * 80)) > "$OUT/default.log" 2>&1 &
$SEQOCR train --config configs/reference.yaml "${common[@]}" --set train.out_dir=$OUT/reference \
    > "$OUT/reference.log" 2>&1 &
wait
for m in default reference; do
  echo "== $m: $(.venv/bin/python -c "import torch;print(torch.load('$OUT/$m/last.pt',weights_only=True)['step'])" 2>/dev/null || true)"
  $SEQOCR eval --checkpoint $OUT/$m/last.pt --data $OUT/heldout/labels.tsv --threads 2 --bf16 --no-progress \
      --json --predictions $OUT/$m/heldout-predictions.tsv | tee "$OUT/$m-eval.json"
done
