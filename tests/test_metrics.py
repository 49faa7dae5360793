"""Recognition metrics: hand-computed values for single pairs, standardization, and the streaming meter."""

from __future__ import annotations

import re

import pytest

from seqocr.metrics import (
    COUNT_KEYS,
    STANDARDIZATIONS,
    RecognitionMeter,
    compute_metrics,
    format_metrics,
    standardize,
)

METRIC_KEYS = {
    "samples",
    "annotation_precision",
    "character_precision",
    "annotation_precision_std",
    "character_precision_std",
    "aocr_sequence_accuracy",
    "aocr_char_accuracy",
    "cer",
    "one_minus_ned",
}


# --- standardization --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rue  Émile-Zola ", "Rue Emile Zola"),  # strip, collapse, '-' -> ' ', É -> E
        ("A - B", "A   B"),  # '-' becomes a space only after the collapse, so three spaces remain
        ("(1):", "（1）："),  # full-width brackets and colon
        ("ÿ", "ÿ"),  # the reference does not fold lower-case ÿ ...
        ("Ÿ", "Y"),  # ... but does fold upper-case Ÿ
        ("  Çà\tet\n là ", "Ca et la"),  # any whitespace run becomes one space
        ("Â â À É È Ê Ë ê ë Î î Ï ï", "A a A E E E E e e I i I i"),
        ("Ô ô Û û Ù ù Ü ü", "O o U u U u U u"),
        ("RUE rue", "RUE rue"),  # case is kept
        ("", ""),
    ],
)
def test_standardize_reference(text: str, expected: str) -> None:
    assert standardize(text, "reference") == expected


@pytest.mark.parametrize("text", ["  A-B (x): É ", "ÿ", ""])
def test_standardize_none_is_identity(text: str) -> None:
    assert standardize(text, "none") == text


def test_standardize_unknown_mode_names_valid_modes() -> None:
    for mode in STANDARDIZATIONS:  # every listed mode is accepted ...
        assert isinstance(standardize("x", mode), str)
    with pytest.raises(ValueError, match=", ".join(STANDARDIZATIONS)):  # ... and named when another is asked for
        standardize("x", "lower")


# --- single pairs -----------------------------------------------------------------------------------------

