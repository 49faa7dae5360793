"""Starting a run from a trained model (``train.init_from``), fine-tuning included.

* The run takes the model config of the checkpoint it starts from (:func:`adopt_model_config`): a user need not
  repeat it. A model key the user gives anyway must agree with the checkpoint on the architecture; the keys that
  only change how the model trains (dropout, teacher forcing, view dropout, trainable stages) are the user's.
* A model on the pretrained backbone (``model.backbone: ppocrv6``) may also change its view size (``model.view_height``,
  ``model.view_width``): its convolutions read any size, and the one tensor shaped by it, the row embedding, is
  interpolated to the new number of rows (:func:`resize_rows`): fine-tuning at a higher resolution.
* A different charset (``data.charset``) keeps every layer and resizes the two indexed by token, the embedding and
  the output layer (:func:`resize_token_layers`): the rows of the characters both charsets share are copied,
  matched by character (PAD, GO and EOS to themselves), and a new character's rows keep the fresh model's
  default initialisation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..charset import SPECIALS, Charset
from ..config import Config
from ..errors import DataError
from ..model import adopt, weights
from ..model.weights import read_any

SHIPPED = "shipped"  # train.init_from: shipped = the model packaged with seqocr
def init_source(spec: str) -> Path:
    """The file ``train.init_from`` names: a path, or ``shipped`` for the packaged model."""
    if spec != SHIPPED:
        return Path(spec)
    if not weights.SHIPPED.is_file():
        raise DataError(f"train.init_from: shipped: this install has no shipped model ({weights.SHIPPED} is missing)")
    return weights.SHIPPED


def adopt_model_config(cfg: Config, state: dict[str, Any] | None = None) -> Config:
    """``cfg`` with the model section of the checkpoint ``train.init_from`` names (``state``: already read), as
    the architecture adopts it (:func:`seqocr.model.adopt`): the keys ``cfg.given`` (the YAML file or ``--set``)
    names that shape the weights must equal the checkpoint's, the others are the run's; what was fitted to the
    weights (a calibration) starts afresh."""
    path = init_source(cfg.train.init_from)
    state = state if state is not None else read_any(path)
    theirs = Config.from_dict(state["config"], where=str(path)).model
    given = {k.partition(".")[2] for k in cfg.given if k.startswith("model.")}
    adopted = dataclasses.replace(cfg, model=adopt(theirs, cfg.model, given, f"train.init_from {path}"))
    adopted.given = cfg.given
    return adopted


def token_pairs(old: Charset, new: Charset) -> dict[int, int]:
    """Token id in ``new`` -> token id in ``old``, for the specials and every character of ``new`` that ``old``
    encodes (by character: ``old``'s variants count, so FSNS's ``'`` finds the row of ``‘``)."""
    pairs = {i: i for i in range(len(SPECIALS))}
    for k, char in enumerate(new.chars):
        if char in old.aliases:
            pairs[k + new.offset] = old.aliases[char]
    return pairs


def resize_token_layers(state: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor], names: tuple[str, ...],
                        pairs: dict[int, int]) -> dict[str, torch.Tensor]:
    """``state`` (a checkpoint's weights) with each tensor in ``names`` (indexed by token along dim 0) rebuilt at
    ``fresh``'s size: ``fresh``'s rows (the new model's initialisation), then row ``old`` of the checkpoint copied
    into row ``new`` for each pair."""
    out = dict(state)
    new_ids, old_ids = torch.tensor(list(pairs)), torch.tensor(list(pairs.values()))
    for name in names:
        resized = fresh[name].detach().cpu().clone()
        resized[new_ids] = state[name][old_ids].to(resized.dtype)
        out[name] = resized
    return out


def resize_rows(state: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with its row embedding (R, 1, d) linearly interpolated to ``fresh``'s number of rows (a new view
    height), the first and last rows kept; unchanged where the row counts agree."""
    name = "row_embedding"
    if (name in state) != (name in fresh):  # one row (views of 16 px or less) has none: fresh, or dropped
        return {**{k: v for k, v in state.items() if k != name}, **({name: fresh[name]} if name in fresh else {})}
    if name not in state or state[name].shape == fresh[name].shape:
        return state
    rows = fresh[name].shape[0]
    old = state[name].detach().float().permute(1, 2, 0)  # (1, d, R): interpolate along the rows
    new = torch.nn.functional.interpolate(old, size=rows, mode="linear", align_corners=True)
    return {**state, name: new.permute(2, 0, 1).to(fresh[name].dtype).contiguous()}


def charset_change(old: Charset, new: Charset, pairs: dict[int, int]) -> str:
    """One line for the log: what a run keeps of the checkpoint's charset."""
    new_chars = [c for k, c in enumerate(new.chars) if k + new.offset not in pairs]
    kept = {pairs[k + new.offset] for k in range(len(new.chars)) if k + new.offset in pairs}
    dropped = sum(1 for k in range(len(old.chars)) if k + old.offset not in kept)
    shown = "".join(new_chars[:20]) + ("..." if len(new_chars) > 20 else "")
    return (f"charset {new.name}: {len(new.chars) - len(new_chars)} characters carried over from the checkpoint's "
            f"{len(old.chars)}, {len(new_chars)} new ({shown!r}), {dropped} of the checkpoint's not kept")
