"""Accents as the map writes them (seqocr.inference.accents): the language model adds the accents a plate left out
where it is far surer of them, takes one read away or changes it only where it is surer still, leaves an invented
name as painted and a gazetteer's name as its list writes it; both readers reach it through
``decoding.readings``."""

from __future__ import annotations

import numpy as np
import pytest

from seqocr.charset import EOS, Charset
from seqocr.inference.accents import alternatives, best_accents, costs, restore, scores, token_ids
from seqocr.inference.decoding import GATE, Found, Search, gated, readings
from seqocr.inference.lexicon import Lexicon
from seqocr.inference.lm_build import build

FSNS = Charset.fsns()
STREETS = ["Rue de l‘Église", "Place de l‘Église", "Rue du Général Leclerc", "Avenue du Général de Gaulle",
           "Rue de la Côte", "Chemin de la Côte", "Rue Hélène Boucher", "Place de la Libération",
           "Rue de la Gare", "Impasse des Écoles", "Rue Élise Martin", "Rue Elise Martin", "Rue Elise Durand"] * 3


@pytest.fixture(scope="module")
def lm():
    return build(STREETS, FSNS, order=6, min_count=1)


def batch(*texts: str) -> np.ndarray:
    """Token ids of ``texts`` as a reader returns them: each text, EOS, then padding."""
    out = np.zeros((len(texts), max(map(len, texts)) + 3), dtype=np.int64)
    for row, text in enumerate(texts):
        out[row, :len(text)] = FSNS.encode(text)
        out[row, len(text)] = EOS
    return out


def texts(ids: np.ndarray) -> list[str]:
    return [FSNS.decode(row) for row in ids]


def test_a_letter_may_take_any_accent_of_its_case_and_only_a_bare_one_takes_it_for_free():
    table, cost = alternatives(FSNS), costs(FSNS, 8.0)

    def options(char):
        row = FSNS.encode(char)[0]
        return {FSNS.decode([t]): float(c) for t, c in zip(table[row], cost[row]) if t >= 0}
    assert options("e") == dict.fromkeys("eéèêë", 0.0) and options("E") == dict.fromkeys("EÉÈÊË", 0.0)
    assert options("c") == {"c": 0.0, "ç": 0.0} and options("o") == {"o": 0.0, "ô": 0.0}
    assert options("é") == {"é": 0.0, "e": 8.0, "è": 8.0, "ê": 8.0, "ë": 8.0}
    assert options("z") == {"z": 0.0} and options(" ") == {" ": 0.0} and options("‘") == {"‘": 0.0}
    assert table[EOS, 0] == EOS and (table[EOS, 1:] == -1).all()
    assert np.isinf(costs(FSNS, np.inf)[FSNS.encode("é")[0], 1:]).all()


def test_a_reading_is_scored_as_the_language_model_scores_its_text(lm):
    ids = batch("Rue de la Gare", "Zq", "Rue du Général Leclerc")
    assert scores(lm, ids) == pytest.approx([lm.score(t) for t in texts(ids)])
    assert (token_ids(["Rue de la Gare", "Zq", "Rue du Général Leclerc"], FSNS) == ids[:, :-2]).all()
    assert token_ids(["", "a"], FSNS).tolist() == [[EOS, 0], [FSNS.encode("a")[0], EOS]]


def test_the_accents_a_plate_left_out_are_written_as_the_map_writes_them(lm):
    read = batch("Rue de l‘Eglise", "Rue du General Leclerc", "Chemin de la Cote", "Rue Helene Boucher",
                 "Impasse des Ecoles", "Rue de la Gare")
    fixed, changed = restore(lm, read, margin=4.0)
    assert texts(fixed) == ["Rue de l‘Église", "Rue du Général Leclerc", "Chemin de la Côte", "Rue Hélène Boucher",
                            "Impasse des Écoles", "Rue de la Gare"]
    assert changed.tolist() == [True] * 5 + [False]
    assert (fixed[:, -3:] == read[:, -3:]).all()  # past the text: untouched


def test_a_name_the_model_does_not_know_or_a_close_call_keeps_what_is_painted(lm):
    read = batch("Rue Zorbadine Kelevre", "Rue Elise Martin", "Rue Élise Durand", "Rue de la Gare")
    fixed, changed = restore(lm, read, margin=4.0)
    assert not changed.any() and (fixed == read).all()
    # "Elise Martin" is written both ways (a close call, under the margin); "Elise Durand" is only ever written
    # without, but the accent read is evidence: taking it away would cost more than the language model gains
    best, gain = best_accents(lm, read[2:3], change=0.0)
    assert texts(best) == ["Rue Elise Durand"] and 0 < float(gain[0] - scores(lm, read[2:3])[0]) < 8.0


