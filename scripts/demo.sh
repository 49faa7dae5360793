#!/usr/bin/env bash
# The main job on a fresh machine, in a minute or two: read the bundled sample signs with the shipped model,
# then evaluate it on a fixed set of generated signs whose street names it never saw in training.
# (The sample signs are made by seqocr's own generator, not taken from FSNS.)
set -euo pipefail
cd "$(dirname "$0")/.."
SEQOCR=".venv/bin/seqocr"
SAMPLES=src/seqocr/resources/samples
mkdir -p demo

echo "== 1. read the bundled sample signs with the shipped model, beside their truth ($SAMPLES/labels.tsv)"
$SEQOCR read --json "$SAMPLES" > demo/samples.jsonl
# Each reading beside its label, so that a wrong one shows (ok: NO), then the score.
.venv/bin/python - "$SAMPLES/labels.tsv" demo/samples.jsonl <<'PY'
import json
import sys
from pathlib import Path

truth = dict(line.split("\t", 1) for line in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines() if line)
table = [("image", "truth", "reading", "confidence", "ok")]
for line in Path(sys.argv[2]).read_text(encoding="utf-8").splitlines():
    r = json.loads(line)
    name = Path(r["image"]).name
    table.append((name, truth.get(name, "?"), r["text"], f"{r['confidence']:.3f}",
                  "yes" if r["text"] == truth.get(name) else "NO"))
widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
for row in table:
    print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
print(f"exact: {sum(row[-1] == 'yes' for row in table[1:])}/{len(table) - 1}")
PY

echo
echo "== 2. evaluate the shipped model on 200 generated held-out signs"
$SEQOCR eval --data "synth:split=test,n=200,seed=1" --predictions demo/predictions.tsv --no-progress

echo
echo "Choose a confidence threshold (read/eval/serve --min-confidence X) from the risk-coverage table:"
echo "  .venv/bin/python -m benchmarks.risk_coverage --predictions demo/predictions.tsv"
echo "Train your own: .venv/bin/seqocr train --config configs/tiny.yaml   (or configs/default.yaml, configs/shipped.yaml)"
