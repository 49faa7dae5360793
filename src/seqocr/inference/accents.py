"""Accents as the map writes them: French plates often paint capitals without their accents (``EGLISE``), or with
other ones (``BOULÉVARD``), and a model that reads what is painted writes ``Eglise`` however sure it is of its
letters. The language model (:class:`~.lm.NgramLM`) knows how the words of street names are written:
:func:`restore` looks, for each reading, for the accents of its letters (each letter and its case kept) that the
language model finds likeliest, and takes them where they are far likelier than the reading as it is
(:data:`MARGIN`): a common word or a known name is written as the map writes it, an invented name keeps what is
painted. An accent the model read is evidence too: taking it away or changing it costs :data:`CHANGE` more (without
that cost, names the language model has never seen lost the accents they were painted with). Torch-free; both
readers apply it through :func:`~.decoding.readings`, wherever the language model is fused into the reading."""

from __future__ import annotations

import functools
import unicodedata

import numpy as np

from ..charset import EOS, Charset
from .lm import NgramLM

# A reading's accents are changed only where the language model finds the new ones at least MARGIN likelier
# (natural log: e^7 times), and CHANGE more for each accent read that is taken away or changed: both chosen on
# generated tuning signs of another seed than the reported columns (BENCHMARKS, "Accents as the map writes them").
MARGIN = 7.0
CHANGE = 8.0
WIDTH = 8  # hypotheses kept per reading while the letters' accents are chosen left to right


