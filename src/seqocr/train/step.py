"""One training step, the same for the training loop and for ``seqocr bench train``: the learning rate schedule, the
parameter groups, the optimizer and the step itself."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from ..config import TrainConfig
from ..model.base import Output


def lr_at(step: int, t: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based): constant, or linear warm-up then cosine decay."""
    if t.schedule == "constant":
        return t.lr
    if step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    progress = min(1.0, (step - t.warmup_steps) / max(1, t.steps - t.warmup_steps))
    return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def param_groups(model: torch.nn.Module, backbone_scale: float) -> list[dict]:
    """The trainable parameters: a pretrained backbone's unfrozen stages at ``lr × backbone_scale`` (fine-tuned at
    the new layers' rate its activations blow up: it has no normalisation), everything else at ``lr``."""
    slow = {id(p) for stage in getattr(model, "pretrained_stages", list)() for p in stage.parameters()}
    groups = [{"params": [p for p in model.parameters() if p.requires_grad and id(p) not in slow], "lr_scale": 1.0}]
    if slow:
        groups.append({"params": [p for p in model.parameters() if id(p) in slow], "lr_scale": backbone_scale})
    return groups


def adam(groups, t) -> torch.optim.Optimizer:
    """Adam over parameter ``groups`` with the training config ``t``'s lr, betas and weight decay, fused: one kernel
    per step, and a non-finite step is skipped on the device (see :func:`train_step`)."""
    return torch.optim.Adam(groups, lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay, fused=True)


def train_step(net: torch.nn.Module, params: Iterable[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
               images: Tensor, targets: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor], bf16: bool = False,
               grad_clip: float = 0.0, aux_loss: Callable[[Output], Tensor] | None = None,
               penalty: Callable[[], Tensor] | None = None) -> tuple[Output, Tensor, Tensor]:
    """Forward (bf16 autocast if asked), loss, backward, gradient clipping of ``params`` (``grad_clip``; 0: none)
    and the update: ``(the forward's output, loss, whether the gradient was finite)``, all on the device. A non-finite
    gradient norm (the same on every rank after DDP's all-reduce) skips the update: inside a fused optimizer's
    kernel, which takes ``found_inf`` as :class:`torch.amp.GradScaler` hands it over, with no host
    synchronisation; an unfused optimizer (from an older checkpoint) waits for the norm. ``net`` is the model or
    its DDP wrapper, ``params`` the model's own parameters. ``aux_loss``, when given, maps the forward's
    :class:`~seqocr.model.base.Output` (attention weights included) to a loss added to the sequence loss; ``penalty``, when given, is a term of the
    weights alone added to it too (L2-SP)."""
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = net(images, targets, with_attention=aux_loss is not None)
    loss = loss_fn(out.logp.float(), targets)
    if aux_loss is not None:
        loss = loss + aux_loss(out)
    if penalty is not None:
        loss = loss + penalty()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    finite = torch.isfinite(torch.nn.utils.clip_grad_norm_(params, grad_clip or math.inf))
    if all(group.get("fused") for group in optimizer.param_groups):
        optimizer.found_inf = (~finite).float()  # type: ignore[attr-defined]
        try:
            optimizer.step()
        finally:
            del optimizer.found_inf  # type: ignore[attr-defined]
    elif finite:
        optimizer.step()
    return out, loss, finite
