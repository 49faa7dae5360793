#!/usr/bin/env bash
# Proves the ONNX Runtime reader needs no torch and no rapidocr: a fresh venv with `pip install ".[onnx]"` alone reads
# the bundled sample signs with the shipped ONNX model, named or by default. Run by .ci/run after the tests.
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
# The shipped model cuts each view to its text with PP-OCRv6's detector, whose weights are in the model's own files
# and whose crop is in its ONNX graph: reading needs no rapidocr wheel (only training from the published weights does).
if "$VENV/bin/python" -c "import rapidocr" 2>/dev/null; then
  echo "check_torch_free: rapidocr is installed in $VENV; the check would prove nothing" >&2
  exit 1
fi
"$VENV/bin/seqocr" read --onnx src/seqocr/resources/model/seqocr-default.onnx --json \
    src/seqocr/resources/samples/sign-*.png
# The .onnx file stands alone: examples/read_onnx.py (onnxruntime, numpy and Pillow, nothing from seqocr) reads the
# samples as seqocr read does without the language model beside the file (greedy).
diff <("$VENV/bin/python" examples/read_onnx.py src/seqocr/resources/model/seqocr-default.onnx \
         src/seqocr/resources/samples/sign-*.png) \
     <("$VENV/bin/seqocr" read --no-lm src/seqocr/resources/samples/sign-*.png | cut -f1,2)
# With no model named, the shipped ONNX model is used (no torch to read the safetensors one).
"$VENV/bin/seqocr" read src/seqocr/resources/samples/sign-0000000.png
# The Python API without torch: OnnxReader() reads with the shipped model; Predictor names the extra in one line.
"$VENV/bin/python" - <<'PYEOF'
import sys
from pathlib import Path

import seqocr

sample = sorted(Path("src/seqocr/resources/samples").glob("sign-*.png"))[0]
reading = seqocr.OnnxReader().read([sample])[0]
assert reading.text and 0 < reading.confidence <= 1, reading
try:
    from seqocr import Predictor  # noqa: F401
except ImportError as e:
    want = 'seqocr.Predictor needs torch, which is not installed: pip install torch==2.13.0 --index-url'
    if not str(e).startswith(want) or e.__cause__ is not None or e.__suppress_context__ is not True:
        sys.exit(f"check_torch_free: seqocr.Predictor without torch raised: {e!r}")
else:
    sys.exit("check_torch_free: seqocr.Predictor imported without torch")
print(f"check_torch_free: seqocr.OnnxReader() read {sample.name} as {reading.text!r}")
PYEOF
# A command that needs torch says which extra to install, in one line, and exits 1 (no traceback).
want='seqocr: error: seqocr train needs torch, which is not installed: pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu && pip install "seqocr[torch]"'
status=0
got=$("$VENV/bin/seqocr" train --config configs/tiny.yaml 2>&1) || status=$?
if [[ $status != 1 || "$got" != "$want" ]]; then
  echo "check_torch_free: seqocr train without torch exited $status and said: $got" >&2
  exit 1
fi
# The data libraries are an extra of their own: without them, pack names it.
want='seqocr: error: seqocr pack needs lmdb, which is not installed: pip install "seqocr[data]"'
status=0
got=$("$VENV/bin/seqocr" pack --synth 2 --out "$VENV/db" 2>&1) || status=$?
if [[ $status != 1 || "$got" != "$want" ]]; then
  echo "check_torch_free: seqocr pack without the data extra exited $status and said: $got" >&2
  exit 1
fi
echo "check_torch_free: read with ONNX Runtime in a venv without torch or rapidocr, train names the torch extra and" \
  "pack the data extra: OK"
