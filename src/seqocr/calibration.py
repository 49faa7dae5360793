"""Confidence that means something: expected calibration error and a fitted temperature.

A reading's confidence is the product of the probabilities of its greedy tokens, end token included. Softmax
temperature T (logits / T) leaves every greedy choice, so every text, unchanged and only moves the probabilities;
``fit_temperature`` picks the T under which the confidences best predict exact matches on a validation set (the
Bernoulli negative log-likelihood), and the model then carries T in its config (``model.temperature``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .charset import EOS

TEMPERATURES = np.round(np.arange(0.5, 4.0001, 0.05), 2)


def confidence_bins(confidences: Sequence[float] | np.ndarray, bins: int = 10) -> np.ndarray:
    """Each confidence's bin among ``bins`` equal-width bins of [0, 1] (1.0 in the last one)."""
    return np.minimum((np.asarray(confidences, float) * bins).astype(int), bins - 1)


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Σ_b (n_b / n) · |accuracy_b − mean confidence_b| over ``bins`` equal-width confidence bins; 0 for no sample."""
    conf, hit = np.asarray(confidences, float), np.asarray(correct, float)
    if not conf.size:
        return 0.0
    which = confidence_bins(conf, bins)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(hit[mask].mean() - conf[mask].mean())
    return float(total / conf.size)


def kept_at(confidences: Sequence[float], correct: Sequence[bool], threshold: float) -> dict:
    """One point of the risk-coverage curve: how many readings have a confidence of at least ``threshold``
    (``kept``), their share (``coverage``) and their exact match (``kept_accuracy``, None when none is kept)."""
    kept = [hit for c, hit in zip(confidences, correct, strict=True) if c >= threshold]
    return {"min_confidence": threshold, "kept": len(kept), "coverage": len(kept) / len(correct) if correct else 0.0,
            "kept_accuracy": sum(kept) / len(kept) if kept else None}


def sequence_confidence(log_probs: np.ndarray, ids: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N,) confidences at ``temperature`` from greedy log-probabilities (N, T, C) at temperature 1 and the greedy
    ids (N, T): the product over the steps up to and including the first end token."""
    scaled = log_probs / temperature
    scaled = scaled - np.logaddexp.reduce(scaled, axis=2, keepdims=True)
    chosen = np.take_along_axis(scaled, ids[..., None], 2)[..., 0]                 # (N, T)
    is_eos = ids == EOS
    after = (np.cumsum(is_eos, 1) - is_eos) > 0
    return np.exp(np.where(after, 0.0, chosen).sum(1))


def bernoulli_nll(confidences: np.ndarray, hit: np.ndarray) -> float:
    """The mean negative log-likelihood of the outcomes ``hit`` (0 or 1) under ``confidences``, clipped off 0 and 1."""
    c = np.clip(confidences, 1e-6, 1 - 1e-6)
    return float(-(hit * np.log(c) + (1 - hit) * np.log(1 - c)).mean())


def fit_temperature(log_probs: np.ndarray, ids: np.ndarray, correct: Sequence[bool]) -> float:
    """The temperature in :data:`TEMPERATURES` minimising the Bernoulli NLL of ``correct`` given the confidences."""
    hit = np.asarray(correct, float)
    return float(min(TEMPERATURES, key=lambda t: bernoulli_nll(sequence_confidence(log_probs, ids, t), hit)))


POWERS = np.round(np.arange(0.1, 1.5001, 0.05), 2)


def fit_power(confidences: Sequence[float], correct: Sequence[bool]) -> float:
    """The power ``a`` in :data:`POWERS` under which ``confidence ** a`` best predicts ``correct`` (the Bernoulli
    NLL): the calibration of readings whose confidence is not a greedy softmax's, e.g. a guided search's, where
    the language model chose among hypotheses the image alone made less likely (BENCHMARKS, issue 36)."""
    conf, hit = np.asarray(confidences, float), np.asarray(correct, float)
    return float(min(POWERS, key=lambda a: bernoulli_nll(conf ** a, hit)))
