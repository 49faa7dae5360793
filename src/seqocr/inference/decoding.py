"""How a reader turns an encoding into token ids, torch-free: greedy or beam search, a language model fused into
the beam (:class:`~.lm.LanguagePrior`), a gazetteer (:class:`~.lexicon.Lexicon`) with its fallback to free reading,
and the early exit of a model that reads fewer views first. The PyTorch and ONNX Runtime readers differ only in
how they encode images and step the decoder; both hand those over to :func:`search` and :func:`read_with_exit`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..charset import Charset
from ..errors import ConfigError
from .accents import CHANGE, MARGIN, restore
from .beam import LENGTH_PENALTY, StepDecoder, beam_hypotheses, check_beam
from .lexicon import FALLBACK_MARGIN, Lexicon
from .lm import LanguagePrior, NgramLM
from .postprocess import Reading, decode_batch

LM_BEAM = 8  # the beam a language model or a gazetteer reads with when none is asked for: fusion needs hypotheses
LM_WEIGHT, LM_BONUS = 0.3, 1.0  # shallow fusion's defaults, chosen on generated signs (BENCHMARKS, "the language model")
# A guided search costs the beam's width in decoder steps: only signs whose greedy reading is less confident than
# this are searched again with the language model or the gazetteer. How many that is grows with the model's
# temperature, and a fusion weight chosen at one temperature over-corrects invented names at a higher one: the two
# are chosen together (BENCHMARKS, "The refitted temperature with the language model").
GATE = 0.99
# A guided reading's confidence is the product of its tokens' visual probabilities, where the language model chose
# a hypothesis the image alone found less likely: read on generated signs, the readings the gate sent to the search
# were right more often than that said (0.65 right at a mean of 0.52 on stickers). Each of their tokens'
# probabilities raised to this power (so their product too; fitted by NLL on generated tuning signs: `python -m
# benchmarks.guided_confidence`), it says how often they are right. Only behind the gate (gated()): a search of
# every sign (gate 1) keeps the visual product, which it was not fitted for.
GUIDED_POWER = 0.35


@dataclass(frozen=True)
class Search:
    """A reading's search: the beam width, the language model fused into it (with its weight and per-character
    bonus) and the gazetteer, if any."""
    beam: int = 1
    lm: NgramLM | None = None
    lm_weight: float = 0.0
    lm_bonus: float = 0.0
    lexicon: Lexicon | None = None
    gate: float = GATE  # guided search only where greedy reading is less confident than this (1: every sign)
    lm_path: Path | None = None  # the file the language model was read from
    accents: float | None = MARGIN  # the language model's accents taken by this margin (None: as read; .accents)
    guided_power: float = GUIDED_POWER  # a gated guided reading's confidence, calibrated (1: the visual product)

    def __post_init__(self):
        check_beam(self.beam)
        if self.lm_weight < 0:
            raise ConfigError(f"the language model's weight must be 0 or more, got {self.lm_weight}")
        if not 0 <= self.gate <= 1:
            raise ConfigError(f"the guided search's gate is a confidence, from 0 to 1, got {self.gate}")

    @classmethod
    def load(cls, charset: Charset, beam: int = 0, lm: str | Path | None = None, lm_weight: float = LM_WEIGHT,
             lm_bonus: float = LM_BONUS, lexicon: str | Path | None = None, gate: float = GATE,
             accents: bool = True) -> Search:
        """The search a reader of ``charset`` reads with: the language model file ``lm`` fused at ``lm_weight``
        and ``lm_bonus`` (its accents taken where it is far surer of them, unless ``accents`` is False), the
        gazetteer file ``lexicon`` (one name a line); ``beam`` 0 means :data:`LM_BEAM` with either, else greedy. A
        missing or foreign file is a :class:`~seqocr.errors.DataError` naming it."""
        model = NgramLM.load(lm) if lm else None
        if model is not None:
            model.check_charset(charset, str(lm))
        names = Lexicon.from_file(lexicon, charset) if lexicon else None
        if not beam:
            beam = LM_BEAM if model is not None or names is not None else 1
        return cls(beam, model, lm_weight if model is not None else 0.0, lm_bonus, names, gate,
                   Path(lm) if model is not None else None, MARGIN if accents else None)

    @property
    def guided(self) -> bool:
        """Whether a language model or a gazetteer guides the search (else it is the plain beam or greedy)."""
        return self.prior is not None or self.lexicon is not None

    @property
    def prior(self) -> LanguagePrior | None:
        return None if self.lm is None or not self.lm_weight else LanguagePrior(self.lm, self.lm_weight,
                                                                                  self.lm_bonus)


class Found:
    """Token ids (B, T), the decoder's probabilities (B, T), and per image whether the gazetteer's name was taken
    (None without a gazetteer)."""

    def __init__(self, ids: np.ndarray, probs: np.ndarray, lexicon: np.ndarray | None = None):
        self.ids, self.probs, self.lexicon = ids, probs, lexicon

    def confidence(self) -> np.ndarray:
        return np.prod(self.probs.astype(np.float64), axis=1)

    def replace(self, rows: np.ndarray, other: Found) -> Found:
        """These readings with ``rows`` taken from ``other`` (read again)."""
        ids, probs = self.ids.copy(), self.probs.copy()
        ids[rows], probs[rows] = other.ids, other.probs
        lexicon = None
        if self.lexicon is not None:
            lexicon = self.lexicon.copy()
            lexicon[rows] = other.lexicon
        return Found(ids, probs, lexicon)


def readings(found: Found, charset: Charset, how: Search | None = None) -> list[Reading]:
    """The readings of ``found``, each saying whether its text is a gazetteer's name (with a gazetteer); with
    ``how``'s language model, their accents as it writes them (:func:`with_accents`)."""
    if how is not None:
        found = with_accents(found, how)
    out = decode_batch(found.ids, found.probs, charset)
    if found.lexicon is None:
        return out
    return [replace(r, lexicon=bool(taken)) for r, taken in zip(out, found.lexicon)]


