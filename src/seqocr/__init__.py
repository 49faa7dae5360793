"""seqocr: attention sequence-to-sequence OCR for multi-view street-name signs.

``from seqocr import Predictor`` gives the PyTorch reader (:class:`seqocr.inference.predictor.Predictor`); it is
imported on first use, so ``import seqocr`` needs no torch.
"""

__version__ = "0.1.0"

__all__ = ["Predictor", "__version__"]


def __getattr__(name: str):
    if name == "Predictor":
        from .inference.predictor import Predictor

        return Predictor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
