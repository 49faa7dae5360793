"""Evaluation: run a model over a dataset, every sample (no dropped last batch), and compute the metrics."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from ..charset import Charset
from ..device import to_device
from ..inference.evaluate import Batch, Row, score
from ..inference.postprocess import decode_batch
from ..inference.predictor import model_read
from ..model.base import mask_after_eos
from .distributed import Dist, all_sum


def eval_loader(dataset, charset: Charset, steps: int, batch_size: int, workers: int = 0) -> DataLoader:
    from ..data.datasets import Collate

    return DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False, num_workers=workers,
                      collate_fn=Collate(charset, steps))


def read_batches(model: torch.nn.Module, loader: DataLoader, charset: Charset, bf16: bool = False,
                 device: torch.device | None = None, beam: int = 1) -> Iterator[Batch]:
    """The loader's batches read by ``model`` (greedily, or with a beam of ``beam``): ``(texts, wheres, readings,
    unreadable samples)``."""
    model.eval()
    device = device or torch.device("cpu")
    for batch in loader:
        readings = model_read(model, to_device(batch["images"], device), charset, bf16, beam) if batch["texts"] else []
        yield batch["texts"], batch["wheres"], readings, len(batch["bad"])


def evaluate(model: torch.nn.Module, dataset, charset: Charset, steps: int, batch_size: int = 32,
             bf16: bool = False, workers: int = 0, progress: bool = False, dist: Dist | None = None, beam: int = 1
             ) -> tuple[dict[str, float], list[Row]]:
    """Metrics over ``dataset`` and rows ``(where, ground truth, prediction, confidence)``; bad images counted.

    Under torchrun each rank reads every ``world``-th sample (streams are sharded when built) and the metric
    *counts* are summed over ranks before dividing; the rows are this rank's only.
    """
    from tqdm import tqdm

    dist = dist or Dist()
    if dist.world > 1 and hasattr(dataset, "__len__"):
        dataset = Subset(dataset, range(dist.rank, len(dataset), dist.world))
    loader = eval_loader(dataset, charset, steps, batch_size, workers)
    total = len(loader) if hasattr(dataset, "__len__") else None
    batches = tqdm(read_batches(model, loader, charset, bf16, dist.device, beam), total=total, desc="eval", unit="batch",
                   disable=not progress, leave=False)
    return score(batches, lambda counts: all_sum(counts, dist))


def calibration_data(model: torch.nn.Module, dataset, charset: Charset, steps: int, batch_size: int = 32
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy log-probabilities (N, T, C), ids (N, T) and exact-match flags (N,) over ``dataset``: what
    :func:`seqocr.calibration.fit_temperature` needs."""
    model.eval()
    logps, ids, hits = [], [], []
    for batch in eval_loader(dataset, charset, steps, batch_size):
        if not batch["texts"]:
            continue
        greedy = model.greedy_steps(batch["images"])
        step_ids, probs, step_logps = greedy.ids, greedy.probs, greedy.logps
        masked_ids, masked_probs = mask_after_eos(step_ids, probs)
        readings = decode_batch(masked_ids.numpy(), masked_probs.numpy(), charset)
        logps.append(torch.stack(step_logps, 1).float().numpy())
        ids.append(step_ids.numpy())
        hits += [r.text == t for r, t in zip(readings, batch["texts"])]
    return np.concatenate(logps), np.concatenate(ids), np.asarray(hits)
