"""One training step, the same for the training loop and for ``seqocr bench train``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor


def train_step(net: torch.nn.Module, params: Iterable[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
               images: Tensor, targets: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor], bf16: bool = False,
               grad_clip: float = 0.0, attention_loss: Callable[[Tensor], Tensor] | None = None
               ) -> tuple[Tensor, Tensor, bool]:
    """Forward (bf16 autocast if asked), loss, backward, gradient clipping of ``params`` (``grad_clip``; 0: none)
    and the update: ``(log-probabilities, loss, whether the update was taken)``. A non-finite gradient norm (the
    same on every rank after DDP's all-reduce) skips the update. ``net`` is the model or its DDP wrapper,
    ``params`` the model's own parameters. ``attention_loss``, when given, maps the decoder's attention weights
    (B, T, S) to a loss added to the sequence loss."""
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = net(images, targets, with_attention=attention_loss is not None)
    logp, attention = out if attention_loss is not None else (out, None)
    loss = loss_fn(logp.float(), targets)
    if attention is not None:
        loss = loss + attention_loss(attention)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip or math.inf)
    ok = bool(torch.isfinite(norm))
    if ok:
        optimizer.step()
    return logp, loss, ok
