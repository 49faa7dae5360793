"""Self-describing checkpoints: config, charset, weights, optimizer and step in one file, written atomically.

A checkpoint alone rebuilds its model (``load_model``): no flags need repeating, no file-name parsing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .charset import Charset
from .config import Config
from .errors import DataError

FORMAT_VERSION = 1


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DDP / torch.compile wrappers, whose state_dict keys carry no prefix."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def previous(path: Path) -> Path:
    """Where the checkpoint before ``path`` is kept (``last.pt`` -> ``last.prev.pt``)."""
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def save_checkpoint(path: str | Path, *, cfg: Config, charset: Charset, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, step: int = 0, extra: dict | None = None,
                    keep_previous: bool = False) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a crash never leaves a half file.

    With ``keep_previous`` the file being replaced is kept as ``*.prev.pt``, so a checkpoint damaged later
    (a full disk, a bad copy) still leaves the one before it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format_version": FORMAT_VERSION, "config": cfg.to_dict(), "charset": charset.to_dict(),
             "model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict() if optimizer else None,
             "step": step, "extra": extra or {}}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    if keep_previous and path.exists():
        os.replace(path, previous(path))
    os.replace(tmp, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a damaged zip/pickle
        raise DataError(f"{path}: not a readable seqocr checkpoint (truncated or corrupt: {type(e).__name__})") \
            from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path}: not a seqocr checkpoint (format_version missing or unsupported)")
    return state


def load_model(path: str | Path) -> tuple[torch.nn.Module, Config, Charset, dict[str, Any]]:
    """Rebuild the model in eval mode from a checkpoint alone."""
    from .models import build_model, num_classes_for

    state = read_checkpoint(path)
    cfg = Config.from_dict(state["config"], where=str(path))
    charset = Charset.from_dict(state["charset"])
    model = build_model(cfg.model, num_classes_for(cfg.model, len(charset)))
    model.load_state_dict(state["model"])
    model.eval()
    return model, cfg, charset, state


def read_latest_good(path: Path, warn=print) -> dict[str, Any]:
    """The newest readable of ``path`` and its previous copy; a damaged one is named and skipped."""
    candidates = [p for p in (path, previous(path)) if p.exists()]
    if not candidates:
        raise DataError(f"--resume: no checkpoint at {path}; start without --resume")
    errors = []
    for p in candidates:
        try:
            state = read_checkpoint(p)
        except DataError as e:
            errors.append(str(e))
            warn(f"warning: {e}; trying the previous checkpoint")
            continue
        return state
    raise DataError("; ".join(errors))
