"""seqocr: attention sequence-to-sequence OCR for multi-view street-name signs.

``from seqocr import OnnxReader`` gives the torch-free reader (ONNX Runtime; ``OnnxReader()`` reads with the shipped
model), ``from seqocr import Predictor`` the PyTorch one (:class:`seqocr.inference.predictor.Predictor`). Each is
imported on first use, so ``import seqocr`` needs neither torch nor onnxruntime.
"""

from .install import install_hint
from .version import __version__

__all__ = ["OnnxReader", "Predictor", "__version__"]

TORCH_MISSING = (f"seqocr.Predictor needs torch, which is not installed: {install_hint('torch')} (or read without "
                 "torch: seqocr.OnnxReader())")


def __getattr__(name: str):
    if name == "Predictor":
        try:
            import torch  # noqa: F401 - only to tell a missing torch from a broken seqocr
        except ImportError:
            raise ImportError(TORCH_MISSING, name="torch") from None
        from .inference.predictor import Predictor

        return Predictor
    if name == "OnnxReader":
        from .inference.onnx_reader import OnnxReader

        return OnnxReader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
