"""Experiment configuration: typed dataclasses read from YAML, with ``--set key=value`` overrides.

Unknown keys and values of the wrong type are :class:`ConfigError`s that name the key, never silently ignored (a
``model`` key of another registered architecture is not unknown: the one named sets it aside, seqocr.model.own_keys).
A file may extend another (``base: other.yaml``) and list only what it changes (:func:`config_chain`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from .errors import ConfigError
from .fsns import DECODER_STEPS
from .shares import Shares

CROPS = ("", "text", "lines")  # model.crop: how each view is cut before it is resized (seqocr.imaging.preprocess)


@dataclass(slots=True)  # no attribute outside the fields: an architecture's key set as one would be lost
class ModelConfig:
    """What every architecture reads; each architecture's own settings (its backbone, attention size, ...) are
    flat keys of the same YAML section, kept in :attr:`options` and read by the architecture, beside its code
    (``Settings`` of each module of :mod:`seqocr.model`, which also checks them)."""
    name: str = "default"            # an architecture of seqocr.model.MODELS: "default" (ours) or "reference" (the
                                     # MindSpore model, to the letter)
    view_height: int = 64            # each of the views is resized to view_height × view_width
    view_width: int = 64
    num_views: int = 4
    max_len: int = DECODER_STEPS     # decoder steps; a label holds at most max_len - 1 characters (+ EOS)
    vocab_size: int = 0              # pad the output layer to this many classes (reference: 10000); 0 = charset
    hidden: int = 128                # encoder and decoder hidden size
    dropout: float = 0.1
    teacher_forcing: float = 1.0     # probability, drawn per sample, that a sample is teacher-forced
    crop: str = ""                   # "" = each view read whole; "text" = each view cut to its text first
                                     # (PP-OCRv6's detector, seqocr.imaging.textcrop), in training and in every reader;
                                     # "lines" = each view rebuilt from its lines, 48 px each (seqocr.imaging.textlines)
    options: dict[str, Any] = field(default_factory=dict)  # the architecture's keys, as given (not a YAML key)
    sources: dict[str, str] = field(default_factory=dict, repr=False, compare=False)  # where each option was given

    def get(self, key: str, default: Any = None) -> Any:
        """A key of this section: a shared field, else the architecture's option as given (else ``default``)."""
        return getattr(self, key) if key in SHARED_MODEL_KEYS else self.options.get(key, default)

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with ``changes``, shared fields and the architecture's options alike."""
        shared = {k: v for k, v in changes.items() if k in SHARED_MODEL_KEYS}
        options = {**self.options, **{k: v for k, v in changes.items() if k not in SHARED_MODEL_KEYS}}
        return dataclasses.replace(self, **shared, options=options, sources=dict(self.sources))

    def to_dict(self) -> dict[str, Any]:
        """The YAML section: the shared fields and the options side by side."""
        d = {key: getattr(self, key) for key in SHARED_MODEL_KEYS}
        return copy.deepcopy({**d, **self.options})


