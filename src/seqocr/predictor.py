"""Reading images with a PyTorch checkpoint: paths or PIL images in, :class:`Reading`s out, in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_model
from .models.fuse import fold_batchnorm
from .postprocess import Reading, decode_batch
from .preprocess import ImageSpec
from .reading import Reader


class Predictor(Reader):
    def __init__(self, model: torch.nn.Module, charset, spec: ImageSpec, bf16: bool = False):
        self.model, self.charset, self.spec, self.bf16 = fold_batchnorm(model), charset, spec, bf16

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, bf16: bool = False) -> Predictor:
        """A checkpoint (``.pt``), exported weights (``.safetensors``), or the shipped model when ``None``."""
        model, cfg, charset, _ = load_model(path)
        m = cfg.model
        return cls(model, charset, ImageSpec(m.view_height, m.view_width, m.num_views), bf16)

    def read_arrays(self, batch: np.ndarray) -> list[Reading]:
        """Preprocessed images (B, 3, H, V·W) -> readings."""
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            ids, probs = self.model.greedy(torch.from_numpy(batch))
        return decode_batch(ids.numpy(), probs.float().numpy(), self.charset)
