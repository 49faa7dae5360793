"""The package's Python API (issue 23): ``seqocr.OnnxReader()`` reads with the shipped model, and
``seqocr.Predictor`` without torch is one ImportError line naming the extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import seqocr

SAMPLES = Path(seqocr.__file__).parent / "resources" / "samples"


def test_onnx_reader_defaults_to_the_shipped_model():
    reader = seqocr.OnnxReader()
    assert reader.path.name == "seqocr-default.onnx"
    readings = reader.read(sorted(SAMPLES.glob("sign-*.png"))[:2])
    assert len(readings) == 2 and all(r.text and 0 < r.confidence <= 1 for r in readings)


def test_predictor_without_torch_is_one_import_error_line_naming_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"  # what a machine without torch answers to `import torch`
            "import seqocr\n"
            "try:\n    from seqocr import Predictor\n"
            "except ImportError as e:\n    print(repr(str(e)), e.__suppress_context__, e.__cause__)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == (repr('seqocr.Predictor needs torch, which is not installed: pip install '
                                     'torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu && pip install '
                                     '"seqocr[torch]" (or read without torch: seqocr.OnnxReader())') + " True None")


def test_predictor_with_torch_is_the_pytorch_reader():
    from seqocr.inference.predictor import Predictor

    assert seqocr.Predictor is Predictor
