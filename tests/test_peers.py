"""benchmarks/peers.py: peer OCR output -> FSNS labels, Tesseract TSV parsing and the choice among views.

Pure functions only: neither Tesseract nor RapidOCR is needed."""

from __future__ import annotations

import pytest

from benchmarks.peers import ViewRead, merge_lines, parse_tesseract_tsv, pick_view, to_fsns_label
from seqocr.charset import Charset

CASES = [
    # the brief's examples and the real FSNS sample's label style
    ("RUE\nD'ORBEY", "Rue d‘Orbey"),
    ("AVENUE CHARLES GOUNOD", "Avenue Charles Gounod"),
    ("rue de la gare", "Rue de la Gare"),
    ("BOULEVARD DE LUNEL", "Boulevard de Lunel"),
    ("PLACE DE L'HÔTEL DE VILLE", "Place de l‘Hôtel de Ville"),
    ("RUE DE L'AURORE", "Rue de l‘Aurore"),
    # whitespace and lines
    ("  RUE   DE\n\nPROVENCE \n", "Rue de Provence"),
    ("RUE\tVICTOR\r\nSCHOELCHER", "Rue Victor Schoelcher"),
    # apostrophe variants, a space after an elision
    ("RUE D’ORBEY", "Rue d‘Orbey"),
    ("RUE D‘ORBEY", "Rue d‘Orbey"),
    ("RUE D' ORBEY", "Rue d‘Orbey"),
    ("RUE DE L` ÉGLISE", "Rue de l‘Église"),
    ("RUE DEL'ANCIENNE POSTE", "Rue de l‘Ancienne Poste"),
    ("L'ABBAYE", "L‘Abbaye"),
    ("RUE O'NEILL", "Rue O‘Neill"),
    # hyphens: every side title-cased, joined across a one-sided gap
    ("SAINT-MARTIN", "Saint—Martin"),
    ("RUE SAINT-JÉRÔME", "Rue Saint—Jérôme"),
    ("GRAND-RUE", "Grand—Rue"),
    ("RUE SAINT- MARTIN", "Rue Saint—Martin"),
    ("RUE SAINT –MARTIN", "Rue Saint—Martin"),
    ("RUE DE SAINT-JEAN-DE-LUZ", "Rue de Saint—Jean—de—Luz"),
    ("RUE NOTRE—DAME", "Rue Notre—Dame"),
    # particles: lowercase unless first
    ("LE HAVRE", "Le Havre"),
    ("RUE DU HAVRE", "Rue du Havre"),
    ("ALLÉE DES LILAS", "Allée des Lilas"),
    ("RUE DES ÉCOLES ET DU STADE", "Rue des Écoles et du Stade"),
    ("CHEMIN SOUS LES VIGNES", "Chemin sous les Vignes"),
    ("ROUTE SUR MER", "Route sur Mer"),
    ("RUE AUX FÈVES", "Rue aux Fèves"),
    ("PLACE À L'HUILE", "Place à l‘Huile"),
    ("CHEMIN EN HAUT", "Chemin en Haut"),
    ("DE GAULLE", "De Gaulle"),
    ("La Rochelle", "La Rochelle"),
    # mixed case in, accents, digits, ordinals, Roman numerals
    ("rUe dU mOULIN", "Rue du Moulin"),
    ("ÉCOLE", "École"),
    ("RUE DU 8 MAI 1945", "Rue du 8 Mai 1945"),
    ("RUE DU 1ER MAI", "Rue du 1er Mai"),
    ("PLACE LOUIS XIV", "Place Louis XIV"),
    ("RUE PIE XII", "Rue Pie XII"),
    ("RUE DE VIE", "Rue de Vie"),
    # repeated reads kept once
    ("RUE DE DINAN RUE DE DINAN", "Rue de Dinan"),
    ("RUE DE DINAN\nrue de dinan\nRUE DE DINAN", "Rue de Dinan"),
    ("RUE RUE", "Rue"),
    # junk tokens and characters outside the charset dropped
    ("| RUE BLANCHE —", "Rue Blanche"),
    ("RUE ✓ BLANCHE", "Rue Blanche"),
    ("RUE BLAN☃CHE", "Rue Blanche"),
    ("— .. |", ""),
    ("", ""),
    ("   \n ", ""),
    ("RUE PIERRE & MARIE CURIE", "Rue Pierre & Marie Curie"),
    ('RUE "X"', "Rue ”X”"),
    ("(NORD)", "(Nord)"),
    # junk at a word's edge trimmed; paired brackets kept
    ("(PLACE LAMY", "Place Lamy"),
    ("RUE COSTA|", "Rue Costa"),
    ("QUAI DE DINAN).", "Quai de Dinan"),
    ("RUE DU 8 MAI.", "Rue du 8 Mai"),
    ("RUE, DE LA GARE;", "Rue de la Gare"),
    ("RUE (DE LA GARE", "Rue de la Gare"),
    ("«RUE»", "«Rue»"),
    ('RUE "X', "Rue X"),
    ("RUE [X", "Rue X"),
]


