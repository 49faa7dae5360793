"""Evaluation: run a model over a dataset, every sample (no dropped last batch), and compute the metrics."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from .charset import Charset
from .distributed import Dist, all_sum
from .metrics import RecognitionMeter
from .models.base import mask_after_eos
from .postprocess import Reading, decode_batch


def eval_loader(dataset, charset: Charset, steps: int, batch_size: int, workers: int = 0) -> DataLoader:
    from .data.datasets import Collate

    return DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False, num_workers=workers,
                      collate_fn=Collate(charset, steps))


def read_batches(model: torch.nn.Module, loader: DataLoader, charset: Charset, bf16: bool = False,
                 device: torch.device | None = None) -> Iterator[tuple[dict, list[Reading]]]:
    model.eval()
    device = device or torch.device("cpu")
    for batch in loader:
        if not batch["texts"]:
            yield batch, []
            continue
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            ids, probs = model.greedy(batch["images"].to(device))
        yield batch, decode_batch(ids.cpu().numpy(), probs.float().cpu().numpy(), charset)


def evaluate(model: torch.nn.Module, dataset, charset: Charset, steps: int, batch_size: int = 32,
             bf16: bool = False, workers: int = 0, progress: bool = False, dist: Dist | None = None
             ) -> tuple[dict[str, float], list[tuple[str, str, str, float]]]:
    """Metrics over ``dataset`` and rows ``(where, ground truth, prediction, confidence)``; bad images counted.

    Under torchrun each rank reads every ``world``-th sample (streams are sharded when built) and the metric
    *counts* are summed over ranks before dividing; the rows are this rank's only.
    """
    from tqdm import tqdm

    dist = dist or Dist()
    if dist.world > 1 and hasattr(dataset, "__len__"):
        dataset = Subset(dataset, range(dist.rank, len(dataset), dist.world))
    meter, rows, bad = RecognitionMeter(), [], 0
    loader = eval_loader(dataset, charset, steps, batch_size, workers)
    total = len(loader) if hasattr(dataset, "__len__") else None
    for batch, readings in tqdm(read_batches(model, loader, charset, bf16, dist.device), total=total, desc="eval",
                                unit="batch", disable=not progress, leave=False):
        bad += len(batch["bad"])
        meter.update(batch["texts"], [r.text for r in readings])
        rows += [(w, t, r.text, r.confidence) for w, t, r in zip(batch["wheres"], batch["texts"], readings)]
    counts = meter.counts()
    summed = all_sum([*counts.values(), bad], dist)
    meter.reset()
    meter.add_counts(dict(zip(counts, summed[:-1])))
    metrics = meter.compute()
    metrics["unreadable"] = int(summed[-1])
    metrics["ece"] = rows_ece(rows)  # this rank's rows
    return metrics, rows


def rows_ece(rows: list[tuple[str, str, str, float]]) -> float:
    """Expected calibration error of rows ``(where, ground truth, prediction, confidence)`` against exact match."""
    from .calibration import expected_calibration_error

    return expected_calibration_error([r[3] for r in rows], [r[1] == r[2] for r in rows])


def calibration_data(model: torch.nn.Module, dataset, charset: Charset, steps: int, batch_size: int = 32
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy log-probabilities (N, T, C), ids (N, T) and exact-match flags (N,) over ``dataset``: what
    :func:`seqocr.calibration.fit_temperature` needs."""
    model.eval()
    logps, ids, hits = [], [], []
    for batch in eval_loader(dataset, charset, steps, batch_size):
        if not batch["texts"]:
            continue
        step_ids, probs, step_logps = model.greedy_steps(batch["images"])
        masked_ids, masked_probs = mask_after_eos(step_ids, probs)
        readings = decode_batch(masked_ids.numpy(), masked_probs.numpy(), charset)
        logps.append(torch.stack(step_logps, 1).float().numpy())
        ids.append(step_ids.numpy())
        hits += [r.text == t for r, t in zip(readings, batch["texts"])]
    return np.concatenate(logps), np.concatenate(ids), np.asarray(hits)
