"""Beam search's numpy bookkeeping (inference/beam.py) against exhaustive search and a greedy trap; the model, ONNX
Runtime and the faces are tests/test_beam_read.py's (kept apart so that `make mutation` runs these fast ones)."""

import itertools

import numpy as np
import pytest

from seqocr.charset import EOS, GO, PAD
from seqocr.inference.beam import MAX_BEAM, beam_search, check_beam, step_path


class PrefixDecoder:
    """A toy decoder whose next-token distribution is a fixed function of the prefix written so far (a table, or
    pseudo-random per prefix): the state of row i is its prefix, reordered as the search asks."""

    def __init__(self, classes: int, rows: int, table: dict | None = None, seed: int = 0):
        self.classes, self.table, self.seed = classes, table or {}, seed
        self.prefixes: list[tuple[int, ...]] | None = None  # before the first step: GO, not part of a prefix
        self.rows = rows

    def logp(self, prefix: tuple[int, ...]) -> np.ndarray:
        if prefix in self.table:
            p = np.asarray(self.table[prefix], dtype=np.float64)
        else:
            p = np.random.default_rng([self.seed, len(prefix), *prefix]).dirichlet(np.ones(self.classes))
        return np.log(p).astype(np.float32)

    def step(self, tokens, parents):
        if self.prefixes is None:
            assert (tokens == GO).all() and parents is None and len(tokens) == self.rows
            self.prefixes = [()] * self.rows
        else:
            self.prefixes = [(*self.prefixes[p], int(t)) for p, t in zip(parents, tokens)]
        return np.stack([self.logp(pre) for pre in self.prefixes])


def exhaustive(decoder: PrefixDecoder, max_len: int, length_penalty: float) -> tuple[tuple[int, ...], float]:
    """The best sequence (ending at its EOS, or after max_len tokens) over every possible one."""
    best, best_key = None, -np.inf
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(decoder.classes), repeat=n):
            if EOS in seq[:-1] or (n < max_len and seq[-1] != EOS):
                continue
            score = sum(float(decoder.logp(seq[:k])[seq[k]]) for k in range(n))
            if score / n ** length_penalty > best_key:
                best, best_key = seq, score / n ** length_penalty
    return best, best_key


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_beam_wide_enough_finds_the_best_sequence(seed, length_penalty):
    classes, max_len = 5, 3  # every hypothesis fits in a beam of 5² + finished ones
    want, _ = exhaustive(PrefixDecoder(classes, 1, seed=seed), max_len, length_penalty)
    ids, probs = beam_search(PrefixDecoder(classes, 2 * MAX_BEAM, seed=seed), 2, MAX_BEAM, max_len, length_penalty)
    for row, prow in zip(ids, probs):  # two images, the same decoder: the same answer for each
        assert tuple(row[:len(want)]) == want and (row[len(want):] == PAD).all()
        expect = [np.exp(PrefixDecoder(classes, 1, seed=seed).logp(want[:k])[want[k]]) for k in range(len(want))]
        np.testing.assert_allclose(prow[:len(want)], expect, rtol=1e-6)
        assert (prow[len(want):] == 1.0).all()


# tokens: 0 PAD, 1 GO, 2 EOS, 3 "a", 4 "b". Greedy takes "a" (0.6) and then pays 0.3 at best; "b" then EOS is
# 0.4 * 0.9 = 0.36 against 0.6 * 0.3 = 0.18 for "a" EOS.
E = 1e-9  # never chosen
TRAP = {(): [E, E, E, 0.6, 0.4], (3,): [E, E, 0.3, 0.35, 0.35], (4,): [E, E, 0.9, 0.05, 0.05]}


@pytest.mark.parametrize("beam, want", [(1, [3, 3]), (2, [4, 2])])
def test_beam_two_escapes_the_greedy_trap(beam, want):
    ids, probs = beam_search(PrefixDecoder(5, beam, TRAP), 1, beam, 2)
    assert ids[0].tolist() == want
    if beam == 2:
        np.testing.assert_allclose(probs[0], [0.4, 0.9], rtol=1e-6)


@pytest.mark.parametrize("value, ok", [(1, True), (MAX_BEAM, True), (0, False), (-1, False), (MAX_BEAM + 1, False),
                                       (2.5, False), (True, False), ("3", False)])
def test_check_beam(value, ok):
    if ok:
        assert check_beam(value) == value
    else:
        with pytest.raises(ValueError, match="beam must be an integer from 1"):
            check_beam(value)


