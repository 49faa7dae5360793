"""Capitals painted as French plates paint them (``data.synth_accents``): the plate loses or changes an accent, the
label keeps the map's form, and the share leaves every sign outside it as it was, to the byte."""

from __future__ import annotations

import random
import unicodedata

from seqocr.data.synth import synth_glyphs
from seqocr.data.synth.plate import paint_accents
from seqocr.shares import Shares

LINES = [[("RUE", 1.0, False), ("de", 0.7, False)], [("L'ÉGLISE", 1.0, False), ("FRANÇOIS", 1.0, False)],
         [("Émile", 0.8, False)]]


def bare(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def test_capitals_mostly_lose_their_accents_and_otherwise_one_letter_changes():
    """Four in five plates paint the capitals bare (the cedilla kept about half of those times); the others change
    one letter's accent. Lowercase segments keep theirs, and every segment keeps its length, scale and joining, so
    the glyph boxes still match the label."""
    counts = {"bare": 0, "cedilla": 0, "one": 0}
    for seed in range(400):
        out = paint_accents(LINES, random.Random(seed))
        assert [[(len(t), s, j) for t, s, j in line] for line in out] == \
            [[(len(t), s, j) for t, s, j in line] for line in LINES]
        assert out[0][1] == ("de", 0.7, False) and out[2] == LINES[2]  # lowercase as written
        painted = out[1][0][0] + " " + out[1][1][0]
        assert bare(painted) == bare("L'ÉGLISE FRANÇOIS")  # only accents move, never a letter
        if painted in ("L'EGLISE FRANÇOIS", "L'EGLISE FRANCOIS"):
            counts["bare"] += 1
            counts["cedilla"] += painted.endswith("Ç" + "OIS")
        else:
            changed = [a != b for a, b in zip(painted, "L'ÉGLISE FRANÇOIS")]
            assert sum(changed) == 1, painted  # one letter's accent, e.g. a grave for the acute
            counts["one"] += 1
    assert 0.75 < counts["bare"] / 400 < 0.85 and 0.4 < counts["cedilla"] / counts["bare"] < 0.6
    assert counts["one"] == 400 - counts["bare"]
    assert paint_accents(LINES, random.Random(0)) is not LINES and LINES[1][0][0] == "L'ÉGLISE"  # not in place


def test_a_capital_without_an_accent_may_take_one_and_lowercase_alone_is_left_alone():
    """Where the map writes no accent a plate sometimes adds one: a diaeresis on an E or I after A or O (NOËL,
    RAPHAËL), else an acute on an E inside a word; a sign with no capitals is returned as it was."""
    added = {paint_accents([[("RAPHAEL", 1.0, False)]], random.Random(s))[0][0][0] for s in range(200)}
    assert added == {"RAPHAEL", "RAPHAËL"}
    acute = {paint_accents([[("BERT", 1.0, False)]], random.Random(s))[0][0][0] for s in range(200)}
    assert acute == {"BERT", "BÉRT"}
    lower = [[("rue", 1.0, False), ("des Lilas", 1.0, False)]]
    assert paint_accents(lower, random.Random(1)) is lower


def test_the_accents_share_leaves_other_signs_as_they_were_and_keeps_the_label():
    """At 0 every sign is the plain one; at 1 the labels are the plain ones' (the map's form) while the images of
    signs painted in capitals change; invented names are never repainted (nothing could tell their accents)."""
    plain = [synth_glyphs(4, i, "test", Shares()) for i in range(16)]
    zero = [synth_glyphs(4, i, "test", Shares(accents=0.0)) for i in range(16)]
    full = [synth_glyphs(4, i, "test", Shares(accents=1.0)) for i in range(16)]
    assert all(p[0].tobytes() == z[0].tobytes() and p[1] == z[1] for p, z in zip(plain, zero))
    assert [f[1] for f in full] == [p[1] for p in plain]
    moved = sum(p[0].tobytes() != f[0].tobytes() for p, f in zip(plain, full))
    assert moved >= 4
    invented = Shares(invented=1.0)
    assert all(synth_glyphs(4, i, "test", invented)[0].tobytes() ==
               synth_glyphs(4, i, "test", Shares(invented=1.0, accents=1.0))[0].tobytes() for i in range(4))
