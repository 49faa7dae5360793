"""The PyTorch reader's former home, kept for ``from seqocr.predictor import Predictor``; it lives in
:mod:`seqocr.inference.predictor`."""

from .inference.predictor import Predictor

__all__ = ["Predictor"]