# Columns: gt, pred, annotation precision, character precision (= 2·LCS / (len gt + len pred)),
# aocr sequence accuracy, aocr char accuracy, CER (= Levenshtein / len gt), 1 - NED.
PAIRS = [
    # LCS 13 -> 26/27; positions 0..12 match, gt[13] has no partner -> 13/14; one deletion -> 1/14, 1 - 1/14
    ("Rue de la Paix", "Rue de la Pai", 0.0, 26 / 27, 0.0, 13 / 14, 1 / 14, 13 / 14),
    # LCS "ac" = 2 -> 4/6; positions 0 and 2 match -> 2/3; one substitution -> 1/3, 1 - 1/3
    ("abc", "axc", 0.0, 4 / 6, 0.0, 2 / 3, 1 / 3, 2 / 3),
    # empty prediction: LCS 0 -> 0/3; no positions -> 0/3; three deletions -> 3/3; 1 - 3/3
    ("abc", "", 0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    # empty gt: LCS 0 -> 0/2; ""[:0] == "" so aocr counts it correct; no gt char -> char accuracy has no
    # sample (0.0); CER = 2 insertions / max(0, 1) = 2; 1 - 2/max(0, 2) = 0
    ("", "ab", 0.0, 0.0, 1.0, 0.0, 2.0, 0.0),
    # trailing extra: exact match fails but aocr ignores pred[3:]; LCS 3 -> 6/7; 3/3; 1 insertion -> 1/3;
    # 1 - 1/max(3, 4) = 0.75
    ("Rue", "Rues", 0.0, 6 / 7, 1.0, 1.0, 1 / 3, 0.75),
    # both empty: exact; character precision defined as 1.0; CER 0/1; 1-NED defined as 1.0
    ("", "", 1.0, 1.0, 1.0, 0.0, 0.0, 1.0),
    ("Paris", "Paris", 1.0, 1.0, 1.0, 1.0, 0.0, 1.0),
]


@pytest.mark.parametrize(("gt", "pred", "ap", "cp", "seq", "char", "cer", "ned"), PAIRS)
def test_single_pair(gt: str, pred: str, ap: float, cp: float, seq: float, char: float, cer: float, ned: float) -> None:
    m = compute_metrics([gt], [pred])
    assert set(m) == METRIC_KEYS
    assert m["samples"] == 1
    assert m["annotation_precision"] == pytest.approx(ap)
    assert m["character_precision"] == pytest.approx(cp)
    assert m["aocr_sequence_accuracy"] == pytest.approx(seq)
    assert m["aocr_char_accuracy"] == pytest.approx(char)
    assert m["cer"] == pytest.approx(cer)
    assert m["one_minus_ned"] == pytest.approx(ned)
    # none of these strings changes under "reference" standardization
    assert m["annotation_precision_std"] == pytest.approx(ap)
    assert m["character_precision_std"] == pytest.approx(cp)


def test_standardized_metrics_differ_from_raw() -> None:
    # raw gt "Rue  Émile-Zola " has 16 chars, pred "Rue Emile Zola" 14; LCS "Rue " + "mile" + "Zola" = 12
    # -> 24/30. Standardized, both are "Rue Emile Zola" -> exact, 28/28.
    # aocr: only "Rue " lines up position by position -> 4/16. Levenshtein: delete a space, É->E, '-'->' ',
    # delete the trailing space = 4 -> CER 4/16, 1 - 4/16 = 0.75.
    m = compute_metrics(["Rue  Émile-Zola "], ["Rue Emile Zola"])
    assert m["annotation_precision"] == 0.0
    assert m["annotation_precision_std"] == 1.0
    assert m["character_precision"] == pytest.approx(24 / 30)
    assert m["character_precision_std"] == 1.0
    assert m["aocr_sequence_accuracy"] == 0.0
    assert m["aocr_char_accuracy"] == pytest.approx(4 / 16)
    assert m["cer"] == pytest.approx(4 / 16)
    assert m["one_minus_ned"] == pytest.approx(0.75)


def test_standardization_applies_to_prediction_too() -> None:
    # gt "Café (Nord)" -> "Cafe （Nord）"; a prediction already in that form matches only after standardizing
    m = compute_metrics(["Café (Nord)"], ["Cafe （Nord）"])
    assert (m["annotation_precision"], m["annotation_precision_std"]) == (0.0, 1.0)


# --- the meter --------------------------------------------------------------------------------------------

GTS = ["Rue de la Paix", "abc", "abc", "Rue", "Paris", ""]
PREDS = ["Rue de la Pai", "axc", "", "Rues", "Paris", "ab"]


def test_meter_micro_averages() -> None:
    meter = RecognitionMeter()
    meter.update(GTS[:2], PREDS[:2])
    meter.update(GTS[2:], PREDS[2:])
    m = meter.compute()
    assert m["samples"] == 6
    assert m["annotation_precision"] == pytest.approx(1 / 6)  # only "Paris"
    # Σ 2·LCS = 26 + 4 + 0 + 6 + 10 + 0 = 46; Σ lengths = 27 + 6 + 3 + 7 + 10 + 2 = 55
    assert m["character_precision"] == pytest.approx(46 / 55)
    assert m["character_precision_std"] == pytest.approx(46 / 55)
    assert m["aocr_sequence_accuracy"] == pytest.approx(3 / 6)  # "Rues", "Paris", and the empty gt
    # mean over the five non-empty gts
    assert m["aocr_char_accuracy"] == pytest.approx((13 / 14 + 2 / 3 + 0 + 1 + 1) / 5)
    # Σ edits = 1 + 1 + 3 + 1 + 0 + 2 = 8; Σ len(gt) = 14 + 3 + 3 + 3 + 5 + 0 = 28
    assert m["cer"] == pytest.approx(8 / 28)
    assert m["one_minus_ned"] == pytest.approx((13 / 14 + 2 / 3 + 0 + 0.75 + 1 + 0) / 6)
    # micro, not macro: the mean of per-sample character precisions would differ
    macro = sum(compute_metrics([g], [p])["character_precision"] for g, p in zip(GTS, PREDS)) / 6
    assert m["character_precision"] != pytest.approx(macro)


@pytest.mark.parametrize("split", [0, 1, 3, 6])
def test_merging_counts_equals_one_meter(split: int) -> None:
    whole = RecognitionMeter()
    whole.update(GTS, PREDS)
    rank0, rank1 = RecognitionMeter(), RecognitionMeter()
    rank0.update(GTS[:split], PREDS[:split])
    rank1.update(GTS[split:], PREDS[split:])
    by_dict, by_meter = RecognitionMeter(), RecognitionMeter()
    by_dict.add_counts(rank0.counts())
    by_dict.add_counts(rank1.counts())
    by_meter.merge(rank0)
    by_meter.merge(rank1.counts())
    assert by_dict.counts() == pytest.approx(whole.counts())
    assert by_dict.compute() == pytest.approx(whole.compute())
    assert by_meter.compute() == pytest.approx(whole.compute())


def test_counts_are_a_copy_with_fixed_keys() -> None:
    meter = RecognitionMeter()
    meter.update(["abc"], ["abc"])
    counts = meter.counts()
    assert tuple(counts) == COUNT_KEYS
    counts["samples"] = 100.0
    assert meter.counts()["samples"] == 1.0


def test_add_counts_rejects_foreign_keys() -> None:
    meter = RecognitionMeter()
    with pytest.raises(ValueError, match="count keys"):
        meter.add_counts({"samples": 1.0})


def test_update_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match="2 ground truths but 1 predictions"):
        RecognitionMeter().update(["a", "b"], ["a"])


