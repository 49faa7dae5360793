"""Scoring readings against their labels: the one evaluation loop, for the PyTorch evaluation of a dataset
(:func:`seqocr.train.evaluate.evaluate`) and for any reader over ``(image, text, where)`` items
(:func:`evaluate_reader`, ``eval --onnx``). Torch-free."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..calibration import expected_calibration_error
from ..metrics import RecognitionMeter
from .postprocess import Reading, check_min_confidence
from .reader import Reader

Row = tuple[str, str, str, float]  # where, ground truth, prediction, confidence
Batch = tuple[list[str], list[str], list[Reading], int]  # texts, wheres, their readings, unreadable samples
OnRead = Callable[[list, list[Reading]], None]  # (image, text, where) items and their readings


def score(batches: Iterable[Batch], combine: Callable[[list[float]], list[float]] = list
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
    kept = [r for r in rows if r[3] >= threshold]
    meter = RecognitionMeter()
    meter.update([r[1] for r in rows], [r[2] if r[3] >= threshold else "" for r in rows])
    return {**metrics, **meter.compute(), "min_confidence": threshold, "rejected": len(rows) - len(kept),
            "coverage": len(kept) / len(rows) if rows else 0.0,
            "kept_accuracy": sum(r[1] == r[2] for r in kept) / len(kept) if kept else None}


def rows_ece(rows: list[Row]) -> float:
    """Expected calibration error of rows ``(where, ground truth, prediction, confidence)`` against exact match."""
    return expected_calibration_error([r[3] for r in rows], [r[1] == r[2] for r in rows])


def evaluate_reader(reader: Reader, samples, batch_size: int = 32, attention: bool = False,
                    on_read: OnRead | None = None) -> tuple[dict[str, float], list[Row]]:
    """Metrics and rows of any reader over ``(image, text, where)`` items (``image`` None: unreadable).
    ``on_read`` sees every batch's items and readings (with their attention maps if asked), e.g. to keep the worst
    for ``eval --report``."""
    return score(_read_batches(reader, samples, batch_size, attention, on_read))


def _read_batches(reader: Reader, samples, batch_size: int, attention: bool = False,
                  on_read: OnRead | None = None) -> Iterator[Batch]:
    chunk, bad = [], 0
    for image, text, where in samples:
        if image is None:
            bad += 1
            continue
        chunk.append((image, text, where))
        if len(chunk) == batch_size:
            yield _read_chunk(reader, chunk, batch_size, bad, attention, on_read)
            chunk, bad = [], 0
    if chunk or bad:
        yield _read_chunk(reader, chunk, batch_size, bad, attention, on_read)


def _read_chunk(reader: Reader, chunk: list, batch_size: int, bad: int, attention: bool = False,
                on_read: OnRead | None = None) -> Batch:
    readings = reader.read([im for im, _, _ in chunk], batch_size, attention=attention) if chunk else []
    if on_read is not None and chunk:
        on_read(chunk, readings)
    return [t for _, t, _ in chunk], [w for _, _, w in chunk], readings, bad