def with_accents(found: Found, how: Search) -> Found:
    """``found`` with its letters' accents taken from ``how``'s language model where it is far surer of them
    (:func:`~.accents.restore`: a plate paints ``EGLISE``, the map writes ``Église``); the same letters and
    confidences. A gazetteer's name is kept as its list writes it; without a language model, or with
    ``how.accents`` None, ``found`` as it is."""
    if how.lm is None or how.accents is None or not len(found.ids):
        return found
    rows = np.arange(len(found.ids)) if found.lexicon is None else np.flatnonzero(~found.lexicon.astype(bool))
    ids = found.ids.copy()
    ids[rows] = restore(how.lm, found.ids[rows], how.accents)[0]
    return Found(ids, found.probs, found.lexicon)


def search(decoder: Callable[[int], StepDecoder], batch: int, max_len: int, how: Search) -> Found:
    """The beam search ``how`` asks for over the images that ``decoder(K)`` steps (a fresh decoder of the same
    encoding, its rows repeated for K hypotheses, each call: the gazetteer searches twice). With a gazetteer, its
    best name is taken where its decoder log-probability is at most :data:`~.lexicon.FALLBACK_MARGIN` below the
    free reading's, or where it is the free reading but for accents and case (plates paint capitals without the
    accents a map writes: ``EGLISE`` read freely is the list's ``Église``)."""
    ids, probs, _ = beam_hypotheses(decoder(how.beam), batch, how.beam, max_len, LENGTH_PENALTY, how.prior)
    free = Found(ids[:, 0], probs[:, 0])
    if how.lexicon is None:
        return free
    ids, probs, scores = beam_hypotheses(decoder(how.beam), batch, how.beam, max_len, LENGTH_PENALTY, how.lexicon)
    named = Found(ids[:, 0], probs[:, 0])
    with np.errstate(divide="ignore"):
        near = np.log(named.confidence()) >= np.log(free.confidence()) - FALLBACK_MARGIN
    painted = np.array([how.lexicon.painted(a) == how.lexicon.painted(b) for a, b in zip(named.ids, free.ids)], bool)
    fits = np.isfinite(scores[:, 0]) & (near | painted)
    return Found(np.where(fits[:, None], named.ids, free.ids), np.where(fits[:, None], named.probs, free.probs),
                 fits)


