"""Model registry: ``build_model(cfg, num_classes)`` picks the architecture named by ``cfg.name``."""

from __future__ import annotations

from collections.abc import Callable

from ..config import ModelConfig
from ..errors import ConfigError
from .base import Seq2SeqOCR, mask_after_eos
from .default import DefaultOCR
from .reference import ReferenceOCR

MODELS: dict[str, Callable[[ModelConfig, int], Seq2SeqOCR]] = {"default": DefaultOCR, "reference": ReferenceOCR}

__all__ = ["MODELS", "Seq2SeqOCR", "build_model", "mask_after_eos", "num_classes_for", "parameter_count"]


def num_classes_for(cfg: ModelConfig, charset_size: int) -> int:
    """Output classes: the charset's tokens, padded up to ``cfg.vocab_size`` (the reference's 10,000)."""
    return max(charset_size, cfg.vocab_size)


def build_model(cfg: ModelConfig, num_classes: int) -> Seq2SeqOCR:
    try:
        factory = MODELS[cfg.name]
    except KeyError:
        raise ConfigError(f"unknown model {cfg.name!r}; choose from {', '.join(sorted(MODELS))}") from None
    return factory(cfg, num_classes)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