@pytest.mark.parametrize(("raw", "label"), CASES)
def test_to_fsns_label(raw, label):
    assert to_fsns_label(raw) == label


@pytest.mark.parametrize(("raw", "_"), CASES)
def test_to_fsns_label_is_in_charset_and_idempotent(raw, _):
    label = to_fsns_label(raw)
    assert Charset.fsns().missing(label) == []
    assert label == label.strip() and "  " not in label
    assert to_fsns_label(label) == label


TSV_ROWS = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
    "1\t1\t0\t0\t0\t0\t0\t0\t450\t450\t-1\t",
    "4\t1\t1\t1\t1\t0\t10\t10\t100\t30\t-1\t",
    "5\t1\t1\t1\t1\t1\t10\t10\t50\t30\t96.5\tRUE",
    "5\t1\t1\t1\t1\t2\t70\t10\t40\t30\t12.0\t|",  # no letter: dropped
    "5\t1\t1\t1\t2\t1\t10\t50\t20\t30\t80\tDE",
    "5\t1\t1\t1\t2\t2\t40\t50\t80\t30\t90\tL'AURORE",
    "5\t1\t1\t1\t3\t1\t10\t90\t80\t30\t20\tXQZ",  # below min_conf 30: dropped
    "1\t2\t0\t0\t0\t0\t0\t0\t450\t450\t-1\t",  # a page with no word
    "1\t3\t0\t0\t0\t0\t0\t0\t450\t450\t-1\t",
    "5\t3\t1\t1\t1\t1\t10\t10\t50\t30\t50\tPOSTE",
    "5\t3\t1\t1\t1\t2\t10\t10\t50\t30\t-1\t",  # empty word
)
TSV = "\n".join(TSV_ROWS)


def test_parse_tesseract_tsv():
    pages = parse_tesseract_tsv(TSV, min_conf=30)
    assert sorted(pages) == [1, 3]
    first = pages[1]
    assert first.lines == ("RUE", "DE L'AURORE")
    assert first.scores[0] == pytest.approx(0.965)
    assert first.scores[1] == pytest.approx((2 * 0.80 + 8 * 0.90) / 10)  # character-weighted
    assert first.label == "Rue de l‘Aurore"
    assert pages[3] == ViewRead(("POSTE",), (0.5,))
    assert parse_tesseract_tsv(TSV, min_conf=0)[1].lines[-1] == "XQZ"
    assert parse_tesseract_tsv("") == {}


def test_merge_lines_drops_empty_lines():
    read = merge_lines([("RUE", 0.9), ("  ", 0.99), ("DE LA GARE ", 0.8)])
    assert read == ViewRead(("RUE", "DE LA GARE"), (0.9, 0.8))
    assert read.text == "RUE\nDE LA GARE" and read.label == "Rue de la Gare"
    assert merge_lines([]) == ViewRead()


def test_view_read_confidences():
    read = ViewRead(("RUE", "POSTE"), (1.0, 0.5))
    assert read.weight == pytest.approx(3 + 2.5)
    assert read.mean_confidence == pytest.approx(5.5 / 8)
    assert ViewRead().weight == 0 and ViewRead().mean_confidence == 0


PARTIAL = ViewRead(("POSTE",), (0.999,))  # confident but only part of the sign
FULL_A = ViewRead(("RUE", "DE LA POSTE"), (0.95, 0.9))
FULL_B = ViewRead(("RUE DE LA POSTE",), (0.7,))
WRONG = ViewRead(("RUE DE LA PASTE",), (0.8,))


def test_pick_view_rules():
    reads = [PARTIAL, FULL_A, WRONG, FULL_B]
    assert pick_view(reads, "mean") == (0, PARTIAL)
    assert pick_view(reads, "weight") == (1, FULL_A)
    # "Rue de la Poste" is read in two views: it wins the vote over the single "Paste"
    assert pick_view(reads, "vote") == (1, FULL_A)
    assert pick_view([WRONG, FULL_B], "vote") == (0, WRONG)  # a tie in votes: the larger summed weight


def test_pick_view_skips_empty_views():
    junk = ViewRead(("|",), (1.0,))  # nothing left after normalisation
    assert pick_view([ViewRead(), junk, FULL_B], "mean") == (2, FULL_B)
    assert pick_view([ViewRead(), junk, FULL_B], "vote") == (2, FULL_B)
    assert pick_view([ViewRead(), ViewRead()], "vote") == (0, ViewRead())


def test_pick_view_rejects_bad_input():
    with pytest.raises(ValueError):
        pick_view([], "vote")
    with pytest.raises(ValueError, match="unknown rule"):
        pick_view([FULL_A], "best")
