#!/usr/bin/env bash
# The whole pipeline on a fresh machine in a few minutes: generate data, train a tiny model, evaluate it,
# read a few images. Everything goes to demo/ (removed first).
set -euo pipefail
cd "$(dirname "$0")/.."
SEQOCR=".venv/bin/seqocr"
rm -rf demo && mkdir -p demo

echo "== 1. generate 64 held-out street signs (names never seen in training)"
$SEQOCR synth --n 64 --split test --seed 1 --out demo/test --no-progress

echo "== 2. train the tiny default model on generated signs for a few minutes"
$SEQOCR train --config configs/tiny.yaml --set train.out_dir=demo/run --set train.steps=${DEMO_STEPS:-600}

echo "== 3. evaluate on the held-out set"
$SEQOCR eval --checkpoint demo/run/last.pt --data demo/test/labels.tsv --no-progress

echo "== 4. read a few images"
$SEQOCR read --checkpoint demo/run/last.pt demo/test/images/000000{0,1,2,3}.png
echo "TensorBoard logs: .venv/bin/tensorboard --logdir demo/run/tb"