@pytest.mark.parametrize("path, step", [("m.onnx", "m.step.onnx"), ("d/model.v2.onnx", "d/model.v2.step.onnx")])
def test_step_path(path, step):
    assert str(step_path(path)) == step




# -- what the mutation run found unchecked (issue 24) ---------------------------------------------------------
@pytest.mark.parametrize("length_penalty", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("seed", range(3, 23))
def test_a_wide_beam_finds_the_best_sequence_under_every_length_penalty(seed, length_penalty):
    classes, max_len = 5, 3
    want, _ = exhaustive(PrefixDecoder(classes, 1, seed=seed), max_len, length_penalty)
    ids, _ = beam_search(PrefixDecoder(classes, MAX_BEAM, seed=seed), 1, MAX_BEAM, max_len, length_penalty)
    assert tuple(ids[0][:len(want)]) == want


def test_the_mean_per_token_ranks_a_longer_text_above_a_likelier_short_one():
    """EOS at once scores log 0.5 = -0.69 per token; "a" then EOS log(0.45 * 0.9) / 2 = -0.45: with the length
    penalty 1 the longer one wins (a score that did not start at 0 would tip it back)."""
    table = {(): [E, E, 0.5, 0.45, 0.05], (3,): [E, E, 0.9, 0.05, 0.05]}
    assert beam_search(PrefixDecoder(5, 2, table), 1, 2, 3, length_penalty=1.0)[0][0].tolist() == [3, 2, PAD]
    assert beam_search(PrefixDecoder(5, 2, table), 1, 2, 3, length_penalty=0.0)[0][0].tolist() == [2, PAD, PAD]


class PerImageDecoder(PrefixDecoder):
    """Image ``b`` (rows b·K .. b·K+K-1) follows ``tables[b]``; counts its steps."""

    def __init__(self, classes: int, k: int, tables: list[dict]):
        super().__init__(classes, k * len(tables))
        self.k, self.tables, self.steps = k, tables, 0

    def step(self, tokens, parents):
        self.steps += 1
        super().step(tokens, parents)
        return np.stack([np.log(np.asarray(self.tables[row // self.k].get(pre, [0.2] * self.classes)))
                         for row, pre in enumerate(self.prefixes)]).astype(np.float32)


def test_the_search_stops_once_every_image_is_settled_and_not_before():
    sure = {(): [E, E, 0.99, 0.005, 0.005]}  # EOS at once
    slow = {(): [E, E, 0.01, 0.98, 0.01], (3,): [E, E, 0.01, 0.98, 0.01], (3, 3): [E, E, 0.98, 0.01, 0.01]}
    decoder = PerImageDecoder(5, 2, [sure])
    ids, probs = beam_search(decoder, 1, 2, 10)
    assert ids[0].tolist() == [2] + [PAD] * 9 and decoder.steps == 1 and ids.dtype == np.int64
    assert probs.dtype == np.float32 and probs[0, 0] == pytest.approx(0.99, rel=1e-6)
    decoder = PerImageDecoder(5, 2, [sure, slow])  # image 0 settles first: image 1 must still be read in full
    ids, _ = beam_search(decoder, 2, 2, 10)
    assert ids[:, :4].tolist() == [[2, PAD, PAD, PAD], [3, 3, 2, PAD]] and decoder.steps == 3


def test_ties_go_to_the_lower_id():
    ids, _ = beam_search(PerImageDecoder(64, 1, [{(): [1 / 64] * 64}]), 1, 1, 1)
    assert ids[0].tolist() == [PAD]
    table = {(): [E, E, E] + [1 / 61] * 61, **{(t,): [E, E, 1.0] + [E] * 61 for t in range(3, 64)}}
    ids, _ = beam_search(PerImageDecoder(64, 4, [table]), 1, 4, 2)
    assert ids[0].tolist() == [3, 2]


def test_ties_among_many_classes_go_to_the_lower_id():
    """200 classes of 3 probability levels: a sort that is not stable (numpy's default quicksort) picks another of
    the likeliest ids on this pattern."""
    level = np.random.default_rng(1).integers(0, 3, 200) + 1.0
    ids, _ = beam_search(PerImageDecoder(200, 1, [{(): level / level.sum()}]), 1, 1, 1)
    assert ids[0].tolist() == [int(np.flatnonzero(level == level.max())[0])]
