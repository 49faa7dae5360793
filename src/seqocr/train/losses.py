"""Sequence losses over decoder log-probabilities (B, T, C) and targets (B, T)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..charset import PAD


def reference_loss(logp: Tensor, targets: Tensor) -> Tensor:
    """The reference's loss: Σ over all T steps of the batch-mean NLL, PAD positions included (no mask)."""
    nll = F.nll_loss(logp.flatten(0, 1), targets.flatten(), reduction="none").view_as(targets)
    return nll.mean(0).sum()


def masked_token_loss(logp: Tensor, targets: Tensor, label_smoothing: float = 0.0, tokens: float | None = None
                      ) -> Tensor:
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
    mask = targets != PAD
    return float(((logp.argmax(-1) == targets) & mask).sum() / mask.sum().clamp(min=1))


__all__ = ["masked_token_loss", "reference_loss", "sequence_loss", "token_accuracy"]
