"""Recognition metrics: the reference's two numbers plus the field's usual ones.

Pure Python and rapidfuzz (no numpy, no torch) so that the torch-free ONNX reader can score itself.

* ``annotation_precision`` / ``character_precision``: the reference (MindSpore CRNN-Seq2Seq-OCR ``eval.py``).
  Annotation precision is strict exact match, i.e. word accuracy. Character precision is *not* a precision:
  it is the LCS F-measure ``Σ 2·LCS(gt, pred) / Σ (len(gt) + len(pred))``, micro-averaged over characters.
  Both are reported on raw strings and, with the ``_std`` suffix, after :func:`standardize` ``"reference"``.
* ``aocr_sequence_accuracy`` / ``aocr_char_accuracy``: TensorFlow attention_ocr ``metrics.py``, which compares
  null-padded fixed-length id rows and masks every position where the target is padding, so characters
  predicted after the end of the ground truth are never penalised ("Rue" read as "Rues" counts as correct).
* ``cer`` (micro) and ``one_minus_ned`` (PARSeq-style, mean over samples), both from Levenshtein distance.

:class:`RecognitionMeter` keeps only sums, so distributed ranks can add their :meth:`~RecognitionMeter.counts`
(e.g. one ``all_reduce`` over ``[counts[k] for k in COUNT_KEYS]``) before :meth:`~RecognitionMeter.compute`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rapidfuzz.distance import LCSseq, Levenshtein

STANDARDIZATIONS = ("none", "reference")

# Applied in this order with str.replace, after strip and whitespace collapse (so "A - B" -> "A   B").
# Note ÿ is deliberately not folded, and case is kept.
_REFERENCE_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("(", "（"), (")", "）"), (":", "："), ("-", " "),
    ("À", "A"), ("à", "a"), ("Â", "A"), ("â", "a"), ("Ç", "C"), ("ç", "c"),
    ("É", "E"), ("é", "e"), ("È", "E"), ("è", "e"), ("Ê", "E"), ("ê", "e"), ("Ë", "E"), ("ë", "e"),
    ("Î", "I"), ("î", "i"), ("Ï", "I"), ("ï", "i"), ("Ô", "O"), ("ô", "o"),
    ("Û", "U"), ("û", "u"), ("Ù", "U"), ("ù", "u"), ("Ü", "U"), ("ü", "u"), ("Ÿ", "Y"),
)  # fmt: skip

COUNT_KEYS = (
    "samples",
    "exact", "lcs2", "chars",  # raw strings: exact matches, Σ 2·LCS, Σ len(gt) + len(pred)
    "exact_std", "lcs2_std", "chars_std",  # the same after "reference" standardization
    "aocr_seq_correct", "aocr_char_acc_sum", "aocr_char_samples",
    "edits", "gt_chars", "one_minus_ned_sum",
)  # fmt: skip


def standardize(text: str, mode: str) -> str:
    """Normalise a label or prediction before comparison.

    Args:
        text: The string to normalise.
        mode: ``"none"`` returns ``text`` unchanged. ``"reference"`` strips, collapses whitespace runs to one
            space, maps ``( ) :`` to their full-width forms, turns ``-`` into a space (after the collapse, so
            runs of spaces can reappear) and folds French accents; case is kept and ``ÿ`` is left alone.

    Raises:
        ValueError: ``mode`` is not one of :data:`STANDARDIZATIONS`.
    """
    if mode == "none":
        return text
    if mode != "reference":
        raise ValueError(f"unknown standardization {mode!r}; expected one of {', '.join(STANDARDIZATIONS)}")
    out = " ".join(text.strip().split())
    for old, new in _REFERENCE_REPLACEMENTS:
        out = out.replace(old, new)
    return out


def _ratio(num: float, den: float, empty: float = 0.0) -> float:
    return num / den if den else empty


class RecognitionMeter:
    """Streaming accumulator of recognition metrics that holds only sums (see :data:`COUNT_KEYS`)."""

    def __init__(self) -> None:
        self._counts: dict[str, float] = dict.fromkeys(COUNT_KEYS, 0.0)

    def reset(self) -> None:
        """Forget every sample seen so far."""
        self._counts = dict.fromkeys(COUNT_KEYS, 0.0)

    def update(self, gts: Sequence[str], preds: Sequence[str]) -> None:
        """Add a batch of ground truths and the matching predictions.

        Raises:
            ValueError: the two sequences differ in length.
        """
        if len(gts) != len(preds):
            raise ValueError(f"{len(gts)} ground truths but {len(preds)} predictions")
        c = self._counts
        for gt, pred in zip(gts, preds):
            c["samples"] += 1
            std_gt, std_pred = standardize(gt, "reference"), standardize(pred, "reference")
            for suffix, g, p in (("", gt, pred), ("_std", std_gt, std_pred)):
                c["exact" + suffix] += g == p
                c["lcs2" + suffix] += 2 * LCSseq.similarity(g, p)
                c["chars" + suffix] += len(g) + len(p)
            c["aocr_seq_correct"] += pred[: len(gt)] == gt
            if gt:
                c["aocr_char_acc_sum"] += sum(a == b for a, b in zip(gt, pred)) / len(gt)
                c["aocr_char_samples"] += 1
            dist = Levenshtein.distance(gt, pred)
            c["edits"] += dist
            c["gt_chars"] += len(gt)
            c["one_minus_ned_sum"] += 1.0 - _ratio(dist, max(len(gt), len(pred)))

    def counts(self) -> dict[str, float]:
        """The raw sums, keyed (and ordered) as :data:`COUNT_KEYS`; a copy, safe to reduce across ranks."""
        return dict(self._counts)

    def add_counts(self, counts: Mapping[str, float]) -> None:
        """Add sums from another meter (e.g. another rank's :meth:`counts`).

        Raises:
            ValueError: ``counts`` does not have exactly the keys of :data:`COUNT_KEYS`.
        """
        if set(counts) != set(COUNT_KEYS):
            raise ValueError(f"count keys differ: expected {sorted(COUNT_KEYS)}, got {sorted(counts)}")
        for key in COUNT_KEYS:
            self._counts[key] += float(counts[key])

    def merge(self, other: RecognitionMeter | Mapping[str, float]) -> None:
        """Add another meter's sums, or a counts dict, to this one."""
        self.add_counts(other.counts() if isinstance(other, RecognitionMeter) else other)

    def compute(self) -> dict[str, float]:
        """Divide the sums into metrics.

        Every metric is 0.0 when no sample was seen. Otherwise, edge cases: character precision is 1.0 when
        every gt and prediction was empty; ``aocr_char_accuracy`` averages only samples with a non-empty gt
        (0.0 if there are none; attention_ocr would divide by zero); an empty gt always counts as correct for
        ``aocr_sequence_accuracy``; ``one_minus_ned`` is 1.0 for an empty gt read as empty; and ``cer`` divides
        by ``max(Σ len(gt), 1)``, so with only empty gts it is the number of inserted characters.

        Returns:
            ``samples``; ``annotation_precision`` and ``character_precision`` on raw strings (the former is
            exact-match word accuracy); the same with ``_std`` after ``"reference"`` standardization;
            ``aocr_sequence_accuracy``, ``aocr_char_accuracy``, ``cer`` and ``one_minus_ned`` on raw strings.
        """
        c = self._counts
        n = c["samples"]
        full = 1.0 if n else 0.0
        return {
            "samples": n,
            "annotation_precision": _ratio(c["exact"], n),
            "character_precision": _ratio(c["lcs2"], c["chars"], full),
            "annotation_precision_std": _ratio(c["exact_std"], n),
            "character_precision_std": _ratio(c["lcs2_std"], c["chars_std"], full),
            "aocr_sequence_accuracy": _ratio(c["aocr_seq_correct"], n),
            "aocr_char_accuracy": _ratio(c["aocr_char_acc_sum"], c["aocr_char_samples"]),
            "cer": c["edits"] / max(c["gt_chars"], 1.0),
            "one_minus_ned": _ratio(c["one_minus_ned_sum"], n),
        }


def compute_metrics(gts: Sequence[str], preds: Sequence[str]) -> dict[str, float]:
    """All metrics of :meth:`RecognitionMeter.compute` for one list of ground truths and predictions."""
    meter = RecognitionMeter()
    meter.update(gts, preds)
    return meter.compute()


def format_metrics(m: Mapping[str, float]) -> str:
    """A small aligned table of a :meth:`RecognitionMeter.compute` result, one metric per line."""
    rows = [
        ("samples", f"{int(m['samples'])}"),
        ("annotation precision", f"{m['annotation_precision']:.4f} (std {m['annotation_precision_std']:.4f})"),
        ("character precision", f"{m['character_precision']:.4f} (std {m['character_precision_std']:.4f})"),
        ("aocr sequence accuracy", f"{m['aocr_sequence_accuracy']:.4f}"),
        ("aocr char accuracy", f"{m['aocr_char_accuracy']:.4f}"),
        ("CER", f"{m['cer']:.4f}"),
        ("1 - NED", f"{m['one_minus_ned']:.4f}"),
    ]
    if "ece" in m:
        rows.append(("calibration error (ECE)", f"{m['ece']:.4f}"))
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(f"{name:<{width}}{value}" for name, value in rows)


ERROR_KINDS = ("exact", "case", "punctuation", "accents", "other")
_PUNCTUATION = str.maketrans("-—–", "   ", "'’‘`.,:;")  # FSNS's dash class to spaces; apostrophes and stops out


def error_kind(gt: str, pred: str) -> str:
    """What separates a reading from its ground truth, the mildest first: ``exact``; ``case`` (equal ignoring case);
    ``punctuation`` (equal ignoring case and apostrophes, dashes, stops); ``accents`` (equal once French accents are
    folded as well); else ``other`` (letters wrong, missing or extra)."""
    if gt == pred:
        return "exact"
    if gt.casefold() == pred.casefold():
        return "case"
    a, b = gt.casefold().translate(_PUNCTUATION), pred.casefold().translate(_PUNCTUATION)
    if " ".join(a.split()) == " ".join(b.split()):
        return "punctuation"
    if " ".join(standardize(a, "reference").split()) == " ".join(standardize(b, "reference").split()):
        return "accents"
    return "other"


def error_kinds(pairs: Sequence[tuple[str, str]]) -> dict[str, int]:
    """How many ``(gt, pred)`` pairs fall in each of :data:`ERROR_KINDS`."""
    counts = dict.fromkeys(ERROR_KINDS, 0)
    for gt, pred in pairs:
        counts[error_kind(gt, pred)] += 1
    return counts
