"""Model registry: ``build_model(cfg, num_classes)`` picks the architecture named by ``cfg.name``.

:data:`MODELS` is the one list of model names (the config and the command line check against it); it names
each architecture's module and class, so this package imports torch only when a model is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import ModelConfig
    from .base import Seq2SeqOCR

MODELS: dict[str, tuple[str, str]] = {"default": ("default", "DefaultOCR"), "reference": ("reference", "ReferenceOCR")}

__all__ = ["MODELS", "build_model", "num_classes_for", "parameter_count"]


def num_classes_for(cfg: ModelConfig, charset_size: int) -> int:
    """Output classes: the charset's tokens, padded up to ``cfg.vocab_size`` (the reference's 10,000)."""
    return max(charset_size, cfg.vocab_size)


def build_model(cfg: ModelConfig, num_classes: int) -> Seq2SeqOCR:
    try:
        module, name = MODELS[cfg.name]
    except KeyError:
        raise ConfigError(f"unknown model {cfg.name!r}; choose from {', '.join(sorted(MODELS))}") from None
    return getattr(importlib.import_module(f".{module}", __name__), name)(cfg, num_classes)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
