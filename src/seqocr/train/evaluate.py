"""Evaluation of a dataset through a DataLoader (every sample, no dropped last batch; decoding in worker processes),
for `seqocr eval` and the trainer's validation: the reading and scoring are
:func:`seqocr.inference.evaluate.evaluate`'s, over any reader. Also the data a temperature is fitted on."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from ..charset import Charset
from ..inference.evaluate import Batch, Row
from ..inference.evaluate import evaluate as evaluate_batches
from ..inference.postprocess import decode_batch
from ..inference.reader import Reader
from ..model.base import mask_after_eos
from .distributed import Dist, all_sum


def eval_loader(dataset, charset: Charset, steps: int, batch_size: int, workers: int = 0) -> DataLoader:
    from ..data.datasets import Collate

    return DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False, num_workers=workers,
                      collate_fn=Collate(charset, steps))


def loader_batches(loader: DataLoader) -> Iterator[Batch]:
    """A DataLoader's batches (preprocessed in its workers) as the evaluation's."""
    for batch in loader:
        images = batch["images"].numpy() if batch["texts"] else None
        yield Batch(images, batch["texts"], batch["wheres"], len(batch["bad"]))


def evaluate_dataset(reader: Reader, dataset, steps: int, batch_size: int = 32, workers: int = 0, progress: bool = False,
             dist: Dist | None = None) -> tuple[dict[str, float], list[Row]]:
    """Metrics over ``dataset`` read by ``reader`` (a :class:`~seqocr.inference.predictor.Predictor`: ``seqocr eval``'s
    model, or the trainer's), and rows ``(where, ground truth, prediction, confidence)``; bad images counted. The
    samples are decoded and preprocessed in ``workers`` DataLoader processes; the reading and the scoring are
    :func:`seqocr.inference.evaluate.evaluate`'s.

    Under torchrun each rank reads every ``world``-th sample (streams are sharded when built) and the metric
    *counts* are summed over ranks before dividing; the rows are this rank's only.
    """
    from tqdm import tqdm

    dist = dist or Dist()
    if dist.world > 1 and hasattr(dataset, "__len__"):
        dataset = Subset(dataset, range(dist.rank, len(dataset), dist.world))
    loader = eval_loader(dataset, reader.charset, steps, batch_size, workers)
    total = len(loader) if hasattr(dataset, "__len__") else None
    batches = tqdm(loader_batches(loader), total=total, desc="eval", unit="batch", disable=not progress, leave=False)
    return evaluate_batches(reader, batches, lambda counts: all_sum(counts, dist))


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
