"""The plain synthetic generator: determinism, image format, FSNS-style labels, disjoint splits, glyph checks."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from seqocr.charset import Charset
from seqocr.data import synth
from seqocr.data.synth import (
    APOS,
    HYPHEN,
    elide,
    load_font,
    missing_glyphs,
    proper_names,
    render_sign,
    street_name,
    synth_sample,
)
from seqocr.errors import DataError

N_LABELS = 400


def labels(split: str, n: int = N_LABELS, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [street_name(rng, split) for _ in range(n)]


def name_tokens(text: str) -> set[str]:
    """Words of a label with elided articles (d‘, l‘) stripped: the units proper names are split by."""
    return {re.sub(f"^[dl]{APOS}", "", w) for w in text.split()}


def test_sample_is_a_pure_function_of_seed_index_split():
    img1, text1 = synth_sample(7, 3)
    random.seed(123)
    np.random.seed(123)  # global RNG state must not matter
    img2, text2 = synth_sample(7, 3)
    assert text1 == text2 and img1.tobytes() == img2.tobytes()
    others = [synth_sample(7, 4), synth_sample(8, 3), synth_sample(7, 3, "test")]
    for img, text in others:
        assert text != text1 or img.tobytes() != img1.tobytes()


def test_image_format_and_views_differ():
    img, _ = synth_sample(0, 0)
    assert img.size == (600, 150) and img.mode == "RGB"
    a = np.asarray(img, np.int16)
    views = [a[:, k * 150:(k + 1) * 150] for k in range(4)]
    assert all(np.abs(views[0] - v).mean() > 1 for v in views[1:])  # each view transformed independently
    assert a.std() > 10  # not a flat image


@pytest.mark.parametrize("split", ["train", "test"])
def test_labels_are_short_fsns_canonical_and_renderable(split):
    fsns = Charset.fsns()
    texts = labels(split)
    assert len(set(texts)) > N_LABELS // 2
    for t in texts:
        assert 0 < len(t) <= 37, t
        assert fsns.missing(t) == [], t
        assert fsns.normalize(t) == t, t  # already in FSNS's canonical form (‘ and —)
        assert t[0].isupper() and "  " not in t, t
    display = " ".join(texts).upper().replace(APOS, "\u2019").replace(HYPHEN, "-")
    assert missing_glyphs(load_font(40), display) == []
    assert missing_glyphs(load_font(24), " ".join(texts)) == []


def test_every_vocabulary_token_is_encodable_and_has_glyphs():
    fsns, font = Charset.fsns(), load_font(30)
    words = " ".join([*proper_names("train"), *proper_names("test"), *synth.STREET_TYPES, synth.TITLES,
                      *synth.DATES, *synth.COMMON_NOUNS.values()]).replace("_", " ")
    assert fsns.missing(words) == []
    assert missing_glyphs(font, words.upper()) == []


def test_train_and_test_proper_names_are_disjoint():
    train, test = proper_names("train"), proper_names("test")
    assert not train & test
    assert 0.05 < len(test) / (len(train) + len(test)) < 0.2
    train_words = set().union(*map(name_tokens, labels("train")))
    test_words = set().union(*map(name_tokens, labels("test")))
    assert not test_words & train, sorted(test_words & train)
    assert not train_words & test, sorted(train_words & test)
    assert len(test_words & test) > 10 and len(train_words & train) > 50


def test_labels_cover_the_usual_patterns():
    texts = labels("train", 1000)
    assert sum(t.startswith("Rue ") for t in texts) > 300
    assert any(f" d{APOS}" in t for t in texts)
    assert any(f" de l{APOS}" in t for t in texts)
    assert any(" de la " in t for t in texts) and any(" du " in t for t in texts) and any(" des " in t for t in texts)
    assert any(HYPHEN in t for t in texts)


@pytest.mark.parametrize("word, expected", [
    ("Orbey", f"d{APOS}Orbey"), ("Épinal", f"d{APOS}Épinal"), ("Hyères", f"d{APOS}Hyères"),
    ("Yvetot", f"d{APOS}Yvetot"), ("Lunel", "de Lunel"), ("Provence", "de Provence"),
])
def test_elision(word, expected):
    assert elide("de", word) == expected


def test_no_unelided_article_before_a_vowel_in_labels():
    texts = labels("train", 1000) + labels("test", 1000)
    assert [t for t in texts if re.search(r"\b(de|du|la|le) [AEIOUYÉÈÊÎÔÂ]", t)] == []
    assert any(f"l{APOS}Hôtel" in t or f"l{APOS}Hôpital" in t for t in texts)  # mute h elides too


def test_missing_glyph_raises_data_error():
    font = load_font(30)
    assert missing_glyphs(font, "Rue \u4e2d\u6587 Ab\u4e2d") == ["\u4e2d", "\u6587"]
    assert missing_glyphs(font, "RUE D’ORBEY ÉÈÊÇÔÎÏŒ-") == []
    with pytest.raises(DataError, match="\u4e2d"):
        render_sign("Rue \u4e2d", random.Random(0))


def test_bad_split_and_empty_text_raise_data_error():
    with pytest.raises(DataError, match="split"):
        synth_sample(0, 0, "val")
    with pytest.raises(DataError):
        render_sign("  ", random.Random(0))


def test_missing_font_names_the_package(monkeypatch):
    synth.font_path.cache_clear()
    monkeypatch.setattr(synth, "FONT_CANDIDATES", ("/nonexistent/DejaVuSansCondensed-Bold.ttf",))
    try:
        with pytest.raises(DataError, match="fonts-dejavu-core"):
            synth.font_path()
    finally:
        synth.font_path.cache_clear()