def read_with_exit(first: Callable[[int], StepDecoder], more: Callable[[np.ndarray, int], StepDecoder],
                   batch: int, max_len: int, how: Search, again_below: float) -> Found:
    """:func:`search` over ``first`` (the images encoded from their fewer, sharpest views), then again over
    ``more(rows, K)`` (those images' encodings with one view more, or the same encodings for a model that reads
    every view) for the rows less confident than ``again_below``: the greedy reader's early exit where the model
    has one (:meth:`~seqocr.model.base.Seq2SeqOCR.search_memory`), for any search. A guided search with a gate
    reads greedily first and searches again, guided, only the rows less confident than the gate or
    ``again_below``: :func:`gated`."""
    if how.guided and how.gate < 1:
        found = search(first, batch, max_len, Search())
        return gated(found, lambda rows: search(lambda k: more(rows, k), len(rows), max_len, how), how, again_below)
    found = search(first, batch, max_len, how)
    if not again_below:
        return found
    unsure = np.flatnonzero(found.confidence() < again_below)
    if not len(unsure):
        return found
    return found.replace(unsure, search(lambda k: more(unsure, k), len(unsure), max_len, how))


def gated(greedy: Found, again: Callable[[np.ndarray], Found], how: Search, again_below: float = 0.0) -> Found:
    """Greedy readings ``greedy`` with the rows less confident than ``how.gate`` (or ``again_below``) replaced by
    ``again(rows)``, their guided search, its confidences raised to ``how.guided_power`` when the language model
    alone guides it (:data:`GUIDED_POWER`); with a gazetteer, every reading it does not hold is searched again too
    (a confident reading of what is painted, ``EGLISE``, may still be a name the map writes ``Église``), and a
    greedy reading kept is flagged as its name."""
    unsure = greedy.confidence() < max(how.gate, again_below)
    if how.lexicon is not None:
        held = np.array([how.lexicon.holds(row) for row in greedy.ids], bool)
        greedy, unsure = Found(greedy.ids, greedy.probs, held), unsure | ~held
    unsure = np.flatnonzero(unsure)
    if not len(unsure):
        return greedy
    found = again(unsure)
    if how.lexicon is None and how.guided_power != 1:
        found = Found(found.ids, found.probs.astype(np.float64) ** how.guided_power, found.lexicon)
    return greedy.replace(unsure, found)


def lm_card(path: Path) -> list[str]:
    """A model card's section (Markdown lines) on the language model file ``path`` shipped beside the weights:
    what it is, how the readers use it, and where its words come from under which licences (its metadata)."""
    lm = NgramLM.load(path)
    meta, words = lm.meta, lm.meta.get("words", {})
    return [
        "", "## The language model beside it", "",
        (f"`{path.name}` ({path.stat().st_size / 1e6:.1f} MB): a character {lm.order}-gram of French street names "
         f"(interpolated Kneser-Ney; `seqocr lm`), counted from {meta.get('names', 0):,} street names that the "
         f"generator's grammar made of {sum(words.values()):,} words (seed {meta.get('seed', 0)}, n-grams seen fewer "
         f"than {meta.get('min_count', 1)} times dropped). No FSNS label and no list of whole street names went into it."),
        (f"Every reading of this model uses it: a sign whose greedy reading is less confident than {GATE} is "
         f"searched again by a beam of {LM_BEAM} (the step graph beside the `.onnx`) with the language "
         f"model fused at weight {LM_WEIGHT} and {LM_BONUS} per character; `--no-lm` (`lm=False` in Python) reads "
         "without it. Every reading then takes from it its letters' accents where it is far surer of them (by "
         f"{MARGIN:g} in natural log, {CHANGE:g} more for each accent read that it takes away or changes: a plate "
         "painted `EGLISE`, the map writes `Église`). The figures above are measured reading with it."),
        "", "Its word lists and their licences:", "",
        *[f"- {name}: {what}" for name, what in meta.get("sources", {}).items()],
        "", "The file is a derivative of those lists and is distributed under CC-BY-SA 4.0 (wordfreq's data's",
        "licence), with the attributions above.",
    ]
