"""Reading images with a PyTorch checkpoint: paths, PIL images or numpy arrays in, :class:`Reading`s out, in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..charset import Charset
from ..model.fuse import fold_batchnorm
from ..model.weights import load_model
from ..preprocess import ImageSpec
from .postprocess import Reading, decode_batch
from .reader import Reader


def greedy_read(model: torch.nn.Module, images: torch.Tensor, charset: Charset, bf16: bool = False
                ) -> list[Reading]:
    """Greedy decoding of preprocessed images (B, 3, H, V·W), on their device, into readings."""
    with torch.no_grad(), torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        ids, probs = model.greedy(images)
    return decode_batch(ids.cpu().numpy(), probs.float().cpu().numpy(), charset)


def attention_read(model: torch.nn.Module, images: torch.Tensor, charset: Charset, bf16: bool = False
                   ) -> list[Reading]:
    """:func:`greedy_read`, the same readings, each with its characters' attention maps (len(text), V, R, W)."""
    with torch.no_grad(), torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        ids, probs, maps = model.greedy_attention(images)
    return decode_batch(ids.cpu().numpy(), probs.float().cpu().numpy(), charset, maps.float().cpu().numpy())


class Predictor(Reader):
    def __init__(self, model: torch.nn.Module, charset, spec: ImageSpec, bf16: bool = False):
        self.model, self.charset, self.spec, self.bf16 = fold_batchnorm(model), charset, spec, bf16

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, bf16: bool = False) -> Predictor:
        """A checkpoint (``.pt``), exported weights (``.safetensors``), or the shipped model when ``None``."""
        model, cfg, charset, _ = load_model(path)
        return cls(model, charset, ImageSpec.from_config(cfg.model), bf16)

    def read_arrays(self, batch: np.ndarray, attention: bool = False) -> list[Reading]:
        """Preprocessed images (B, 3, H, V·W) -> readings, with their attention maps if asked."""
        read = attention_read if attention else greedy_read
        return read(self.model, torch.from_numpy(batch), self.charset, self.bf16)
