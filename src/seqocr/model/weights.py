"""Reading and writing a model's weights: a training checkpoint's (``.pt``, see :mod:`seqocr.train.checkpoint`)
or exported safetensors, each self-describing (config and charset inside).

A file alone rebuilds its model (``load_model``): no flags need repeating, no file-name parsing.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..charset import Charset
from ..config import Config, validate
from ..errors import DataError, one_line
from ..fsutil import atomic_write
from ..imaging.preprocess import DEFAULT_MAX_PIXELS

FORMAT_VERSION = 1


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DDP / torch.compile wrappers, whose state_dict keys carry no prefix."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; name the checkpoint file in it (e.g. {path / 'last.pt'})")
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # no pickle code runs: tensors and plain data
    except pickle.UnpicklingError as e:
        if "GLOBAL" not in str(e):  # torch names the global it refused; without one, a damaged or foreign file
            raise DataError(f"{path}: not a readable seqocr checkpoint (truncated or corrupt: UnpicklingError)") \
                from None
        # weights_only met a Python object: a pickle that would run code when loaded
        raise DataError(f"{path}: refused: it holds Python objects, not just weights (loading it could run code)") \
            from None
    except Exception as e:  # noqa: BLE001 - torch raises many types for a damaged zip/pickle
        raise DataError(f"{path}: not a readable seqocr checkpoint (truncated or corrupt: {type(e).__name__})") \
            from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path}: not a seqocr checkpoint (format_version missing or unsupported)")
    missing = [k for k in ("config", "charset", "model") if not isinstance(state.get(k), dict)]
    if missing:
        raise DataError(f"{path}: a seqocr checkpoint without {', '.join(missing)}")
    return with_detector(state, path)


def with_detector(state: dict[str, Any], path: Path) -> dict[str, Any]:
    """``state`` with the text detector's weights added where its model crops its views to their text
    (``model.crop: text``) and the file holds none: a file written before the detector was part of the model,
    when it ran from the rapidocr wheel's ONNX file; its weights are read from that file now (unchanged, frozen)."""
    model = state["config"].get("model") if isinstance(state["config"], dict) else None
    if not isinstance(model, dict) or model.get("crop") != "text" or any(k.startswith("detector.") for k in state["model"]):
        return state
    from .ppocr_det import PPOCRDetector, load_onnx_detector_weights

    detector = PPOCRDetector()
    try:
        load_onnx_detector_weights(detector)
    except DataError as e:
        raise DataError(f"{path}: written before the text detector was part of the model; {e}") from None
    return {**state, "model": {**state["model"], **{f"detector.{k}": v for k, v in detector.state_dict().items()}}}


SHIPPED = Path(__file__).parent.parent / "resources" / "model" / "seqocr-default.safetensors"


def shipped_model() -> Path:
    """The model that ships inside the package (used when no checkpoint is given)."""
    if not SHIPPED.is_file():
        raise DataError(f"no --checkpoint given and this install has no shipped model ({SHIPPED} is missing)")
    return SHIPPED


def export_weights(checkpoint: str | Path, out: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint's weights as safetensors (no pickle), with the config, the charset and ``info`` (training
    facts for the model card) as JSON strings in the file's metadata: the file alone rebuilds the model."""
    return write_weights(read_checkpoint(checkpoint), out, info)