def without_accents(text: str) -> str:
    """``text`` with its letters' accents taken off (``Église`` -> ``Eglise``)."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@functools.lru_cache(maxsize=8)
def alternatives(charset: Charset) -> np.ndarray:
    """(C, K) token ids: for each letter, itself then the same letter in the same case with each other accent the
    charset has, or none (``e``: ``é``, ``è``, ``ê``, ``ë``; ``é``: ``e``, ``è``, ...), padded with -1; any other
    token (a letter without accented forms, no letter) itself only."""
    chars = {i + charset.offset: c for i, c in enumerate(charset.chars)}
    groups: dict[str, list[int]] = {}
    for i, c in chars.items():
        if c.isalpha() and len(without_accents(c)) == 1:
            groups.setdefault(without_accents(c), []).append(i)
    rows = [[t] + [o for o in groups.get(without_accents(chars[t]), []) if o != t] if t in chars else [t]
            for t in range(len(charset))]
    out = np.full((len(charset), max(map(len, rows))), -1, dtype=np.int64)
    for t, row in enumerate(rows):
        out[t, :len(row)] = row
    return out


@functools.lru_cache(maxsize=8)
def costs(charset: Charset, change: float) -> np.ndarray:
    """(C, K) what each of :func:`alternatives` costs, in natural log: nothing to keep a letter or to give a bare
    letter an accent, ``change`` to take an accent away or change it (inf: never), inf where there is none."""
    options = alternatives(charset)
    bare = np.array([t >= charset.offset and without_accents(charset.chars[t - charset.offset]) == charset.chars[
        t - charset.offset] for t in range(len(charset))])
    out = np.where(bare[:, None], 0.0, np.full(options.shape, change))
    out[:, 0] = 0.0
    return np.where(options < 0, np.inf, out)


def token_ids(texts: list[str], charset: Charset) -> np.ndarray:
    """(B, T) token ids of ``texts`` as a reader gives them: each text, EOS, then padding."""
    ids = np.zeros((len(texts), max(map(len, texts), default=0) + 1), dtype=np.int64)
    for row, text in enumerate(texts):
        ids[row, :len(text)] = charset.encode(text)
        ids[row, len(text)] = EOS
    return ids


def _lengths(ids: np.ndarray) -> np.ndarray:
    ends = ids == EOS
    return np.where(ends.any(axis=1), ends.argmax(axis=1), ids.shape[1])


def scores(lm: NgramLM, ids: np.ndarray) -> np.ndarray:
    """(B,) the language model's log-probability of each reading (token ids, ending at EOS or the row's end), its
    EOS included."""
    lengths = _lengths(ids)
    total = np.zeros(len(ids))
    for t in range(int(lengths.max(initial=0)) + 1):
        live = np.flatnonzero(lengths >= t)
        token = np.where(lengths[live] == t, EOS, ids[live, min(t, ids.shape[1] - 1)])
        total[live] += lm.logprobs(ids[live, :t])[np.arange(len(live)), token]
    return total


def best_accents(lm: NgramLM, ids: np.ndarray, width: int = WIDTH, change: float = CHANGE
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For each reading (B, T), the accents the language model likes best over its letters, each accent read that
    is taken away or changed costing ``change`` (a beam of ``width``, left to right), and that variant's
    log-probability less its costs, its EOS included: ((B, T) token ids, (B,) scores)."""
    options, cost = alternatives(lm.charset), costs(lm.charset, change)
    lengths = _lengths(ids)
    rows, steps = ids.shape
    padded = np.concatenate([ids, np.full((rows, 1), EOS, dtype=ids.dtype)], axis=1)
    beams = np.zeros((rows, 1, 0), dtype=np.int64)        # (B, W, t): each reading's hypotheses so far
    totals = np.zeros((rows, 1))
    for t in range(int(lengths.max(initial=0)) + 1):
        width_now = beams.shape[1]
        logp = lm.logprobs(beams.reshape(rows * width_now, t)).reshape(rows, width_now, -1)
        choice = options[padded[:, t]]                                        # (B, K), -1 where none
        choice[lengths <= t, 1:] = -1
        choice[lengths == t, 0] = EOS                                         # the reading's end, scored
        gain = np.take_along_axis(logp, np.maximum(choice, 0)[:, None, :].repeat(width_now, 1), axis=2)
        gain = gain - cost[padded[:, t]][:, None, :]
        gain[lengths < t] = 0.0                                               # past its end: carried as read
        gain = np.where(choice[:, None, :] < 0, -np.inf, gain)
        flat = (totals[:, :, None] + gain).reshape(rows, -1)                  # (B, W * K)
        keep = max(1, min(width, int(np.isfinite(flat).sum(axis=1).max())))  # a reading the n-gram calls impossible
        # (PAD or GO inside it) keeps one hypothesis of score -inf, and its accents as read
        top = np.argsort(-flat, axis=1, kind="stable")[:, :keep]
        parent, k = np.divmod(top, choice.shape[1])
        token = np.take_along_axis(choice, k, axis=1)
        beams = np.concatenate([np.take_along_axis(beams, parent[:, :, None], axis=1), token[:, :, None]], axis=2)
        totals = np.take_along_axis(flat, top, axis=1)
    best = np.argmax(totals, axis=1)
    span = min(beams.shape[2], steps)
    out = ids.copy()
    out[:, :span] = np.where(np.arange(span) < lengths[:, None], beams[np.arange(rows), best, :span], ids[:, :span])
    return out, totals[np.arange(rows), best]


def accent_doubt(lm: NgramLM, ids: np.ndarray, change: float = CHANGE) -> tuple[np.ndarray, np.ndarray]:
    """For readings (B, T): their best accents (:func:`best_accents`, ``change`` for each accent read that they
    take away or change) and (B,) how much likelier (natural log) the language model finds those than the readings'
    own accents: 0 or more, nan for a reading the n-gram calls impossible either way."""
    best, best_score = best_accents(lm, ids, change=change)
    with np.errstate(invalid="ignore"):  # -inf - -inf
        return best, best_score - scores(lm, ids)


def restore(lm: NgramLM, ids: np.ndarray, margin: float = MARGIN, change: float = CHANGE
            ) -> tuple[np.ndarray, np.ndarray]:
    """Readings (B, T) with their letters' accents taken from the language model where its best accents are more
    than ``margin`` (natural log) likelier than the reading's own (:func:`accent_doubt`); and (B,) whether each was
    changed (a reading the n-gram calls impossible is kept)."""
    if not len(ids):
        return ids, np.zeros(0, dtype=bool)
    best, doubt = accent_doubt(lm, ids, change)
    changed = (doubt > margin) & (best != ids).any(axis=1)
    return np.where(changed[:, None], best, ids), changed
