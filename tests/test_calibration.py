"""Calibration: ECE by hand, confidences at a temperature, the fitted temperature, the model carrying it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqocr.calibration import (
    confidence_bins,
    expected_calibration_error,
    fit_power,
    fit_temperature,
    sequence_confidence,
)
from seqocr.charset import EOS
from seqocr.model import build_model
from tests.helpers import tiny_model_config


def test_ece_by_hand():
    # bin [0.9, 1.0): confidences 0.9, 0.95 -> mean 0.925, accuracy 0.5; bin [0.2, 0.3): 0.2, accuracy 0
    assert expected_calibration_error([0.9, 0.95, 0.2], [True, False, False]) == pytest.approx(
        (2 * abs(0.5 - 0.925) + 1 * 0.2) / 3)
    assert expected_calibration_error([1.0, 0.0], [True, False]) == 0.0
    assert expected_calibration_error([], []) == 0.0


def test_confidence_bins_by_hand():
    got = confidence_bins([0.0, 0.05, 0.55, 0.95, 0.999, 1.0])
    assert got.tolist() == [0, 0, 5, 9, 9, 9] and got.dtype.kind == "i"  # 1.0 in the last bin, not an 11th
    assert confidence_bins([0.0, 0.3, 0.55, 0.8, 1.0], bins=4).tolist() == [0, 1, 2, 3, 3]


def test_ece_uses_the_bins_it_is_given():
    # 2 bins: [0.3, 0.45] accuracy 0.5, mean 0.375; [0.8] accuracy 1 -> (2 * 0.125 + 0.2) / 3 = 0.15 (10 bins: 0.45)
    assert expected_calibration_error([0.3, 0.45, 0.8], [True, False, True], bins=2) == pytest.approx(0.15)
    assert expected_calibration_error([0.3, 0.45, 0.8], [True, False, True]) == pytest.approx(0.45)


def two_step_log_probs(first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy log-probabilities (N, 2, 6): token 3 with log-probability ``first`` (the rest shared by the other
    tokens), then the end token with probability 1; and the greedy ids."""
    n = len(first)
    rest = np.log(-np.expm1(np.minimum(first, -1e-300))) - np.log(5)  # log((1 - p) / 5)
    logp = np.repeat(rest[:, None], 6, 1)[:, None, :].repeat(2, 1)
    logp[:, 0, 3] = first
    logp[:, 1, :] = -1e9
    logp[:, 1, EOS] = 0.0
    return logp, np.stack([np.full(n, 3), np.full(n, EOS)], 1)


def test_a_calibrated_model_keeps_a_temperature_near_one_whatever_its_extremes():
    """Confidences that already match the accuracy give T near 1; readings certain to the last bit (confidence 1)
    and hopeless ones (confidence 0 in float64) must not tip the fit: both are clipped off the log's edges."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0.3, 0.99, 3000)
    correct = rng.random(3000) < p
    first = np.concatenate([np.log(p), np.zeros(20), np.full(20, -800.0)])  # + 20 certain, + 20 hopeless
    correct = np.concatenate([correct, np.ones(20, bool), np.zeros(20, bool)])
    logp, ids = two_step_log_probs(first)
    assert sequence_confidence(logp, ids)[3000:3020].min() == 1.0 and sequence_confidence(logp, ids)[-1] == 0.0
    assert 0.85 <= fit_temperature(logp, ids, correct) <= 1.2


def test_sequence_confidence_stops_at_the_end_token():
    logp = np.log(np.full((1, 3, 4), 0.25))
    ids = np.array([[1, EOS, 1]])
    assert sequence_confidence(logp, ids)[0] == pytest.approx(0.25 ** 2)


def test_an_overconfident_model_gets_a_temperature_above_one():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (400, 2, 6))
    logits[:, 0, 3] += 6.0  # a confident first token
    logp = logits - np.logaddexp.reduce(logits, axis=2, keepdims=True)
    ids = np.stack([np.full(400, 3), np.full(400, EOS)], 1)
    logp[:, 1, EOS] += 20.0
    logp = logp - np.logaddexp.reduce(logp, axis=2, keepdims=True)
    correct = rng.random(400) < 0.6  # right only 60 % of the time, though ~0.99 confident
    before = sequence_confidence(logp, ids)
    t = fit_temperature(logp, ids, correct)
    after = sequence_confidence(logp, ids, t)
    assert t > 1.0
    assert expected_calibration_error(after, correct) < expected_calibration_error(before, correct) / 2


def test_the_model_applies_its_temperature_and_texts_do_not_change():
    cfg = tiny_model_config(max_len=6)
    torch.manual_seed(0)
    model = build_model(cfg, 20).eval()
    hot = build_model(cfg.replace(temperature=2.0), 20).eval()
    hot.load_state_dict(model.state_dict())
    images = torch.randn(5, 3, 16, 64)
    ids, steps = model.greedy_steps(images).ids, model.greedy_steps(images).logps
    _, hot_probs = hot.greedy(images)
    assert torch.equal(hot.greedy_steps(images).ids, ids)
    expected = sequence_confidence(torch.stack(steps, 1).numpy(), ids.numpy(), 2.0)
    assert np.allclose(hot_probs.prod(1).numpy(), expected, atol=1e-5)


def test_risk_coverage_points_by_hand():
    """Issue 22 item 6: the model card's risk-coverage table, one point per confidence threshold."""
    from seqocr.calibration import kept_at

    confidences, correct = [0.95, 0.6, 0.55, 0.1], [True, False, True, False]
    assert kept_at(confidences, correct, 0.0) == {"min_confidence": 0.0, "kept": 4, "coverage": 1.0, "kept_accuracy": 0.5}
    assert kept_at(confidences, correct, 0.5) == {"min_confidence": 0.5, "kept": 3, "coverage": 0.75, "kept_accuracy": 2 / 3}
    assert kept_at(confidences, correct, 0.9) == {"min_confidence": 0.9, "kept": 1, "coverage": 0.25, "kept_accuracy": 1.0}
    assert kept_at(confidences, correct, 0.99)["kept_accuracy"] is None and kept_at([], [], 0.5)["coverage"] == 0.0


@pytest.mark.parametrize("power", [0.35, 1.0])
def test_the_power_fitted_is_the_one_that_made_the_outcomes(power):
    """Outcomes drawn right with probability confidence ** power: the fit finds that power within the grid's step;
    and readings as right as they say are left alone (power 1)."""
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.05, 0.99, 20_000)
    hits = rng.uniform(size=conf.size) < conf ** power
    assert fit_power(conf, hits) == pytest.approx(power, abs=0.05)
