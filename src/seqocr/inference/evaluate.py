"""The one evaluation: a reader's readings of labelled batches scored against their labels (:func:`evaluate`), the
same for ``seqocr eval`` (PyTorch or ONNX Runtime), its report and the trainer's validation (its model wrapped as a
reader), over labelled images each reader prepares itself; and the calibration set's scores. Torch-free."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

import numpy as np

from ..calibration import expected_calibration_error, kept_at
from ..metrics import RecognitionMeter
from .postprocess import Reading, check_min_confidence
from .reader import Reader, as_image

Row = tuple[str, str, str, float]  # where, ground truth, prediction, confidence
ScoredBatch = tuple[list[str], list[str], list[Reading], int]  # texts, wheres, their readings, unreadable samples
OnRead = Callable[[list, list[Reading]], None]  # (image, text, where) items and their readings


def score(batches: Iterable[ScoredBatch], combine: Callable[[list[float]], list[float]] = list
          ) -> tuple[dict[str, float], list[Row]]:
    """Metrics over every batch and the rows ``(where, ground truth, prediction, confidence)``; unreadable samples
    are counted, not scored. ``combine`` turns this process's counts into the job's (a sum over torchrun ranks);
    the calibration error is over this process's rows."""
    meter, rows, bad = RecognitionMeter(), [], 0
    for texts, wheres, readings, unreadable in batches:
        bad += unreadable
        meter.update(texts, [r.text for r in readings])
        rows += [(w, t, r.text, r.confidence) for w, t, r in zip(wheres, texts, readings)]
    counts = meter.counts()
    summed = combine([*counts.values(), bad])
    meter.reset()
    meter.add_counts(dict(zip(counts, summed[:-1])))
    metrics = meter.compute()
    metrics["unreadable"] = int(summed[-1])
    metrics["ece"] = rows_ece(rows)
    return metrics, rows


def score_with_rejection(metrics: dict[str, float], rows: list[Row], threshold: float) -> dict:
    """``metrics`` rescored from ``rows`` with every reading whose confidence is under ``threshold`` taken as an
    empty prediction (``eval --min-confidence``), plus ``min_confidence``, ``rejected`` (how many), ``coverage``
    (the share of readings kept) and ``kept_accuracy`` (exact match among the kept; None when none is kept). The
    unreadable count and the calibration error, which describe the model and not the threshold, are kept."""
    check_min_confidence(threshold)
    meter = RecognitionMeter()
    meter.update([r[1] for r in rows], [r[2] if r[3] >= threshold else "" for r in rows])
    kept = rows_kept_at(rows, threshold)
    return {**metrics, **meter.compute(), "min_confidence": threshold, "rejected": len(rows) - kept["kept"],
            "coverage": kept["coverage"], "kept_accuracy": kept["kept_accuracy"]}


def rows_ece(rows: list[Row]) -> float:
    """Expected calibration error of rows ``(where, ground truth, prediction, confidence)`` against exact match."""
    return expected_calibration_error([r[3] for r in rows], [r[1] == r[2] for r in rows])


def rows_kept_at(rows: list[Row], threshold: float) -> dict:
    """One point of the risk-coverage curve of rows ``(where, ground truth, prediction, confidence)``
    (:func:`~seqocr.calibration.kept_at`)."""
    return kept_at([r[3] for r in rows], [r[1] == r[2] for r in rows], threshold)


class Batch(NamedTuple):
    """Images as the reader takes them (:meth:`~.reader.Reader.prepare`: preprocessed (N, 3, H, V·W), or each
    image's pixels) with their labels and names; ``unreadable`` samples met since the last batch (not scored,
    counted); ``items``, when a caller wants them for ``on_read``: ``(image, text, where)``."""

    images: np.ndarray | list[np.ndarray] | None
    texts: list[str]
    wheres: list[str]
    unreadable: int = 0
    items: list | None = None


def evaluate(reader: Reader, batches: Iterable[Batch], combine: Callable[[list[float]], list[float]] = list,
             attention: bool = False, on_read: OnRead | None = None) -> tuple[dict[str, float], list[Row]]:
    """The one evaluation: every batch read by ``reader.read_prepared`` (any reader: the PyTorch
    :class:`~.predictor.Predictor`, the trainer's model wrapped as one, ONNX Runtime's), then scored
    (:func:`score`). The batches are labelled images prepared as the reader takes them (:func:`image_batches`:
    their pixels, for a model that crops its views itself, else preprocessed here).
    ``on_read`` sees each batch's items and readings (with their attention maps if asked), e.g. to keep the worst
    for ``eval --report``."""
    return score(_read(reader, batches, attention, on_read), combine)


def _read(reader: Reader, batches: Iterable[Batch], attention: bool, on_read: OnRead | None) -> Iterator[ScoredBatch]:
    for b in batches:
        readings = reader.read_prepared(b.images, attention=attention) if b.texts else []
        if on_read is not None and b.texts:
            on_read(b.items, readings)
        yield b.texts, b.wheres, readings, b.unreadable


def image_batches(samples, reader: Reader, batch_size: int = 32) -> Iterator[Batch]:
    """``(image, text, where)`` items (``image`` None: unreadable) in batches, prepared for ``reader`` in this
    process."""
    chunk, bad = [], 0
    for image, text, where in samples:
        if image is None:
            bad += 1
            continue
        chunk.append((image, text, where))
        if len(chunk) == batch_size:
            yield _batch(chunk, reader, bad)
            chunk, bad = [], 0
    if chunk or bad:
        yield _batch(chunk, reader, bad)


def _batch(chunk: list, reader: Reader, bad: int) -> Batch:
    images = reader.prepare([as_image(im, k) for k, (im, _, _) in enumerate(chunk)]) if chunk else None
    return Batch(images, [t for _, t, _ in chunk], [w for _, _, w in chunk], bad, chunk)


def evaluate_reader(reader: Reader, samples, batch_size: int = 32, attention: bool = False,
                    on_read: OnRead | None = None, combine: Callable[[list[float]], list[float]] = list
                    ) -> tuple[dict[str, float], list[Row]]:
    """:func:`evaluate` over ``(image, text, where)`` items (``image`` None: unreadable; e.g.
    :func:`seqocr.data.iter_labelled`'s), prepared here: ``seqocr eval``, its report and the trainer's validation
    (``combine``: the sum over torchrun ranks)."""
    return evaluate(reader, image_batches(samples, reader, batch_size), combine, attention, on_read)


def calibration_data(reader: Reader, samples, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every greedy step's log-probabilities (N, T, C), the greedy ids (N, T) and exact-match flags (N,) over
    ``(image, text, where)`` items prepared as :func:`evaluate_reader` prepares them, read by a reader that gives
    them (``greedy_scores``: PyTorch's): what :func:`seqocr.calibration.fit_temperature` needs."""
    logps, ids, hits = [], [], []
    for b in image_batches(samples, reader, batch_size):
        if b.texts:
            logp, step_ids, texts = reader.greedy_scores(b.images)
            logps.append(logp)
            ids.append(step_ids)
            hits += [got == want for got, want in zip(texts, b.texts)]
    return np.concatenate(logps), np.concatenate(ids), np.asarray(hits)
