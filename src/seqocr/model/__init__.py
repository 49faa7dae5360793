"""Model registry: ``build_model(cfg, num_classes)`` picks the architecture named by ``cfg.name``.

:data:`MODELS` is the one list of model names (the command line offers them; :func:`check_config` refuses others);
it names each architecture's module and class, so this package imports torch only when one is asked for. Each
architecture owns its settings (:class:`~.base.Seq2SeqOCR`): the config keys that shape its weights
(``weight_keys``, ``fixed_keys``) and the checks of its config (``check_config``). A new architecture is one module
and one line here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Config, ModelConfig
    from .base import Seq2SeqOCR

# name -> (module: of this package, or a dotted path to one elsewhere; class)
MODELS: dict[str, tuple[str, str]] = {"default": ("default", "DefaultOCR"), "reference": ("reference", "ReferenceOCR")}

__all__ = ["MODELS", "architecture", "build_model", "check_config", "fixed_keys", "model_values", "num_classes_for",
           "parameter_count", "resume_keys"]


def architecture(name: str) -> type[Seq2SeqOCR]:
    """The class of the architecture called ``name`` (its module imported now)."""
    try:
        module, cls = MODELS[name]
    except KeyError:
        raise ConfigError(f"model.name: unknown model {name!r}; choose from {', '.join(sorted(MODELS))}") from None
    return getattr(importlib.import_module(module if "." in module else f".{module}", __name__), cls)


def check_config(cfg: Config) -> Config:
    """``cfg`` itself when its model section names a known architecture that can build and train from it
    (:meth:`~.base.Seq2SeqOCR.check_config`); :class:`ConfigError` naming the key otherwise."""
    architecture(cfg.model.name).check_config(cfg)
    return cfg


def model_values(m: ModelConfig) -> dict:
    """Every key of ``m`` its architecture reads, defaults filled in (what two model configs compare by)."""
    return architecture(m.name).values(m)


def fixed_keys(m: ModelConfig) -> tuple[str, ...]:
    """The keys a run from a checkpoint of config ``m`` must keep (``train.init_from``): those shaping the weights."""
    return architecture(m.name).fixed_keys(m)


def resume_keys(m: ModelConfig) -> tuple[str, ...]:
    """The keys a run continued by ``--resume`` must keep: all but those that only change how it reads."""
    return architecture(m.name).resume_keys(m)


def num_classes_for(cfg: ModelConfig, charset_size: int) -> int:
    """Output classes: the charset's tokens, padded up to ``cfg.vocab_size`` (the reference's 10,000)."""
    return max(charset_size, cfg.vocab_size)


def build_model(cfg: ModelConfig, num_classes: int) -> Seq2SeqOCR:
    """The architecture ``cfg.name`` names; with ``model.crop: text`` it holds PP-OCRv6's text detector too, frozen
    (``detector``: its weights travel in the model's files, and :mod:`.pixels` runs it to crop each view)."""
    model = architecture(cfg.name)(cfg, num_classes)
    if cfg.crop == "text":
        from .ppocr_det import PPOCRDetector

        model.detector = PPOCRDetector().requires_grad_(False)
    return model


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
