#!/usr/bin/env bash
# The main job on a fresh machine, in a minute or two: read the bundled sample signs with the shipped model,
# then evaluate it on a fixed set of generated signs whose street names it never saw in training.
# (The sample signs are made by seqocr's own generator, not taken from FSNS.)
set -euo pipefail
cd "$(dirname "$0")/.."
SEQOCR=".venv/bin/seqocr"
SAMPLES=src/seqocr/resources/samples
mkdir -p demo

echo "== 1. read the bundled sample signs with the shipped model (labels: $SAMPLES/labels.tsv)"
$SEQOCR read "$SAMPLES"/sign-*.png

echo
echo "== 2. evaluate the shipped model on 200 generated held-out signs"
$SEQOCR eval --data "synth:split=test,n=200,seed=1" --predictions demo/predictions.tsv --no-progress

echo
echo "Train your own: .venv/bin/seqocr train --config configs/tiny.yaml   (or configs/default.yaml, configs/shipped.yaml)"