@dataclass
class DataConfig:
    train: str = "synth"             # "synth" (the generator) or a labels file (path<TAB>text, paths relative)
    val: str = "synth"               # held-out set, same forms; "" = none
    charset: str = "fsns"            # "fsns" (packaged) or a charset file
    synth_seed: int = 0              # generator seed for training data (held-out data uses split "test")
    synth_invented: float = 0.0      # share of generated training signs whose names are invented (random letters or
                                     # shuffled syllables): no prior over names can guess them
    synth_independent: float = 0.0   # share of generated training signs whose street type, particle and name are
                                     # drawn independently (data/synth/names.py independent_name): no prior over
                                     # types or particles can guess them
    synth_extras: float = 0.0        # share of generated training plates with a secondary line under the name
                                     # (house numbers, a person's profession and years, the district), never read
    synth_small_names: float = 0.0   # share of generated training plates whose first name (Victor in Rue Victor
                                     # Hugo) is painted small, above the surname or before it (data/synth/plate.py)
    synth_clutter: float = 0.0       # share of generated training signs with what is not the name beside it: a
                                     # second sign in the scene, an arrow on the plate (data/synth/clutter.py)
    synth_numbers: float = 0.0       # share of generated training signs with a house-number plate of its own
                                     # beside the name plate (clutter.house_number)
    synth_few_views: float = 0.0     # share of generated training signs photographed 1, 2 or 3 times, not 4 (the
                                     # rest of the strip FSNS's noise filler; the plain set has 5 % of them)
    synth_fonts: float = 0.0         # share of generated training signs painted in one of 8 more typefaces (serif,
                                     # geometric, wide, regular weights) than the plain set's five condensed bold sans
    synth_accents: float = 0.0       # share of generated training signs whose capitals are painted without their
                                     # accents (or with another accent), the label keeping the map's form
    synth_legibility: float = 0.0    # share of generated training signs at the legibility limit: every view far and
                                     # blurred (capitals 5-7 px tall as the camera recorded them)
    synth_sticker: float = 0.0       # share of generated training plates with a sticker or a smear of paint over
                                     # part of one word (data/synth/cover.py), the label keeping the word
    synth_one_view: float = 0.0      # share of generated training signs photographed once: one real view, the
                                     # other three tiles FSNS's noise filler
    synth_oblique: float = 0.0       # share of generated training signs seen at a sharp angle (35-55 degrees from
                                     # facing the camera) in every view: narrowed letters, one edge taller
    synth_person: float = 0.0        # share of generated training signs named after a person: street type, first
                                     # name and surname (Rue Victor Hugo), drawn by a generator of their own
    val_size: int = 256              # held-out generated samples
    augment: bool = True             # the reference's per-view crop / interpolation / colour jitter
    augment_on: str = "workers"      # where it runs: "workers" (Pillow, per sample) or "device" (batched tensor ops on
                                     # the training device, train/augment.py: workers only draw; for GPUs)
    workers: int = 1                 # DataLoader worker processes
    max_skip_fraction: float = 0.01  # stop when more than this fraction of a dataset's samples are bad

    def shares(self) -> Shares:
        """The ``synth_*`` shares of the generated training signs, as the generator takes them."""
        return Shares(**{name: getattr(self, f"synth_{name}") for name in Shares.names()})


def is_synth(source: str) -> bool:
    """Whether a data source names the generator: ``synth`` or ``synth:key=value,...`` (a path such as
    ``synthetic/labels.tsv`` does not)."""
    return source == "synth" or source.startswith("synth:")


@dataclass
class TrainConfig:
    steps: int = 1000
    max_minutes: float = 0.0         # stop (and checkpoint) after this much wall-clock time; 0 = no limit
    batch_size: int = 32
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    schedule: str = "cosine"         # "constant" (reference) or "cosine" (linear warm-up, cosine decay)
    warmup_steps: int = 200
    min_lr_ratio: float = 0.05
    grad_clip: float = 5.0           # 0 = off (reference)
    max_bad_steps: int = 5           # stop after this many non-finite steps in a row (each is skipped)
    loss: str = "masked_mean"        # "masked_mean" (per-token, PAD masked) or "reference" (sum over steps, no mask)
    label_smoothing: float = 0.0
    bf16: bool = False               # bf16 autocast
    seed: int = 1
    log_every: int = 10
    ckpt_every: int = 500
    eval_every: int = 0              # 0 = only at the end
    out_dir: str = "runs/default"
    init_from: str = ""              # start from these weights (.pt or .safetensors, or "shipped": the packaged
                                     # model), whose model config the run takes; a different data.charset resizes
                                     # the token layers (train/finetune.py); fresh optimizer and schedule.
                                     # --resume continues its own run instead
    threads: int = 0                 # torch intra-op threads; 0 = leave PyTorch's default
    backbone_lr_scale: float = 0.01  # a pretrained backbone's trainable stages learn at lr × this
    l2_sp: float = 0.0               # weight α of the L2-SP penalty (Li et al., ICML 2018): α/2 · Σ ‖w − w₀‖² over
                                     # the pretrained backbone's trainable stages, w₀ its published weights (not a
                                     # checkpoint's): more stages can train without drifting from what they knew
    attention_loss: float = 0.0      # weight of the glyph attention loss (losses.glyph_attention_loss; FAN, Cheng
                                     # et al. 2017): each character's attention pulled onto its glyph's cells;
                                     # needs generated training data (the generator knows every glyph's box)
    char_map_loss: float = 0.0       # weight of the character-map loss (losses.char_map_loss; CA-FCN, Liao et al.
                                     # 2019): each feature cell classified as the glyph on it or background; needs
                                     # model.char_map and generated training data
    device: str = ""                 # "cpu", "cuda", "cuda:N"; "" = CUDA when there is one, else CPU

    @property
    def glyph_losses(self) -> bool:
        """Whether a loss needs the generator's glyph boxes (attention_loss, char_map_loss)."""
        return bool(self.attention_loss or self.char_map_loss)


