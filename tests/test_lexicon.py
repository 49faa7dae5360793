"""The gazetteer (seqocr.inference.lexicon, decoding.search): a name it holds is read where the eye is unsure, a
clearly painted text it does not hold is read as painted (the fallback says so), and bad lexicon files are one
clear error each."""

from __future__ import annotations

import numpy as np
import pytest

from seqocr.charset import EOS, Charset
from seqocr.errors import DataError
from seqocr.inference.decoding import Search, search
from seqocr.inference.lexicon import Lexicon

FSNS = Charset.fsns()


class TableDecoder:
    """A decoder whose next-token distribution depends only on the step: ``table[t]`` maps token -> probability,
    the rest of the charset sharing a tiny remainder; the same for every row."""

    def __init__(self, table: list[dict[int, float]]):
        self.table, self.t = table, 0

    def step(self, tokens, parents):
        row = np.full(len(FSNS), 1e-9)
        for token, p in self.table[min(self.t, len(self.table) - 1)].items():
            row[token] = p
        self.t += 1
        return np.log(np.tile(row / row.sum(), (len(tokens), 1)))


def eye(*positions: list[tuple[str, float]]):
    """A fresh decoder per call, seeing at each position these characters with these probabilities, then EOS."""
    table = [{FSNS.encode(c)[0]: p for c, p in pos} for pos in positions] + [{EOS: 1.0}]
    return lambda beam: TableDecoder(table)


def sure(text: str) -> list[list[tuple[str, float]]]:
    return [[(c, 0.995)] for c in text]


def near_misses(name: str, n: int) -> list[str]:
    """Names one letter away from ``name``, none equal to it."""
    letters = "abcdefghijklmnoprstuv"
    out = []
    for i in range(len(name)):
        for c in letters:
            if name[i].isalpha() and c != name[i].lower():
                out.append(name[:i] + (c.upper() if name[i].isupper() else c) + name[i + 1:])
    return out[:n]


def read(decoder, lexicon: Lexicon, beam: int = 8):
    found = search(decoder, 1, 20, Search(beam=beam, lexicon=lexicon))
    return FSNS.decode(found.ids[0]), bool(found.lexicon[0])


def test_a_name_the_gazetteer_holds_is_read_where_the_eye_is_unsure():
    truth = "Rue de la Gare"
    decoder = eye(*sure("Rue de la "), [("S", 0.6), ("G", 0.4)], *sure("are"))
    names = Lexicon([truth, *(n for n in near_misses(truth, 300) if n != "Rue de la Sare")], FSNS)
    assert FSNS.decode(search(decoder, 1, 20, Search(beam=8)).ids[0]) == "Rue de la Sare"  # the eye alone
    assert read(decoder, names) == (truth, True)


def test_a_text_the_gazetteer_lacks_is_read_as_painted_and_says_so():
    painted = "Rue Zorbu"
    lexicon = Lexicon(["Rue de la Gare", *near_misses("Rue Korbi", 200)], FSNS)
    assert "Rue Zorbu" not in lexicon.names
    assert read(eye(*sure(painted)), lexicon) == (painted, False)


def test_a_near_miss_is_taken_only_when_the_eye_leaves_it_open():
    """The gazetteer holds "Rue Zorba", the eye reads "Rue Zorbu" with the last letter in doubt: taken."""
    lexicon = Lexicon(["Rue Zorba"], FSNS)
    assert read(eye(*sure("Rue Zorb"), [("u", 0.7), ("a", 0.3)]), lexicon) == ("Rue Zorba", True)
    assert read(eye(*sure("Rue Zorb"), [("u", 0.999), ("a", 0.001)]), lexicon) == ("Rue Zorbu", False)


def test_lexicon_files_one_name_a_line(tmp_path):
    good = tmp_path / "town.txt"
    good.write_text("Rue de la Gare\n\n  Place  du   Marché \nRue de la Gare\n", encoding="utf-8")
    assert Lexicon.from_file(good, FSNS).names == ["Rue de la Gare", "Place du Marché"]


@pytest.mark.parametrize("content, message", [
    (None, "lexicon not found"),
    (b"Rue de la Gare\n\xff\xfeRue\n", "the lexicon is not UTF-8 text"),
    (b"\n   \n", "no names"),
    ("Rue de la Gare\nStraße 5 ☃\n".encode(), "line 2 ('Straße 5 ☃'): characters the model cannot read"),
])
def test_a_bad_lexicon_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "town.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=rf"^{path}: .*{message}".replace("(", r"\(").replace(")", r"\)")):
        Lexicon.from_file(path, FSNS)


def test_a_name_the_plate_paints_without_its_accents_is_the_lists():
    """Plates paint capitals without the accents a map writes: a clear reading that is one of the gazetteer's names
    but for accents and case is taken as that name, however unlikely the eye finds the accented letter; a name
    that differs by a letter is not."""
    lexicon = Lexicon(["Rue de l'Église", "Rue de la Gare"], FSNS)
    label = lambda text: FSNS.decode(FSNS.encode(text))
    assert read(eye(*sure("Rue de l'Eglise")), lexicon) == (label("Rue de l'Église"), True)
    assert read(eye(*sure("Rue de l'Eclise")), lexicon) == (label("Rue de l'Eclise"), False)
    assert lexicon.painted(np.array([*FSNS.encode("Rue de l'Église"), EOS])) == label("rue de l'eglise")
