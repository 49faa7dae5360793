"""Training checkpoints: the model's weights with what training needs to continue (optimizer, step, RNG state),
in one file written atomically. Reading one back as a model is :mod:`seqocr.model.weights`' job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..charset import Charset
from ..config import Config
from ..errors import DataError
from ..fsutil import atomic_write
from ..model.weights import FORMAT_VERSION, read_checkpoint, unwrap


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
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            os.replace(path, previous(path))



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