SHARED_MODEL_KEYS = frozenset(f.name for f in dataclasses.fields(ModelConfig)) - {"options", "sources"}


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # the keys a user gave ("model.hidden"), by the YAML file or --set; load_config fills it; not part of the config
    given: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "data": dataclasses.asdict(self.data),
                "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> Config:
        cfg = cls()
        apply_dict(cfg, d, where)
        return cfg


def _type_of(obj: Any, name: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    return hints[name]


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check ``value`` against the field type ``tp``; ints are accepted for floats. Raises ConfigError."""
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {key} must be a list, got {value!r}")
        return [_coerce(v, item_tp, key, where) for v in value]
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _coerce(value, arg, key, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {key} has the wrong type: {value!r}")
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp is type(None) and value is None:
        return None
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} must be {tp.__name__}, got {value!r}")
    return value


def _set(cfg: Config, dotted: str, value: Any, where: str) -> None:
    section_name, _, key = dotted.partition(".")
    sections = {f.name for f in dataclasses.fields(cfg)}
    if section_name not in sections or not key:
        raise ConfigError(f"{where}: unknown config key {dotted!r} (sections: {', '.join(sorted(sections))})")
    section = getattr(cfg, section_name)
    if section_name == "model" and key not in SHARED_MODEL_KEYS:  # the architecture's: it checks them
        section.options[key] = copy.deepcopy(value)                 # (seqocr.model.check_config)
        section.sources[key] = where
        return
    names = {f.name for f in dataclasses.fields(section)}
    if key not in names:
        raise ConfigError(f"{where}: unknown config key {dotted!r}; {section_name} has {', '.join(sorted(names))}")
    setattr(section, key, _coerce(value, _type_of(section, key), dotted, where))


def apply_dict(cfg: Config, d: dict[str, Any], where: str) -> None:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {type(d).__name__}")
    for section, values in d.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: section {section!r} must be a mapping")
        for key, value in values.items():
            _set(cfg, f"{section}.{key}", value, where)


def _read_yaml(path: Path) -> dict[str, Any]:
    """One config file's mapping of sections (``base`` included), each reading error a one-line ConfigError."""
    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(d).__name__}")
    return d


def config_chain(path: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """The files a config is read from, the root first: each names the one it extends with ``base:`` (a path
    relative to its own folder) and holds only what it changes. A missing base or a cycle is a ConfigError."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    path = Path(path)
    while True:
        d = dict(_read_yaml(path))
        chain.insert(0, (path, d))
        base = d.pop("base", None)
        if base is None:
            return chain
        if not isinstance(base, str) or not base:
            raise ConfigError(f"{path}: base must name a config file, got {base!r}")
        nxt = path.parent / base
        seen = [p.resolve() for p, _ in chain]
        if nxt.resolve() in seen:
            loop = " -> ".join(str(p) for p, _ in reversed(chain))
            raise ConfigError(f"{path}: base {base} makes a cycle ({loop} -> {nxt})")
        if not nxt.is_file():  # not found, or a folder or device that is no config
            raise ConfigError(f"{path}: base {base} not found ({nxt})")
        path = nxt


def load_config(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Read a YAML config (``None`` = all defaults), the files it extends first (``base:``, :func:`config_chain`),
    and apply ``key=value`` overrides (YAML-typed values). Each key given is set where it was given, so an error
    names the file that holds it; a later file's key replaces an earlier one's."""
    cfg, given = Config(), set()
    for file, d in config_chain(path) if path is not None else ():
        apply_dict(cfg, d, str(file))
        given |= {f"{section}.{key}" for section, values in d.items() for key in values}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        _set(cfg, key.strip(), value, f"--set {item}")
        given.add(key.strip())
    cfg.given = frozenset(given)
    validate(cfg)
    return cfg


def check_numbers(section: str, values: Any) -> None:
    """Numbers a YAML file can hold but no setting can use, in a dataclass of settings: NaN, infinities, integers
    past 2**31 (found by fuzzing: ``lr: .nan`` trained nothing, ``hidden: 1e20``-sized integers failed deep inside
    torch)."""
    for f in dataclasses.fields(values):
        value = getattr(values, f.name)
        for i, v in enumerate(value if isinstance(value, list) else [value]):
            key = f"{section}.{f.name}" + (f"[{i}]" if isinstance(value, list) else "")
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"{key} must be a finite number, got {v}")
            if isinstance(v, int) and abs(v) >= 2**31:
                raise ConfigError(f"{key} is out of range: {v}")


