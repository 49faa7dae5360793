"""Turning peer OCR systems' raw reads of a sign into FSNS labels, and choosing among a sign's four views.

Pure Python (no numpy, no torch, no OCR engine): ``benchmarks/bench_peers.py`` runs Tesseract and RapidOCR and uses
these functions to score them against FSNS labels on the same footing as seqocr.

A peer reads a street sign the way it is painted: usually UPPERCASE, on several lines, with ASCII ``'`` and ``-``.
FSNS labels are title case with French particles in lowercase and the charset's canonical ``‘`` and ``—``
(``Rue de l‘Hôtel de Ville``, ``Rue Saint—Martin``). :func:`to_fsns_label` maps the first onto the second.

A peer sees each of the four 150×150 views of an FSNS image separately (:class:`ViewRead` per view) and
:func:`pick_view` keeps one read per image; see the docstring of ``benchmarks/bench_peers.py`` for the protocol.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from seqocr.charset import Charset
from seqocr.fsns import APOSTROPHE, APOSTROPHES, HYPHEN, HYPHENS, LOWERCASE_WORDS

#: Elided particles: the letter before the apostrophe (``d‘Orbey``, ``l‘Aurore``).
ELIDED = frozenset({"d", "l"})

_APOS_CLASS = re.escape(APOSTROPHES)
_HYPH_CLASS = re.escape(HYPHENS)
# "D' ORBEY" -> "D'ORBEY": an elided particle whose apostrophe is followed by a space.
_ELISION_GAP = re.compile(rf"(?<![^\W\d_])([dDlL])[{_APOS_CLASS}]\s+(?=[^\W\d_])")
# "SAINT- MARTIN" / "SAINT -MARTIN" -> "SAINT-MARTIN": a hyphen touching a word on one side only.
_HYPHEN_GAP_AFTER = re.compile(rf"(?<=\w)[{_HYPH_CLASS}]\s+(?=\w)")
_HYPHEN_GAP_BEFORE = re.compile(rf"(?<=\w)\s+[{_HYPH_CLASS}](?=\w)")
# Roman numerals II..XXXIX stay uppercase (``Rue Louis XIV``, ``Place Pie XII``); a lone I is left to title case.
_ROMAN = re.compile(r"X{0,3}(IX|IV|V?I{0,3})")
# Characters a peer reads from sign borders and dirt at a word's edge (the apostrophe and hyphen too, once canonical).
_EDGE_JUNK = frozenset("|.,;:!?*_=+<>/\\~^" + APOSTROPHE + HYPHEN)
_PAIRS = {"(": ")", "[": "]", "{": "}", "«": "»"}
_PAIRS.update({v: k for k, v in _PAIRS.items()})
_QUOTES = frozenset('"“”')  # FSNS folds " and “ into ”, so a quote's partner is any quote
_TRANSLATE = str.maketrans({**dict.fromkeys(APOSTROPHES, APOSTROPHE), **dict.fromkeys(HYPHENS, HYPHEN)})


@functools.lru_cache(maxsize=1)
def _fsns() -> Charset:
    return Charset.fsns()


def _is_roman(word: str) -> bool:
    return len(word) >= 2 and word.isupper() and _ROMAN.fullmatch(word) is not None


def _title(word: str) -> str:
    """``ORBEY`` -> ``Orbey``, ``1ER`` -> ``1er``, ``(NORD)`` -> ``(Nord)``, ``XIV`` stays (Roman numeral)."""
    if _is_roman(word):
        return word
    k = next((i for i, c in enumerate(word) if c.isalnum()), 0)  # leading punctuation is skipped, not digits
    return word[:k] + word[k:k + 1].upper() + word[k + 1:].lower()


def _case_part(part: str, first: bool) -> str:
    """Case one hyphen-free piece of a word, with its elision: ``D‘ORBEY`` -> ``d‘Orbey`` (``D‘Orbey`` first)."""
    if APOSTROPHE in part:
        head, _, tail = part.partition(APOSTROPHE)
        low = head.lower()
        if low == "del":  # "DEL'ANCIENNE": "de l'" read with its space lost; French has no "del'".
            return ("De" if first else "de") + " l" + APOSTROPHE + _case_part(tail, False)
        if low in ELIDED:
            head = head.upper() if first else low
        elif head:
            head = _title(head)
        return head + APOSTROPHE + _case_part(tail, False) if tail else head
    if part.lower() in LOWERCASE_WORDS and not first:
        return part.lower()
    return _title(part)


def _trim_edges(token: str) -> str:
    """Strip what cannot start or end a word of a street name: ``(PLACE`` -> ``PLACE``, ``COSTA|`` -> ``COSTA``,
    ``DINAN).`` -> ``DINAN``; a bracket whose partner is inside the token stays (``(NORD)``)."""
    def unpaired(c: str, rest: str) -> bool:
        if c in _QUOTES:
            return not any(q in rest for q in _QUOTES)
        return c in _PAIRS and _PAIRS[c] not in rest

    while token:
        if token[0] in _EDGE_JUNK or unpaired(token[0], token[1:]):
            token = token[1:]
        elif token[-1] in _EDGE_JUNK or unpaired(token[-1], token[:-1]):
            token = token[:-1]
        else:
            return token
    return token


def _dedupe_repeats(words: list[str]) -> list[str]:
    """A word sequence that is the same phrase repeated (``RUE X RUE X``) -> the phrase once (case-insensitive)."""
    n = len(words)
    low = [w.lower() for w in words]
    for period in range(1, n // 2 + 1):
        if n % period == 0 and low == low[:period] * (n // period):
            return words[:period]
    return words


def to_fsns_label(raw: str) -> str:
    """A peer's raw read of a sign -> the label FSNS would give it.

    * whitespace and line breaks collapse to single spaces; a phrase read several times over is kept once;
    * apostrophes (``'`` ``’`` ...) become ``‘`` and hyphens (``-`` ``–`` ...) become ``—``; an elided particle
      loses a space after its apostrophe (``D' ORBEY``) and a hyphen touching a word on one side only joins the
      two words (``SAINT- MARTIN``);
    * words are title-cased (``Saint—Martin``: each side of a hyphen too) except the particles in
      :data:`~seqocr.fsns.LOWERCASE_WORDS` and the elided ``d‘`` ``l‘``, lowercase unless first in the label;
      ``DEL'X`` is read as ``de l‘X``; Roman numerals II..XXXIX stay uppercase;
    * what cannot start or end a word (``|`` ``.`` ``,`` ``!`` ..., an unpaired bracket) is trimmed from each token
      (``(PLACE`` ``COSTA|`` ``DINAN).``), a token without a letter or digit (``|``, ``—``, ``..``; ``&`` aside)
      is dropped, as is every character that FSNS's charset cannot encode; ``"`` and ``“`` become ``”``;
    * the result is stripped (empty if nothing readable is left).
    """
    text = _ELISION_GAP.sub(r"\1'", raw)
    text = _HYPHEN_GAP_BEFORE.sub("-", _HYPHEN_GAP_AFTER.sub("-", text))
    text = text.translate(_TRANSLATE)
    cs = _fsns()
    bad = set(cs.missing(text))
    words = []
    for token in text.split():
        token = _trim_edges("".join(c for c in token if c not in bad))
        if token and (token == "&" or any(c.isalnum() for c in token)):
            words.append(token)
    words = _dedupe_repeats(words)
    out = []
    for token in words:
        parts = token.split(HYPHEN)
        out.append(HYPHEN.join(_case_part(p, first=not out and i == 0) for i, p in enumerate(parts)))
    label = " ".join(" ".join(out).split())
    return cs.normalize("".join(c for c in label if c in cs))


# ------------------------------------------------------------------------------------------------ peer reads
@dataclass(frozen=True)
class ViewRead:
    """What a peer read in one view: its text lines, and a confidence in [0, 1] for each line."""

    lines: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @functools.cached_property  # pick_view asks for it several times per read
    def label(self) -> str:
        return to_fsns_label(self.text)

    @property
    def mean_confidence(self) -> float:
        """Character-weighted mean confidence of the lines (0 for an empty read)."""
        chars = sum(len(t) for t in self.lines)
        return sum(len(t) * s for t, s in zip(self.lines, self.scores)) / chars if chars else 0.0

    @property
    def weight(self) -> float:
        """Σ characters × confidence over the lines: how much confidently read text the view holds."""
        return sum(len(t) * s for t, s in zip(self.lines, self.scores))


PICK_RULES = ("mean", "weight", "vote")


def pick_view(reads: Sequence[ViewRead], rule: str = "vote") -> tuple[int, ViewRead]:
    """Choose one of a sign's view reads: ``(index, read)``; an image's every view empty gives ``(0, reads[0])``.

    rule:
        ``mean``: the highest :attr:`ViewRead.mean_confidence`;
        ``weight``: the highest :attr:`ViewRead.weight` (confidence × length, so a view that read only part of
        the sign confidently loses to one that read all of it);
        ``vote``: the FSNS label (:func:`to_fsns_label`) read in most views, ties broken by the summed weight of
        the views that read it, then the view with the highest weight among those.
    """
    if not reads:
        raise ValueError("pick_view: no reads")
    if rule not in PICK_RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {', '.join(PICK_RULES)}")
    idx = [i for i, r in enumerate(reads) if r.label]
    if not idx:
        return 0, reads[0]
    if rule == "mean":
        best = max(idx, key=lambda i: (reads[i].mean_confidence, reads[i].weight, -i))
    elif rule == "weight":
        best = max(idx, key=lambda i: (reads[i].weight, -i))
    else:
        votes: dict[str, list[int]] = {}
        for i in idx:
            votes.setdefault(reads[i].label, []).append(i)
        winner = max(votes.values(), key=lambda v: (len(v), sum(reads[i].weight for i in v), -v[0]))
        best = max(winner, key=lambda i: (reads[i].weight, -i))
    return best, reads[best]


def parse_tesseract_tsv(tsv: str, min_conf: float = 0.0) -> dict[int, ViewRead]:
    """Tesseract's ``tsv`` output -> one :class:`ViewRead` per page (1-based ``page_num``, the image's position in
    a list-file run). Word rows (level 5) are grouped into lines by (block, paragraph, line); a line's confidence
    is the character-weighted mean of its words' (Tesseract's 0-100 scaled to 0-1). Words below ``min_conf``
    (0-100) or without a letter or digit are dropped. Pages with no word kept are absent."""
    pages: dict[int, dict[tuple[int, int, int], list[tuple[str, float]]]] = {}
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue  # header, non-word levels, or a word row without text
        try:
            page, block, par, line = (int(c) for c in cols[1:5])
            conf = float(cols[10])
        except ValueError:
            continue
        word = cols[11].strip()
        if not word or conf < min_conf or not any(c.isalnum() for c in word):
            continue
        pages.setdefault(page, {}).setdefault((block, par, line), []).append((word, conf / 100.0))
    out = {}
    for page, lines in pages.items():
        texts, scores = [], []
        for words in lines.values():
            texts.append(" ".join(w for w, _ in words))
            chars = sum(len(w) for w, _ in words)
            scores.append(sum(len(w) * c for w, c in words) / chars)
        out[page] = ViewRead(tuple(texts), tuple(scores))
    return out


def merge_lines(reads: Iterable[tuple[str, float]]) -> ViewRead:
    """``(text, score)`` pairs in reading order (RapidOCR's ``zip(txts, scores)``) -> a :class:`ViewRead`."""
    pairs = [(t.strip(), float(s)) for t, s in reads if t and t.strip()]
    return ViewRead(tuple(t for t, _ in pairs), tuple(s for _, s in pairs))
