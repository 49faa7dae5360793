"""Sequence losses over decoder log-probabilities (B, T, C) and targets (B, T)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..charset import PAD


def reference_loss(logp: Tensor, targets: Tensor) -> Tensor:
    """The reference's loss: Σ over all T steps of the batch-mean NLL, PAD positions included (no mask)."""
    nll = F.nll_loss(logp.flatten(0, 1), targets.flatten(), reduction="none").view_as(targets)
    return nll.mean(0).sum()


def masked_token_loss(logp: Tensor, targets: Tensor, label_smoothing: float = 0.0,
                      tokens: float | Tensor | None = None) -> Tensor:
    """Mean NLL over the real tokens (characters and EOS); PAD positions are masked out. ``tokens`` replaces
    the local token count as the denominator (distributed training divides by the global count)."""
    mask = targets != PAD
    nll = F.nll_loss(logp.flatten(0, 1), targets.flatten(), reduction="none").view_as(targets)
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * logp.mean(-1)
    return (nll * mask).sum() / (tokens if tokens is not None else mask.sum().clamp(min=1))


def sequence_loss(kind: str, logp: Tensor, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
    if kind == "reference":
        return reference_loss(logp, targets)
    return masked_token_loss(logp, targets, label_smoothing)


def token_accuracy(logp: Tensor, targets: Tensor) -> float:
    correct, tokens = token_counts(logp, targets)
    return float(correct / tokens.clamp(min=1))


def token_counts(logp: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """(correctly predicted real tokens, real tokens), as float tensors on the device: no host synchronisation."""
    mask = targets != PAD
    return ((logp.argmax(-1) == targets) & mask).sum().float(), mask.sum().float()


__all__ = ["masked_token_loss", "reference_loss", "sequence_loss", "token_accuracy"]


def glyph_cells(glyphs: Tensor, rows: int, cols: int) -> Tensor:
    """Glyph boxes (..., 4) in fractions of a view (x0, y0, x1, y1; NaN: none) -> (..., rows, cols) bool: the
    cells of a rows x cols grid over the view that the box overlaps."""
    edges_y = torch.arange(rows + 1, dtype=glyphs.dtype, device=glyphs.device) / rows
    edges_x = torch.arange(cols + 1, dtype=glyphs.dtype, device=glyphs.device) / cols
    x0, y0, x1, y1 = (glyphs[..., k, None] for k in range(4))
    in_y = (y0 < edges_y[1:]) & (y1 > edges_y[:-1])                      # (..., rows); NaN compares False
    in_x = (x0 < edges_x[1:]) & (x1 > edges_x[:-1])                      # (..., cols)
    return in_y.unsqueeze(-1) & in_x.unsqueeze(-2)


def glyph_attention_loss(attention: Tensor, cells: Tensor) -> Tensor:
    """FAN's attention loss: for each decoding step whose character has a glyph somewhere in the memory,
    ``-log`` of the attention mass on that glyph's cells, averaged over those steps (0 when there are none).

    ``attention`` (B, T, S) weights over the memory, ``cells`` (B, T, S) bool, the same cells in the same order.
    """
    has = cells.any(-1)
    if not bool(has.any()):
        return attention.new_zeros(())
    mass = (attention.float() * cells).sum(-1)
    return -(mass[has].clamp(min=1e-6).log()).mean()


def char_map_targets(cells: Tensor, targets: Tensor) -> Tensor:
    """The character map's classes (B, ...) from each step's glyph cells ``cells`` (B, T, ...) and the token ids
    ``targets`` (B, T): a cell takes the token of the first character whose glyph covers it, else 0 (PAD, here
    "no character")."""
    covered = cells.any(1)
    first = cells.to(torch.uint8).argmax(1)                                  # the first step covering the cell
    token = targets.gather(1, first.flatten(1)).view_as(first)
    return torch.where(covered, token, torch.zeros_like(token))


def char_map_loss(logits: Tensor, classes: Tensor) -> Tensor:
    """Cross-entropy of the per-cell character logits (B, ..., C) against their classes (B, ...), over every
    cell: background cells teach the head where there is no character."""
    return F.cross_entropy(logits.float().flatten(0, -2), classes.flatten())


def glyph_terms(t, rows: int, out, glyphs: Tensor, targets: Tensor, log: dict[str, Tensor]) -> Tensor:
    """The weighted losses that the generator's glyph boxes (B, T, V, 4) teach (training config ``t``): the glyph
    attention loss on the forward's attention weights (B, T, S) (:func:`glyph_attention_loss`) and the
    character-map loss on its ``char_logits`` (:func:`char_map_loss`), over the views the model was shown (the
    encoding's ``view_pick`` under view dropout; ``rows``: the model's memory rows per view). Their unweighted
    values go into ``log``."""
    attention, pick = out.attention, out.encoding.view_pick
    if pick is not None:                                              # (V', B)
        glyphs = glyphs.gather(2, pick.t()[:, None, :, None].expand(-1, glyphs.shape[1], -1, 4))
    b, _, v = glyphs.shape[:3]
    cells = glyph_cells(glyphs, rows, attention.shape[-1] // (v * rows))  # (B, T, V', R, W')
    total = attention.new_zeros((), dtype=torch.float32)
    if t.attention_loss:
        loss = glyph_attention_loss(attention, cells.flatten(2))      # the memory's order: views, rows, columns
        log["glyph_loss"] = loss.detach()
        total = total + t.attention_loss * loss
    if t.char_map_loss:
        logits = out.encoding.aux["char_logits"].unflatten(0, (v, b)).permute(1, 0, 3, 4, 2)  # (B, V', R, W', C)
        loss = char_map_loss(logits, char_map_targets(cells, targets))
        log["char_map_loss"] = loss.detach()
        total = total + t.char_map_loss * loss
    return total
