"""The hard phenomena of issue 36 item 5, each a share of the generator: signs at the legibility limit, a sticker or
a smear over a few letters, one real view among noise tiles, streets named after a person. Each leaves the signs
outside its share as they were, to the byte, and keeps the glyph boxes matched to the label."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from PIL import Image

from seqocr.data.sources import SynthDefaults, parse_synth
from seqocr.data.synth import TILE, person_name, proper_names, sign_lines, street_name, synth_glyphs
from seqocr.data.synth import cover as synth_cover
from seqocr.data.synth import scene as synth_scene
from seqocr.data.synth.names import _label_form
from seqocr.data.synth.plate import _display, is_first_name
from seqocr.data.synth_words import STREET_TYPES
from seqocr.imaging.preprocess import noise_free_views
from seqocr.shares import Shares

HARD = ("legibility", "sticker", "one_view", "oblique", "person")


def sharpness(img: Image.Image) -> float:
    """Mean absolute difference between horizontal neighbours, in grey: lower for a blurred view."""
    a = np.asarray(img.convert("L"), np.int16)
    return float(np.abs(np.diff(a, axis=1)).mean())


def views(img: Image.Image) -> list[Image.Image]:
    return [img.crop((k * TILE, 0, (k + 1) * TILE, TILE)) for k in range(4)]


@pytest.mark.parametrize("name", HARD)
def test_a_hard_share_leaves_the_signs_outside_it_as_they_were(name):
    """A share draws from a generator of its own: at 0 every sign is the plain one, and at 0.5 the signs it does
    not draw stay the plain ones to the byte (image, label, views, glyph boxes), beside the other shares too."""
    others = Shares(extras=0.3, small_names=0.3, clutter=0.3, few_views=0.2, accents=0.3)
    for base in (Shares(), others):
        plain = [synth_glyphs(4, i, "test", base) for i in range(12)]
        zero = [synth_glyphs(4, i, "test", Shares(**{**vars(base), name: 0.0})) for i in range(12)]
        half = [synth_glyphs(4, i, "test", Shares(**{**vars(base), name: 0.5})) for i in range(12)]
        same = lambda a, b: a[0].tobytes() == b[0].tobytes() and a[1:3] == b[1:3] and \
            np.array_equal(a[3], b[3], equal_nan=True)
        assert all(same(p, z) for p, z in zip(plain, zero))
        kept = [same(p, h) for p, h in zip(plain, half)]
        assert 2 <= sum(kept) <= 10  # about half moved, and the rest not at all
    assert getattr(parse_synth(f"synth:n=3,{name}=0.25", SynthDefaults(10, 1)).shares, name) == 0.25


@pytest.mark.parametrize("name", ("legibility", "sticker", "one_view", "oblique"))
def test_a_hard_phenomenon_keeps_the_label_and_its_glyph_boxes(name):
    """What is painted still maps one to one onto the label's characters: every real view has a box for each of
    them (NaN only for spaces, or out of frame), none for the noise tiles."""
    for i in range(6):
        plain = synth_glyphs(2, i, "train")
        _, text, present, glyphs = synth_glyphs(2, i, "train", Shares(**{name: 1.0}))
        assert text == plain[1]
        drawn = [j for j, ch in enumerate(text) if not ch.isspace()]
        assert np.isnan(glyphs[[j for j, ch in enumerate(text) if ch.isspace()]]).all()
        for k in range(present):
            assert np.isfinite(glyphs[drawn, k]).any(axis=1).mean() > 0.8, (text, k)
        assert np.isnan(glyphs[:, present:]).all()


def test_at_the_legibility_limit_every_view_is_drawn_small_and_blurred():
    """Capitals 5-7 px tall as the camera recorded them, blurred: every real view of every sign (the reader's two
    sharpest views no way out) is much less sharp than the same view of the plain sign, or as blurred as it already
    was; the layout and glyph boxes the same (the view's other draws are untouched)."""
    caps = [7.0, 12.0, 20.0, 40.0]
    for cap in caps:
        n, blur = synth_scene.at_limit(cap, random.Random(int(cap)))
        lo, hi = synth_scene.LIMIT_CAPS
        assert n == TILE if cap <= lo else lo - 0.5 <= cap * n / TILE <= hi + 0.5
        assert synth_scene.LIMIT_BLUR[0] <= blur <= synth_scene.LIMIT_BLUR[1]
    blurrier = []
    for i in range(8):
        img, text, present, glyphs = synth_glyphs(6, i, "test", Shares(legibility=1.0))
        p_img, p_text, p_present, p_glyphs = synth_glyphs(6, i, "test")
        assert (text, present) == (p_text, p_present) and np.array_equal(glyphs, p_glyphs, equal_nan=True)
        blurrier += [(sharpness(v), sharpness(p)) for v, p in zip(views(img)[:present], views(p_img)[:present])]
    assert all(v <= 1.2 * p for v, p in blurrier)
    assert np.mean([v / p for v, p in blurrier]) < 0.6 and np.mean([v for v, _ in blurrier]) < 3


def test_an_oblique_plate_is_narrowed_and_its_near_edge_taller():
    """Seen 50-68 degrees from facing the camera: the plate's width in the view is cos(angle) of what it would be,
    one vertical edge clearly taller than the other; the view's other draws (the scene, the tilt) unchanged."""
    scene = synth_scene._scene("Rue de la Gare", random.Random(0))
    lo, hi = (math.cos(math.radians(a)) for a in reversed(synth_scene.OBLIQUE_ANGLE))
    ratios = []
    for seed in range(30):
        plain = synth_scene._quad(scene, random.Random(seed))
        seen = synth_scene._quad(scene, random.Random(seed), random.Random(seed))
        width = lambda q: (math.dist(q[0], q[1]) + math.dist(q[3], q[2])) / 2
        assert lo - 0.12 < width(seen) / width(plain) < hi + 0.12
        left, right = math.dist(seen[0], seen[3]), math.dist(seen[1], seen[2])
        ratios.append(max(left, right) / min(left, right))
    lo, hi = ((1 + y) / (1 - y) for y in synth_scene.OBLIQUE_YAW)
    assert min(ratios) > lo - 0.05 and max(ratios) < hi + 0.1 and max(ratios) - min(ratios) > 0.1


def test_word_glyphs_group_the_painted_characters_by_label_word():
    """Elided articles and names in small capitals are segments joined to the one before: still one word."""
    rng = random.Random(9)
    for i in range(200):
        text = street_name(rng, "train")
        lines = _display(sign_lines(text, rng, random.Random(i)), "'")
        words = synth_cover.word_glyphs(lines)
        assert [len(w) for w in words] == [len(w) for w in text.split()], (text, lines)
        assert [j for w in words for j in w] == list(range(sum(len(w) for w in text.split())))
    assert synth_cover.word_glyphs([[("RUE", 1.0, False)], [("d'", 0.68, False), ("ORBEY", 1.0, True)]]) == \
        [[0, 1, 2], [3, 4, 5, 6, 7, 8, 9]]


def letter_shape(plate: np.ndarray, ink: np.ndarray, box: np.ndarray) -> float:
    """How much of a letter's shape (``ink``, its pixels on the uncovered plate) shows in ``plate`` within its box:
    the correlation of the ink mask with the grey level there, 0 where something uniform hides it."""
    h, w = ink.shape
    x0, y0, x1, y1 = np.round(box * [w, h, w, h]).astype(int)
    m, g = ink[y0:y1, x0:x1].astype(np.float32).ravel(), plate[y0:y1, x0:x1, :3].astype(np.float32).mean(-1).ravel()
    if m.std() < 1e-3 or g.std() < 0.5:
        return 0.0
    return abs(float(np.corrcoef(m, g)[0, 1]))


def test_a_cover_hides_a_run_of_one_word_and_nothing_else(monkeypatch):
    """The sticker or smear is painted on the plate over a letter or two of one word (a whole short word), wholly or
    from one side (its edge may take a neighbour's): those letters' shapes are gone or cut, the rest of the line is
    untouched, and the plate's outline, its glyph boxes and every other draw of the scene stay the same. Both kinds
    are drawn, and both whole letters hidden and letters half shown."""
    drawn, least = [], []
    for kind in ("_sticker", "_smear"):
        real = getattr(synth_cover, kind)
        monkeypatch.setattr(synth_cover, kind, lambda *a, _real=real, _kind=kind: drawn.append(_kind) or _real(*a))
    for seed in range(16):
        text = "Rue du Général Maréchal" if seed % 2 else "Avenue Jean Mermoz"
        plain = synth_scene._scene(text, random.Random(seed))
        covered = synth_scene._scene(text, random.Random(seed), cover=random.Random(seed))
        assert (plain.width, plain.cap, plain.tilt) == (covered.width, covered.cap, covered.tilt)
        assert np.array_equal(plain.glyphs, covered.glyphs)
        a, b = (np.asarray(s.plates[0], np.int16) for s in (plain, covered))
        assert np.array_equal(a[..., 3], b[..., 3])  # nothing drawn off the plate
        opaque = a[..., 3] == 255
        ground = np.median(a[opaque][:, :3], axis=0)
        ink = opaque & (np.abs(a[..., :3] - ground).sum(-1) > 120)
        shown = [letter_shape(b, ink, box) / letter_shape(a, ink, box) for box in plain.glyphs]
        line = [j for j, box in enumerate(plain.glyphs) if abs(box[3] - plain.glyphs[int(np.argmin(shown))][3]) < 0.02]
        hidden = [j for j in line if shown[j] < 0.9]
        assert hidden and hidden == list(range(hidden[0], hidden[-1] + 1)) and len(hidden) <= 3, (text, shown)
        least.append(min(shown))
        words = synth_cover.word_glyphs([[(t, 1.0, False)] for t in text.split()])
        cores = (hidden, hidden[1:], hidden[:-1])  # but for a neighbour's edge under the cover's margin
        assert any(core and set(core) <= set(w) for core in cores for w in words), (text, hidden)
        assert all(shown[j] == 1 for j in line if not hidden[0] - 1 <= j <= hidden[-1] + 1), (text, shown)  # the rest
    assert {"_sticker", "_smear"} <= set(drawn)
    assert sum(x < 0.3 for x in least) >= 3 and sum(0.3 < x < 0.8 for x in least) >= 3


def test_covered_run_is_within_one_word_and_at_most_the_word():
    rng = random.Random(1)
    lines = [[("RUE", 1.0, False)], [("de", 0.68, False)], [("PONTCHARRA", 1.0, False)]]
    words = synth_cover.word_glyphs(lines)
    runs = [synth_cover.covered_run(lines, rng) for _ in range(300)]
    for run in runs:
        assert any(set(run) <= set(w) for w in words) and run == list(range(run[0], run[-1] + 1))
    assert {len(r) for r in runs} == {1, 2} and 0.75 < sum(len(r) == 1 for r in runs) / len(runs) < 0.95
    assert [3, 4] in runs  # a short word whole


def test_one_view_shows_the_sign_once_among_three_noise_tiles():
    for i in range(10):
        img, text, present, glyphs = synth_glyphs(8, i, "test", Shares(one_view=1.0, few_views=0.5))
        assert present == 1 and text == synth_glyphs(8, i, "test")[1]
        assert noise_free_views(views(img)) == 1
        assert np.isfinite(glyphs[:, 0]).any() and np.isnan(glyphs[:, 1:]).all()


@pytest.mark.parametrize("split", ["train", "test"])
def test_person_share_names_the_street_after_a_person_of_its_split(split):
    """``Rue Victor Hugo``: a street type, a first name and a surname of the split (a test sign's never a training
    sign's), so that every sign of the share has a first name a plate may paint small (``small_names``)."""
    names = proper_names(split)
    rng = random.Random(3)
    texts = [person_name(rng, split) for _ in range(300)]
    types = set()
    for t in texts:
        kind = next(k for k in map(_label_form, STREET_TYPES) if t.startswith(k + " "))
        types.add(kind)
        rest = t[len(kind) + 1:].split(" ")
        assert len(rest) == 2 and set(rest) <= names and len(t) <= 37, t
    assert len(types) > 5 and 0.3 < sum(t.startswith("Rue ") for t in texts) / len(texts) < 0.6
    assert sum(is_first_name(t.split(" ")[1:]) for t in texts) > 0.8 * len(texts)  # Jean—Baptiste: capitals
    plain = [synth_glyphs(1, i, split)[1] for i in range(12)]
    shared = [synth_glyphs(1, i, split, Shares(person=1.0))[1] for i in range(12)]
    assert all(len(t.split(" ")) == 3 and t.split(" ")[1] in names for t in shared)
    assert sum(a != b for a, b in zip(plain, shared)) >= 10
