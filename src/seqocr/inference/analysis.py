"""What the wrong readings of an evaluation have in common: pure functions over (ground truth, reading,
confidence), for ``seqocr eval --report`` (:mod:`.report`). Python, rapidfuzz and numpy, torch-free.

* :func:`reading_kind`: the mildest description of a wrong reading. After :func:`seqocr.metrics.error_kind`'s
  ``case``, ``punctuation`` and ``accents`` come ``particles`` (the same words once French particles such as
  "de", "la", "l'" are left out: "Rue de la Paix" read "Rue de Paix"), then, by the character edits that turn the
  truth into the reading, ``substituted``, ``missing`` or ``extra`` when all edits are of one sort, else ``mixed``.
* :func:`edits` and :func:`confusions`: those edits, and how often each (truth character, read character) pair
  occurs ("" where a character is missing or extra).
* :func:`reliability`: accuracy against confidence in bins, for the calibration plot.
* :func:`badness`: the order of "worst first".
* :func:`name_part_errors`: whether a reading got the street type (its first word) and the particles wrong, whatever
  else it got wrong (on real signs a model swaps them for likelier ones).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from ..calibration import confidence_bins
from ..fsns import FUNCTION_WORDS
from ..metrics import error_kind, standardize

PARTICLES = FUNCTION_WORDS  # the words of a street name that are not the name (fsns.py, their one home)
KINDS = ("case", "punctuation", "accents", "particles", "substituted", "missing", "extra", "mixed")
KIND_NAMES = {
    "case": "case only", "punctuation": "apostrophes, dashes, stops", "accents": "accents",
    "particles": "particles (de, la, l’ ...)", "substituted": "substituted characters",
    "missing": "missing characters", "extra": "extra characters", "mixed": "several kinds of edit",
}
_SPACES = str.maketrans({c: " " for c in "'’‘`-—–.,:;"})
_FOLDED_PARTICLES = frozenset(standardize(p, "reference") for p in PARTICLES)


def content_words(text: str) -> list[str]:
    """The words of ``text`` without its particles, case, accents and punctuation."""
    words = standardize(text.casefold().translate(_SPACES), "reference").split()
    return [w for w in words if w not in _FOLDED_PARTICLES]


def edits(gt: str, pred: str) -> list[tuple[str, str, str]]:
    """The fewest character edits from ``gt`` to ``pred``: ``(sort, truth char, read char)`` with sort one of
    substituted, missing (a truth character not read) and extra (a read character not in the truth)."""
    out = []
    for op in Levenshtein.editops(gt, pred):
        if op.tag == "replace":
            out.append(("substituted", gt[op.src_pos], pred[op.dest_pos]))
        elif op.tag == "delete":
            out.append(("missing", gt[op.src_pos], ""))
        else:
            out.append(("extra", "", pred[op.dest_pos]))
    return out


def reading_kind(gt: str, pred: str) -> str:
    """``exact``, or the first of :data:`KINDS` that describes the difference (see the module's docstring)."""
    kind = error_kind(gt, pred)
    if kind != "other":
        return kind
    if content_words(gt) == content_words(pred):
        return "particles"
    sorts = {sort for sort, _, _ in edits(gt, pred)}
    return sorts.pop() if len(sorts) == 1 else "mixed"


def confusions(pairs: Iterable[tuple[str, str]]) -> Counter:
    """``(truth char, read char) -> count`` over the edits of every ``(gt, pred)`` pair ("" for none)."""
    return Counter((t, r) for gt, pred in pairs if gt != pred for _, t, r in edits(gt, pred))


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    accuracy: float          # exact match among the readings in the bin (0 when empty)
    mean_confidence: float


def reliability(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[Bin]:
    """Readings in ``bins`` equal confidence bins (the last one includes 1.0; the bins of
    :func:`~seqocr.calibration.expected_calibration_error`): count, accuracy, mean confidence."""
    which = confidence_bins(confidences, bins)
    out = []
    for b in range(bins):
        inside = [(c, ok) for c, ok, k in zip(confidences, correct, which) if k == b]
        n = len(inside)
        out.append(Bin(b / bins, (b + 1) / bins, n, sum(ok for _, ok in inside) / n if n else 0.0,
                       sum(c for c, _ in inside) / n if n else 0.0))
    return out


def badness(gt: str, pred: str, confidence: float) -> tuple[bool, float, float]:
    """Larger is worse: wrong before right, then the normalised edit distance, then (for a wrong reading) a higher
    confidence (confidently wrong is the worst kind), or (for a right one) a lower confidence."""
    wrong = gt != pred
    ned = Levenshtein.normalized_distance(gt, pred)
    return wrong, ned, confidence if wrong else -confidence


def kinds_with_examples(rows: Sequence[tuple[str, str]], examples: int = 3) -> dict[str, tuple[int, list]]:
    """``kind -> (count, the first few (gt, pred) examples)`` over the wrong ``(gt, pred)`` pairs, in
    :data:`KINDS` order, kinds with no reading left out."""
    found: dict[str, tuple[int, list]] = {}
    for gt, pred in rows:
        if gt == pred:
            continue
        kind = reading_kind(gt, pred)
        n, ex = found.get(kind, (0, []))
        found[kind] = (n + 1, ex + [(gt, pred)] if len(ex) < examples else ex)
    return {k: found[k] for k in KINDS if k in found}


def particles_of(text: str) -> list[str]:
    """The particles of ``text`` in order, folded like :func:`content_words`, elided ``d‘`` as ``de``."""
    words = standardize(text.casefold().translate(_SPACES), "reference").split()
    return ["de" if w == "d" else w for w in words if w in _FOLDED_PARTICLES]


def name_part_errors(gt: str, pred: str) -> tuple[bool, bool]:
    """``(street type wrong, particles wrong)``: the first word differs (case and accents aside: ``Allee`` for
    ``Allée`` is an accent, not a type), the sequence of particles differs (``du`` for ``de``, ``de la`` for
    ``des``, one dropped)."""
    first = [content_words(t)[:1] or [""] for t in (gt, pred)]
    return first[0] != first[1], particles_of(gt) != particles_of(pred)


def name_part_rates(rows: Sequence[tuple[str, str]]) -> dict[str, float]:
    """Over ``(gt, pred)`` pairs: the share with the street type wrong and the share with the particles wrong."""
    wrong = [name_part_errors(gt, pred) for gt, pred in rows]
    n = max(len(wrong), 1)
    return {"type_error_rate": sum(t for t, _ in wrong) / n, "particle_error_rate": sum(p for _, p in wrong) / n}