def test_empty_and_reset_meter_is_all_zero() -> None:
    meter = RecognitionMeter()
    assert meter.compute() == dict.fromkeys(METRIC_KEYS, 0.0)
    meter.update(GTS, PREDS)
    assert meter.compute()["samples"] == 6
    meter.reset()
    assert meter.compute() == dict.fromkeys(METRIC_KEYS, 0.0)


def test_format_metrics() -> None:
    text = format_metrics(compute_metrics(GTS, PREDS))
    lines = text.splitlines()
    assert len(lines) == 7
    assert lines[0].split() == ["samples", "6"]
    # 1/6 = 0.16667, 46/55 = 0.83636
    assert lines[1].split() == ["annotation", "precision", "0.1667", "(std", "0.1667)"]
    assert lines[2].split() == ["character", "precision", "0.8364", "(std", "0.8364)"]
    assert lines[5].split() == ["CER", "0.2857"]  # 8/28
    # values start in one column, two spaces after the longest name
    assert len({len(line) - len(re.split(r"\s{2,}", line, maxsplit=1)[1]) for line in lines}) == 1
    assert [line[:24].rstrip() for line in lines[3:]] == ["aocr sequence accuracy", "aocr char accuracy", "CER",
                                                          "1 - NED"]
    assert lines[3][24:] == f"{compute_metrics(GTS, PREDS)['aocr_sequence_accuracy']:.4f}"
    with_ece = format_metrics({**compute_metrics(GTS, PREDS), "ece": 0.0421}).splitlines()
    assert len(with_ece) == 8 and with_ece[-1] == "calibration error (ECE)  0.0421"


def test_error_kinds_name_the_mildest_difference():
    from seqocr.metrics import error_kind, error_kinds

    assert error_kind("Rue de Provence", "Rue de Provence") == "exact"
    assert error_kind("Rue de Provence", "RUE DE PROVENCE") == "case"
    assert error_kind("Rue d‘Orbey", "Rue dOrbey") == "punctuation"
    assert error_kind("Rue Saint—Jean", "rue saint jean") == "punctuation"
    assert error_kind("Rue de l‘Église", "Rue de l‘Eglise") == "accents"
    assert error_kind("Boulevard de Lunel", "Boulevard du Loiret") == "other"
    assert error_kinds([("a", "a"), ("a", "A"), ("ab", "b")]) == {"exact": 1, "case": 1, "punctuation": 0,
                                                                  "accents": 0, "other": 1}
    assert error_kinds([("a", "a"), ("b", "b"), ("c", "C"), ("d", "D"), ("e", "E")])["case"] == 3  # counted, not set
