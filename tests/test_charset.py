import pytest

from seqocr.charset import EOS, GO, PAD, SPECIALS, Charset
from seqocr.errors import DataError

FSNS_LABELS = ["Boulevard de Lunel", "Rue de Provence", "Avenue Charles Gounod", "Rue de l‘Aurore",
               "Rue d‘Orbey", "Place de l‘Hôtel de Ville", "Quai Jean—Jacques Rousseau", "Rue Émile Zola",
               "Allée des Œillets", "Impasse du 8 Mai 1945"]


@pytest.mark.parametrize("text", FSNS_LABELS)
def test_fsns_round_trip(fsns, text):
    assert fsns.decode(fsns.encode(text)) == text


def test_fsns_layout(fsns):
    assert len(fsns.chars) == 133 and len(fsns) == 133 + len(SPECIALS)
    assert (PAD, GO, EOS) == (0, 1, 2)
    assert "<nul>" not in fsns.chars and " " in fsns.chars
    assert fsns.encode(" ") == [fsns.offset]  # file id 0 is the space


@pytest.mark.parametrize("variants, canonical", [("’'‘", "‘"), ("-—", "—"), ('"“”', "”")])
def test_an_id_listed_several_times_decodes_to_its_last_listed_character(fsns, variants, canonical):
    ids = {fsns.encode(v)[0] for v in variants}
    assert len(ids) == 1
    assert fsns.decode(ids) == canonical
    assert fsns.normalize("Rue d'Orbey") == "Rue d‘Orbey"
    assert fsns.normalize("Quai Jean-Jacques") == "Quai Jean—Jacques"  # FSNS id 17 lists '-' then '—'


def test_decode_stops_at_eos_and_skips_specials(fsns):
    ids = [GO] + fsns.encode("Rue") + [PAD, EOS] + fsns.encode("X")
    assert fsns.decode(ids) == "Rue"
    assert fsns.decode(fsns.encode("ab") + [9999]) == "ab"  # ids past the charset (reference's 10k padding)


def test_unknown_character_is_an_error_naming_character_and_sample(fsns):
    with pytest.raises(DataError, match=r"labels.tsv:3: character '中' \(U\+4E2D\) of 'Rue 中'"):
        fsns.encode("Rue 中", "labels.tsv:3")
    assert fsns.missing("a中b中x☃") == ["中", "☃"]


def test_fsns_image_class_decoding(fsns):
    # FSNS image/class: file ids padded with the null id 133
    assert fsns.decode_source_ids([49, 11, 5, 0, 23, 2, 60, 21, 27, 5, 33, 133, 133]) == "Rue d‘Orbey"


def test_plain_file_one_character_per_line(tmp_path):
    p = tmp_path / "chars.txt"
    p.write_text("a\nb\n<space>\né\n", encoding="utf-8")
    cs = Charset.from_file(p)
    assert cs.chars == ["a", "b", " ", "é"]
    assert cs.decode(cs.encode("é ab")) == "é ab"


@pytest.mark.parametrize("content, message", [("ab\n", "one character per line"), ("a\na\n", "duplicate")])
def test_bad_plain_charset(tmp_path, content, message):
    p = tmp_path / "chars.txt"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        Charset.from_file(p)


def test_missing_charset_file(tmp_path):
    with pytest.raises(DataError, match="charset file not found"):
        Charset.load(str(tmp_path / "nope.txt"))


def test_dict_round_trip(fsns):
    again = Charset.from_dict(fsns.to_dict())
    assert again.chars == fsns.chars and again.encode("Rue d'Orbey") == fsns.encode("Rue d‘Orbey")
    assert again.decode_source_ids([1, 133]) == "l"


def test_the_fsns_constants_fit_the_charset_and_the_default_config():
    from seqocr.config import ModelConfig
    from seqocr.fsns import APOSTROPHE, DECODER_STEPS, HYPHEN, MAX_LABEL, NUM_CLASSES

    fsns = Charset.fsns()
    assert len(fsns) == NUM_CLASSES
    assert fsns.decode(fsns.encode("'-", "test")) == APOSTROPHE + HYPHEN
    assert ModelConfig().max_len == DECODER_STEPS == MAX_LABEL + 1