def write_weights(state: dict[str, Any], out: str | Path, info: dict[str, Any] | None = None) -> Path:
    """:func:`export_weights` of a state already read (:func:`read_any`'s shape)."""
    from safetensors.torch import save_file

    meta = {"format": "seqocr", "format_version": str(FORMAT_VERSION), "config": json.dumps(state["config"]),
            "charset": json.dumps(state["charset"], ensure_ascii=False), "step": str(state["step"]),
            "info": json.dumps(info or {}, ensure_ascii=False)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as tmp:
        save_file({k: v.contiguous() for k, v in state["model"].items()}, str(tmp), metadata=meta)
    return out


def read_weights(path: Path) -> dict[str, Any]:
    """A safetensors file written by :func:`export_weights`, in the shape of :func:`read_checkpoint`'s result."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            weights = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no items()
    except (SafetensorError, OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable safetensors file ({e})") from None
    if meta.get("format") != "seqocr":
        raise DataError(f"{path}: a safetensors file without seqocr metadata (config and charset)")
    try:
        state = {"config": json.loads(meta["config"]), "charset": json.loads(meta["charset"]), "model": weights,
                 "step": int(meta.get("step", 0)), "info": json.loads(meta.get("info", "{}"))}
    except (KeyError, ValueError, RecursionError) as e:  # ValueError: bad JSON or a step that is no number
        raise DataError(f"{path}: damaged seqocr metadata ({type(e).__name__}: {one_line(e, 120)})") from None
    if not isinstance(state["config"], dict) or not isinstance(state["charset"], dict):
        raise DataError(f"{path}: damaged seqocr metadata (config and charset must be JSON objects)")
    return with_detector(state, path)


def read_any(path: Path) -> dict[str, Any]:
    """A checkpoint (``.pt``) or exported weights (``.safetensors``), in :func:`read_checkpoint`'s shape."""
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise DataError(f"{path}: weights file not found")
        return read_weights(path)
    return read_checkpoint(path)


MAX_STEPS = 1024  # decoder steps a stored config may ask for (FSNS models use 38, the reference 64)


def load_model(path: str | Path | None = None, reading: Mapping[str, Any] | None = None
               ) -> tuple[torch.nn.Module, Config, Charset, dict[str, Any]]:
    """Rebuild the model in eval mode from a checkpoint (``.pt``) or exported weights (``.safetensors``) alone;
    ``None`` loads the shipped model. ``reading``: reading options (name -> value, e.g. the default model's
    ``{"read_views": 3}``), the same weights read another way; each is its architecture's to check
    (:func:`seqocr.model.with_reading`), and the returned config carries them."""
    from . import build_model, check_config, num_classes_for, with_reading

    path = Path(path) if path is not None else shipped_model()
    state = read_any(path)
    cfg = Config.from_dict(state["config"], where=str(path))
    cfg.model = with_reading(cfg.model, reading)
    validate(cfg)
    check_config(cfg)
    m = cfg.model
    if m.max_len > MAX_STEPS or m.view_height * m.view_width * m.num_views > DEFAULT_MAX_PIXELS:
        raise DataError(f"{path}: model config out of range ({m.max_len} decoder steps, {m.num_views} views of "
                        f"{m.view_height}x{m.view_width}); a reader would loop or allocate without bound")
    try:
        charset = Charset.from_dict(state["charset"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DataError(f"{path}: damaged charset ({type(e).__name__}: {one_line(e, 120)})") from None
    num_classes = num_classes_for(m, len(charset))
    with torch.device("meta"):  # shapes only, no memory: a config that lies about sizes is refused before any
        expected = build_model(m, num_classes).state_dict()  # allocation it asks for
    check_weights(path, state["model"], expected)
    model = build_model(m, num_classes)
    model.load_state_dict(state["model"])
    model.eval()
    return model, cfg, charset, state


def check_weights(path: Path, weights: dict, expected: dict[str, torch.Tensor]) -> None:
    """DataError unless ``weights`` has exactly the tensors ``expected`` names, of the same shapes and dtype kinds,
    so that the model built next can load them: the file's config and its tensors must agree."""
    missing, unexpected = sorted(expected.keys() - weights.keys()), sorted(weights.keys() - expected.keys())
    if missing or unexpected:
        names = "; ".join(f"{what} {', '.join(map(str, keys[:3]))}" + (" ..." if len(keys) > 3 else "")
                          for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys)
        raise DataError(f"{path}: weights do not match the model its config describes ({one_line(names, 200)})")
    for name, want in expected.items():
        got = weights[name]
        if not isinstance(got, torch.Tensor) or got.shape != want.shape \
                or got.dtype.is_floating_point != want.dtype.is_floating_point:
            found = f"{tuple(got.shape)} {got.dtype}" if isinstance(got, torch.Tensor) else type(got).__name__
            raise DataError(f"{path}: weight {name} is {found}; the model its config describes needs "
                            f"{tuple(want.shape)} {want.dtype}")
