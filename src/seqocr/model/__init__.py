"""Model registry: ``build_model(cfg, num_classes)`` picks the architecture named by ``cfg.name``.

:data:`MODELS` is the one list of model names (the command line offers them; :func:`check_config` refuses others);
it names each architecture's module and class, so this package imports torch only when one is asked for. Each
architecture owns its settings (:class:`~.base.Seq2SeqOCR`): the config keys that shape its weights
(``weight_keys``, ``fixed_keys``), the checks of its config (``check_config``) and its reading options
(``reading_keys``, set by :func:`with_reading`). The functions here hand an architecture only its own keys
(:func:`own_keys`). A new architecture is one module and one line here.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Config, ModelConfig
    from .base import Seq2SeqOCR

# name -> (module: of this package, or a dotted path to one elsewhere; class)
MODELS: dict[str, tuple[str, str]] = {"default": ("default", "DefaultOCR"), "reference": ("reference", "ReferenceOCR")}

__all__ = ["MODELS", "adopt", "architecture", "build_model", "check_config", "fixed_keys", "model_values",
           "num_classes_for", "own_keys", "parameter_count", "resume_keys", "with_reading"]


def architecture(name: str) -> type[Seq2SeqOCR]:
    """The class of the architecture called ``name`` (its module imported now)."""
    try:
        module, cls = MODELS[name]
    except KeyError:
        raise ConfigError(f"model.name: unknown model {name!r}; choose from {', '.join(sorted(MODELS))}") from None
    return getattr(importlib.import_module(module if "." in module else f".{module}", __name__), cls)


def settings_keys(name: str) -> frozenset[str]:
    """The names of the ``model:`` keys of architecture ``name``'s own settings (its ``Settings`` dataclass)."""
    return frozenset(f.name for f in dataclasses.fields(architecture(name).Settings))


def own_keys(m: ModelConfig) -> ModelConfig:
    """``m`` without the options that only another registered architecture reads: a config of one architecture
    may carry another's keys (one written when every model's section held every key, a config switched to
    another ``model.name``) and still load; a key that no registered architecture reads stays, and is refused."""
    mine = settings_keys(m.name)
    theirs = set().union(*(settings_keys(n) for n in MODELS if n != m.name)) - mine
    if not theirs & m.options.keys():
        return m
    return dataclasses.replace(m, options={k: v for k, v in m.options.items() if k not in theirs},
                               sources=dict(m.sources))


def with_reading(m: ModelConfig, reading: Mapping[str, Any] | None) -> ModelConfig:
    """``m`` set to read with ``reading`` (name -> value, the caller's choices as given), its architecture's own
    reading options (:meth:`~.base.Seq2SeqOCR.with_reading`: one it lacks is a :class:`ConfigError` naming it)."""
    return architecture(m.name).with_reading(m, reading) if reading else m


def check_config(cfg: Config) -> Config:
    """``cfg`` itself when its model section names a known architecture that can build and train from it
    (:meth:`~.base.Seq2SeqOCR.check_config`); :class:`ConfigError` naming the key otherwise."""
    own = own_keys(cfg.model)
    architecture(cfg.model.name).check_config(cfg if own is cfg.model else dataclasses.replace(cfg, model=own))
    return cfg


def model_values(m: ModelConfig) -> dict:
    """Every key of ``m`` its architecture reads, defaults filled in (what two model configs compare by)."""
    return architecture(m.name).values(own_keys(m))


def fixed_keys(m: ModelConfig) -> tuple[str, ...]:
    """The keys a run from a checkpoint of config ``m`` must keep (``train.init_from``): those shaping the weights."""
    return architecture(m.name).fixed_keys(own_keys(m))


def adopt(theirs: ModelConfig, mine: ModelConfig, given: set[str], where: str) -> ModelConfig:
    """The model config of a run that starts from weights of config ``theirs`` (``train.init_from``, named
    ``where``): theirs, so that a user need not repeat it, with ``mine``'s value of each key in ``given`` (those the
    run's YAML file or ``--set`` gave) that does not shape the weights (the training knobs, the reading options and,
    where the architecture allows, the view size); a given key that shapes the weights must equal theirs
    (:class:`ConfigError` otherwise). The architecture resets what was fitted to the weights
    (:meth:`~.base.Seq2SeqOCR.start_from`: the default model's calibration temperature)."""
    values, fixed = model_values(theirs), set(fixed_keys(theirs))
    for key in sorted(given & fixed):
        if mine.get(key) != values[key]:
            raise ConfigError(f"model.{key}: {mine.get(key)!r} given, but {where} has {values[key]!r}; leave "
                              f"model.{key} out (a run from init_from takes that model's config)")
    knobs = {key: mine.get(key) for key in given - fixed}
    model = architecture(theirs.name).start_from(theirs, knobs)
    model.sources.update({k: v for k, v in mine.sources.items() if k in knobs})  # where each was given
    return model


def resume_keys(m: ModelConfig) -> tuple[str, ...]:
    """The keys a run continued by ``--resume`` must keep: all but those that only change how it reads."""
    return architecture(m.name).resume_keys(own_keys(m))


def num_classes_for(cfg: ModelConfig, charset_size: int) -> int:
    """Output classes: the charset's tokens, padded up to ``cfg.vocab_size`` (the reference's 10,000)."""
    return max(charset_size, cfg.vocab_size)


def build_model(cfg: ModelConfig, num_classes: int) -> Seq2SeqOCR:
    """The architecture ``cfg.name`` names; with ``model.crop: text`` it holds PP-OCRv6's text detector too, frozen
    (``detector``: its weights travel in the model's files, and :mod:`.pixels` runs it to crop each view)."""
    model = architecture(cfg.name)(own_keys(cfg), num_classes)
    if cfg.crop == "text":
        from .ppocr_det import PPOCRDetector

        model.detector = PPOCRDetector().requires_grad_(False)
    return model


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
