#!/usr/bin/env bash
# Proves the ONNX Runtime reader needs no torch: a fresh venv with `pip install ".[onnx]"` (no torch) reads the
# bundled sample signs with the shipped ONNX model, named or by default. Run by .ci/run after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-/tmp/seqocr-torch-free}
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q ".[onnx]"
if "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "check_torch_free: torch is installed in $VENV; the check would prove nothing" >&2
  exit 1
fi
"$VENV/bin/seqocr" read --onnx src/seqocr/resources/model/seqocr-default.onnx --json \
    src/seqocr/resources/samples/sign-*.png
# With no model named, the shipped ONNX model is used (no torch to read the safetensors one).
"$VENV/bin/seqocr" read src/seqocr/resources/samples/sign-0000000.png
echo "check_torch_free: read with ONNX Runtime in a venv without torch: OK"