# --- exact behaviour, found missing by the mutation score (issue 24) -----------------------------------------------

def test_names_of_charsets_say_where_they_come_from(tmp_path):
    p = tmp_path / "chars.txt"
    p.write_text("a\nb\n", encoding="utf-8")
    assert Charset.fsns().name == "fsns" and Charset.load("fsns").name == "fsns" and Charset.load("").name == "fsns"
    assert Charset.load(None).chars == Charset.fsns().chars
    assert Charset.from_file(p).name == str(p) and Charset.load(str(p)).name == str(p)
    assert Charset(["a"]).name == "custom" and Charset.parse("a\n").name == "custom"
    assert Charset.parse("0\ta\n").name == "custom" and Charset.parse("0\ta\n", name="mine").name == "mine"


def test_construction_errors_name_the_charset_and_what_is_wrong():
    with pytest.raises(DataError, match=r"^charset mine: duplicate characters \['a', 'b'\]$"):
        Charset(["a", "b", "a", "c", "b"], name="mine")
    with pytest.raises(DataError, match=r"^charset mine: no characters$"):
        Charset([], name="mine")
    with pytest.raises(DataError, match=r"^charset x.txt line 3: expected one character per line, got 'ab'$"):
        Charset.parse("a\n\nb\nab\n", name="x.txt")  # blank lines are skipped, not counted


def test_space_lines_and_source_ids():
    plain = Charset.parse("a\n \n<space>\n".replace("<space>", "b"))
    assert plain.chars == ["a", " ", "b"] and plain.source_ids == [0, 1, 2] and plain.source_null is None
    fsns_style = Charset.parse("4\ta\n7\tb\n9\t<nul>\n")
    assert fsns_style.chars == ["a", "b"] and fsns_style.source_ids == [4, 7] and fsns_style.source_null == 9
    assert fsns_style.decode_source_ids([7, 4, 9, 4]) == "ba"
    with pytest.raises(DataError, match=r"^charset custom: id 5 is not in the file$"):
        fsns_style.decode_source_ids([4, 5])
    assert Charset(["a", "b"], source_ids=[10, 20]).decode_source_ids([20, 10]) == "ba"


def test_a_charset_file_that_is_not_utf8_is_named(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("é\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt: charset file is not UTF-8 \(invalid continuation byte at "
                                        r"byte 0\)$"):
        Charset.from_file(p)


def test_the_dict_form_keeps_every_field():
    fsns_style = Charset.parse("4\ta\n7\tb\n7\tB\n9\t<nul>\n", name="mine")
    d = fsns_style.to_dict()
    assert d == {"name": "mine", "chars": ["a", "B"], "aliases": {"a": 3, "b": 4, "B": 4}, "source_ids": [4, 7],
                 "source_null": 9}
    again = Charset.from_dict(d)
    assert (again.name, again.chars, again.aliases, again.source_ids, again.source_null) == \
        ("mine", ["a", "B"], {"a": 3, "b": 4, "B": 4}, [4, 7], 9)
    bare = Charset.from_dict({"chars": ["x"], "aliases": {"x": "3"}})  # an older checkpoint's form
    assert (bare.name, bare.source_ids, bare.source_null, bare.aliases) == ("custom", [0], None, {"x": 3})


def test_encode_and_decode_exactly(fsns):
    with pytest.raises(DataError, match=r"^character '中' \(U\+4E2D\) of 'a中' is not in charset fsns$"):
        fsns.encode("a中")  # no "where": no leading ": "
    small = Charset(["a", "b"])
    assert small.decode([3, 4, 5, 2, 3]) == "ab" and small.decode([2]) == "" and small.decode([0, 1, 3]) == "a"
    assert small.decode([3.0, 4.0]) == "ab"  # numpy or float ids are taken as ints
