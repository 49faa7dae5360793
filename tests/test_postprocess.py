"""Token ids and probabilities to readings (inference/postprocess.py) on hand-made arrays: text, confidence,
character probabilities, attention rows, rejection and the predictions file (fast: `make mutation` mutates
postprocess.py against these)."""

import numpy as np
import pytest

from seqocr.charset import EOS, GO, PAD, Charset
from seqocr.inference.postprocess import (
    Reading,
    check_min_confidence,
    decode_batch,
    reject_below,
    write_predictions,
)


@pytest.fixture(scope="module")
def abc(tmp_path_factory):
    path = tmp_path_factory.mktemp("cs") / "abc.txt"
    path.write_text("a\nb\nc\n", encoding="utf-8")
    return Charset.from_file(path)


A, B, C = 3, 4, 5  # the tokens of a, b, c


def test_a_reading_is_the_text_up_to_eos_and_its_confidence_counts_eos(abc):
    ids = np.array([[A, B, EOS, PAD], [C, C, C, C], [EOS, PAD, PAD, PAD]])
    probs = np.array([[0.9, 0.8, 0.5, 1.0], [0.5, 0.5, 0.5, 0.5], [0.25, 1.0, 1.0, 1.0]], dtype=np.float32)
    first, full, empty = decode_batch(ids, probs, abc)
    assert (first.text, first.char_probs) == ("ab", [pytest.approx(0.9), pytest.approx(0.8)])
    assert first.confidence == pytest.approx(0.9 * 0.8 * 0.5) and not first.rejected and first.attention is None
    assert (full.text, full.confidence, len(full.char_probs)) == ("cccc", pytest.approx(0.0625), 4)  # no EOS: all T
    assert (empty.text, empty.confidence, empty.char_probs) == ("", pytest.approx(0.25), [])


def test_tokens_that_are_no_character_are_left_out_of_text_and_probabilities(abc):
    ids = np.array([[GO, A, PAD, 99, C + 1, B, EOS, A]])  # C + 1: the first id past the charset
    probs = np.array([[0.5, 0.9, 0.5, 0.5, 0.5, 0.8, 0.5, 0.1]])
    (r,) = decode_batch(ids, probs, abc)
    assert r.text == "ab" and r.char_probs == [pytest.approx(0.9), pytest.approx(0.8)]
    assert r.confidence == pytest.approx(0.5 ** 5 * 0.9 * 0.8)  # every token up to EOS counts, the A after it not
    assert isinstance(r.confidence, float) and all(isinstance(p, float) for p in r.char_probs)


def test_small_probabilities_multiply_in_double_precision(abc):
    ids = np.array([[A] * 60 + [EOS]])
    probs = np.full((1, 61), 1e-7, dtype=np.float32)  # 1e-427: below even float64's range: 0, not an error
    (r,) = decode_batch(ids, probs, abc)
    assert r.confidence == 0.0
    probs = np.full((1, 61), 0.3, dtype=np.float32)  # a float32 product of 61 factors drifts by ~1e-6
    (r,) = decode_batch(ids, probs, abc)
    assert r.confidence == pytest.approx(np.float64(np.float32(0.3)) ** 61, rel=1e-9, abs=0)


def test_each_character_gets_the_attention_of_the_step_that_wrote_it(abc):
    ids = np.array([[GO, A, B, EOS], [C, EOS, PAD, PAD]])
    attention = np.arange(2 * 4 * 2 * 1 * 3, dtype=np.float64).reshape(2, 4, 2, 1, 3)
    first, second = decode_batch(ids, np.ones((2, 4)), abc, attention)
    assert first.attention.dtype == np.float32 and first.attention.shape == (2, 2, 1, 3)
    np.testing.assert_array_equal(first.attention, attention[0, [1, 2]])
    np.testing.assert_array_equal(second.attention, attention[1, [0]])


def test_as_dict_rounds_to_six_places():
    r = Reading("ab", 0.123456789, [0.5, 0.9999999], rejected=True)
    assert r.as_dict() == {"text": "ab", "confidence": 0.123457, "char_probs": [0.5, 1.0], "rejected": True}


@pytest.mark.parametrize("value, ok", [(0.0, True), (1.0, True), (0.5, True), (-0.01, False), (1.01, False)])
def test_check_min_confidence(value, ok):
    if ok:
        assert check_min_confidence(value) == value
    else:
        with pytest.raises(ValueError, match=rf"^min_confidence must be from 0 to 1, got {value}$"):
            check_min_confidence(value)


def test_readings_under_the_threshold_are_rejected_keeping_their_confidence():
    low = Reading("ab", 0.3, [0.5, 0.6], attention=np.ones((2, 1, 1, 1)))
    at, high = Reading("c", 0.5, [0.5]), Reading("bc", 0.9, [0.9, 1.0])
    out = reject_below([low, at, high], 0.5)
    assert out[0] == Reading("", 0.3, [], rejected=True) and out[0].attention is None
    assert out[1] is at and out[2] is high and low.text == "ab"  # at the threshold: kept; the input untouched
    assert reject_below([low], 0.0) == [low]
    with pytest.raises(ValueError):
        reject_below([low], 2.0)


def test_the_predictions_file_has_a_header_and_one_line_per_row(tmp_path):
    path = tmp_path / "p.tsv"
    write_predictions(path, [("a.png (l.tsv:1)", "Rue", "Rue", 0.98765432), ("b.png", "Quai", "Qai", 0.1)])
    assert path.read_text(encoding="utf-8") == (
        "where\tground_truth\tprediction\tconfidence\tcorrect\n"
        "a.png (l.tsv:1)\tRue\tRue\t0.987654\t1\n"
        "b.png\tQuai\tQai\t0.100000\t0\n")
    write_predictions(path, [])
    assert path.read_text(encoding="utf-8") == "where\tground_truth\tprediction\tconfidence\tcorrect\n"