def parse_options(settings: type, m: ModelConfig) -> Any:
    """An architecture's own settings (``settings``: a dataclass of them with their defaults) from the options
    of ``m``, each checked like a shared key; an option it lacks is a :class:`ConfigError` naming where it was
    given (:func:`seqocr.model.own_keys` has taken out those of the other architectures first)."""
    out, names = settings(), {f.name for f in dataclasses.fields(settings)}
    for key, value in m.options.items():
        where = m.sources.get(key, "config")
        if key not in names:
            raise ConfigError(f"{where}: unknown config key 'model.{key}'; model {m.name} has "
                              f"{', '.join(sorted(SHARED_MODEL_KEYS | names))}")
        setattr(out, key, _coerce(value, _type_of(out, key), f"model.{key}", where))
    check_numbers("model", out)
    return out


def check_signs(positive: dict[str, float], at_least_zero: dict[str, float]) -> None:
    """Each value of ``positive`` above zero, each of ``at_least_zero`` not below; a ConfigError naming the key."""
    for key, v in positive.items():
        if v <= 0:
            raise ConfigError(f"{key} must be positive, got {v}")
    for key, v in at_least_zero.items():
        if v < 0:
            raise ConfigError(f"{key} must not be negative, got {v}")


def validate(cfg: Config) -> None:
    """The checks every model shares; each architecture checks its own settings (seqocr.model.check_config)."""
    for section in dataclasses.fields(cfg):
        check_numbers(section.name, getattr(cfg, section.name))
    m, t = cfg.model, cfg.train
    if t.loss not in ("masked_mean", "reference"):
        raise ConfigError(f"train.loss: unknown loss {t.loss!r}; choose from masked_mean, reference")
    if t.schedule not in ("constant", "cosine"):
        raise ConfigError(f"train.schedule: unknown schedule {t.schedule!r}; choose from constant, cosine")
    d = cfg.data
    positive = {"train.steps": t.steps, "train.batch_size": t.batch_size, "model.max_len": m.max_len,
                "model.view_height": m.view_height, "model.view_width": m.view_width, "model.num_views": m.num_views,
                "model.hidden": m.hidden,
                "train.lr": t.lr, "train.log_every": t.log_every, "train.ckpt_every": t.ckpt_every,
                "train.max_bad_steps": t.max_bad_steps}
    at_least_zero = {"train.warmup_steps": t.warmup_steps, "train.eval_every": t.eval_every, "train.threads": t.threads,
                     "train.max_minutes": t.max_minutes, "train.weight_decay": t.weight_decay,
                     "train.grad_clip": t.grad_clip, "train.min_lr_ratio": t.min_lr_ratio, "model.vocab_size": m.vocab_size,
                     "data.workers": d.workers, "data.val_size": d.val_size, "data.max_skip_fraction": d.max_skip_fraction,
                     "train.backbone_lr_scale": t.backbone_lr_scale, "train.attention_loss": t.attention_loss,
                     "train.char_map_loss": t.char_map_loss}
    at_least_zero["train.l2_sp"] = t.l2_sp
    for name, share in asdict(d.shares()).items():
        at_least_zero[f"data.synth_{name}"] = share
    check_signs(positive, at_least_zero)
    if t.glyph_losses and not is_synth(d.train):
        raise ConfigError("train.attention_loss and train.char_map_loss need generated training data (data.train: "
                          "synth): only the generator knows where each glyph is")
    if d.augment_on not in ("workers", "device"):
        raise ConfigError(f"data.augment_on: unknown place {d.augment_on!r}; choose from workers, device")
    for name, share in asdict(d.shares()).items():
        if share > 1:
            raise ConfigError(f"data.synth_{name} is a share in [0, 1], got {share}")
    for key, v in (("model.dropout", m.dropout), ("train.label_smoothing", t.label_smoothing),
                   *((f"train.betas[{i}]", b) for i, b in enumerate(t.betas))):
        if not 0.0 <= v < 1.0:
            raise ConfigError(f"{key} must be in [0, 1), got {v}")
    if m.crop not in CROPS:
        raise ConfigError(f"model.crop: unknown crop {m.crop!r}; choose from '' (the whole view), text, lines")
    if m.crop == "lines" and (m.view_height < 48 or m.view_height % 48):
        raise ConfigError(f"model.crop: lines stacks 48-px lines: model.view_height must be a multiple of 48, "
                          f"got {m.view_height}")
    if not 0.0 <= m.teacher_forcing <= 1.0:
        raise ConfigError(f"model.teacher_forcing must be in [0, 1], got {m.teacher_forcing}")