def test_an_accent_read_is_changed_only_where_the_gain_beats_the_margin_and_its_cost(lm):
    read = batch("Rue du Génèral Leclerc")
    free = float(best_accents(lm, read, change=0.0)[1][0] - scores(lm, read)[0])
    assert texts(restore(lm, read, margin=4.0, change=free - 4.0 - 1e-6)[0]) == ["Rue du Général Leclerc"]
    assert texts(restore(lm, read, margin=4.0, change=free - 4.0 + 1e-6)[0]) == ["Rue du Génèral Leclerc"]
    assert texts(restore(lm, read, margin=4.0, change=np.inf)[0]) == ["Rue du Génèral Leclerc"]


def test_a_margin_as_large_as_the_gain_keeps_the_reading(lm):
    read = batch("Rue de l‘Eglise")
    _, best_score = best_accents(lm, read)
    gain = float(best_score[0] - scores(lm, read)[0])
    assert gain > 4.0
    assert texts(restore(lm, read, margin=gain - 1e-6)[0]) == ["Rue de l‘Église"]
    assert texts(restore(lm, read, margin=gain + 1e-6)[0]) == ["Rue de l‘Eglise"]
    empty = np.zeros((0, 5), dtype=np.int64)
    assert restore(lm, empty)[0].shape == (0, 5)


def test_readings_take_the_accents_with_a_language_model_but_not_a_gazetteers_name(lm):
    read = batch("Rue de l‘Eglise", "Place de l‘Eglise")
    probs = np.full(read.shape, 0.9, dtype=np.float32)
    with_lm = Search(beam=8, lm=lm, lm_weight=0.3, lm_bonus=1.0)
    assert [r.text for r in readings(Found(read, probs), FSNS, with_lm)] == ["Rue de l‘Église", "Place de l‘Église"]
    assert [r.text for r in readings(Found(read, probs), FSNS)] == ["Rue de l‘Eglise", "Place de l‘Eglise"]
    off = Search(beam=8, lm=lm, lm_weight=0.3, lm_bonus=1.0, accents=None)
    assert [r.text for r in readings(Found(read, probs), FSNS, off)] == ["Rue de l‘Eglise", "Place de l‘Eglise"]
    named = readings(Found(read, probs, np.array([True, False])), FSNS, with_lm)
    assert [(r.text, r.lexicon) for r in named] == [("Rue de l‘Eglise", True), ("Place de l‘Église", False)]
    same = readings(Found(read, probs), FSNS, with_lm)
    assert [r.confidence for r in same] == [r.confidence for r in readings(Found(read, probs), FSNS)]


def test_a_guided_readings_confidence_is_calibrated_by_its_power_and_a_kept_one_is_not(lm):
    """The gate keeps the confident greedy reading as it is; the one searched again with the language model gets
    its visual confidence raised to the guided power (read right more often than its product of probabilities
    says); a gazetteer's search keeps its product."""
    read = batch("Rue de la Gare", "Rue de la Gare")
    probs = np.ones(read.shape, dtype=np.float32)
    probs[0, 0] = 0.995                                         # the first: above the gate, kept
    probs[1, 0] = 0.5                                           # the second: under it
    again_probs = np.ones((1, read.shape[1]), dtype=np.float32)
    again_probs[0, :2] = 0.8

    def again(rows):
        assert rows.tolist() == [1]
        return Found(read[rows], again_probs)
    how = Search(beam=8, lm=lm, lm_weight=0.3, lm_bonus=1.0, guided_power=0.5)
    found = gated(Found(read, probs), again, how)
    assert 0.5 < GATE < 0.995 and found.confidence() == pytest.approx([0.995, (0.8 * 0.8) ** 0.5])
    plain = gated(Found(read, probs), again, Search(beam=8, lm=lm, lm_weight=0.3, guided_power=1.0))
    assert plain.confidence() == pytest.approx([0.995, 0.64])
    names = Search(beam=8, lexicon=Lexicon(["Rue de la Gare"], FSNS), guided_power=0.5)
    named = gated(Found(read, probs), lambda rows: Found(read[rows], again_probs, np.ones(len(rows), bool)), names)
    assert named.confidence() == pytest.approx([0.995, 0.64]) and named.lexicon.tolist() == [True, True]


def test_a_reading_without_its_end_or_with_a_token_no_text_holds_is_handled(lm):
    """A reading as long as the decoder's steps (no EOS) is restored as any other; one holding PAD before its end
    (greedy decoding can emit it), which the language model calls impossible, is kept as read, alone or in a batch."""
    full = np.array([FSNS.encode("Rue de l‘Eglise")])              # no EOS: the row's end is the text's
    assert texts(restore(lm, full, margin=4.0)[0]) == ["Rue de l‘Église"]
    odd = batch("Rue de l‘Eglise")
    odd[0, 3] = 0                                                    # PAD inside the text
    fixed, changed = restore(lm, odd, margin=4.0)
    assert (fixed == odd).all() and not changed.any()
    both = np.concatenate([odd, batch("Rue de l‘Eglise")])
    assert texts(restore(lm, both, margin=4.0)[0]) == [texts(odd)[0], "Rue de l‘Église"]
