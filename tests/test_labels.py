"""Labels files (data/labels.py) on their own: parsing, validation, the skip report, writing, and the labelled-set zip,
each message checked by its exact line (fast: `make mutation` mutates labels.py against these)."""

import io
import zipfile

import pytest
from PIL import Image

from seqocr.charset import Charset
from seqocr.data.labels import (
    LABELS_ZIP_TSV,
    Sample,
    SkipReport,
    label_problem,
    label_rows,
    read_labels,
    sample_problem,
    write_labels,
    write_labels_zip,
    zip_member_name,
)
from seqocr.errors import DataError
from tests.helpers import small_png


@pytest.fixture(scope="module")
def fsns():
    return Charset.fsns()


def test_a_sample_is_named_by_its_image_and_line():
    assert Sample("p", "Rue", "labels.tsv:8", "007.png").named == "007.png (labels.tsv:8)"
    assert Sample("p", "Rue", "labels.tsv:8").named == "labels.tsv:8"


def report_of(total: int, *skips: str) -> SkipReport:
    report = SkipReport(total=total)
    for i, reason in enumerate(skips):
        report.skip(reason, f"m{i}")
    return report


def test_the_skip_report_counts_by_reason_keeps_three_examples_and_sums_up():
    report = report_of(10, "a", "b", "b", "c")
    assert report.skipped == 4 and report.examples == ["m0", "m1", "m2"]
    assert report.summary() == "skipped 4 of 10 samples (2 b, 1 a, 1 c)"


@pytest.mark.parametrize("total, bad, fraction, ok", [
    (10, 0, 0.0, True), (10, 1, 0.1, True), (10, 2, 0.1, False), (100, 1, 0.01, True), (1, 1, 1.0, False),
    (2, 1, 0.0, False)])
def test_the_skip_limit_passes_up_to_its_fraction_and_never_with_no_good_sample(total, bad, fraction, ok):
    report = report_of(total, *["empty label"] * bad)
    if ok:
        report.check("set", fraction)
    else:
        with pytest.raises(DataError) as e:
            report.check("set", fraction)
        first = "; ".join(f"m{i}" for i in range(min(bad, 3)))
        assert str(e.value) == (f"set: skipped {bad} of {total} samples ({bad} empty label), above the limit of "
                                f"{fraction:.1%}; first: {first}")


def test_label_problems_are_named_in_order_empty_length_charset(fsns):
    assert label_problem("Rue", fsns, 3, "w") is None and label_problem("x" * 99, None, None, "w") is None
    assert label_problem(" \t", fsns, 10, "w") == ("empty label", "w: empty label")
    assert label_problem("Ruee", fsns, 3, "w") == ("label longer than 3 characters",
                                                   "w: label longer than 3 characters (4: 'Ruee')")
    assert label_problem("Rue", fsns, None, "w") is None
    reason, message = label_problem("R☃", fsns, 3, "w")
    assert reason == "character not in charset" and message == (
        f"w: characters {fsns.missing('R☃')} of 'R☃' are not in charset {fsns.name}")
    assert label_problem("R☃", None, 3, "w") is None
    assert label_problem("☃☃☃☃", fsns, 3, "w")[0] == "label longer than 3 characters"  # length before charset


def test_sample_problems_check_the_label_then_the_image(fsns):
    png = small_png(0)
    assert sample_problem(png, "Rue", "w", fsns, 10) is None
    assert sample_problem(png, "Rue", "w", fsns, 10, decode=False) is None
    assert sample_problem(b"", "", "w", fsns, 10) == ("empty label", "w: empty label")
    assert sample_problem(b"", "Rue", "w", fsns, 10) == ("missing or empty image", "w: image file missing or empty")
    reason, message = sample_problem(b"GIF89a not really", "Rue", "w", fsns, 10)
    assert reason == "unreadable image" and message.startswith("w: ")
    cut = png[: len(png) // 2]
    assert sample_problem(cut, "Rue", "w", fsns, 10)[0] == "unreadable image"
    jpeg = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(jpeg, "JPEG")
    cut_jpeg = jpeg.getvalue()[: len(jpeg.getvalue()) * 3 // 4]  # verify() passes it, decoding does not
    assert sample_problem(cut_jpeg, "Rue", "w", fsns, 10, decode=False) is None
    assert sample_problem(cut_jpeg, "Rue", "w", fsns, 10)[0] == "unreadable image"  # decoded in full by default
    assert sample_problem(png, "R☃", "w", fsns, 10)[0] == "character not in charset"
    assert sample_problem(png, "Rue de la Gare", "w", fsns, 10)[0] == "label longer than 10 characters"
    assert sample_problem(b"\x89PNG\r\n\x1a\nxx", "Rue", "w", fsns, 10, decode=False) == (
        "unreadable image", "w: unreadable image (UnidentifiedImageError)")


def test_label_rows_reads_tabs_bom_crlf_and_keeps_other_line_breaks(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_bytes("\ufeffa.png\tRue\r\n\n  \nb.png\tRue\x85de\tla Gare\rc.png\tQuai\u2028X\n".encode())
    assert label_rows(path) == [(1, "a.png", "Rue"), (4, "b.png", "Rue\x85de\tla Gare"), (5, "c.png", "Quai\u2028X")]
    path.write_text("a.png\tRue\nb.png Rue\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}:2: expected path<TAB>text, found no tab$"):
        label_rows(path)


@pytest.mark.parametrize("name, make, message", [
    ("none.tsv", None, "{p}: labels file not found"),
    ("dir", "dir", "{p}: is a directory; expected a labels file of path<TAB>text lines"),
    ("bad.tsv", b"a\t\xff\n", "{p}: not UTF-8 (invalid start byte at byte 2)"),
    ("img.PNG", b"\x89PNG\r\n", ("{p}: not UTF-8 (invalid start byte at byte 0); expected a labels file of "
                                "path<TAB>text lines"))])
def test_a_labels_file_that_cannot_be_read_is_one_line(tmp_path, name, make, message):
    path = tmp_path / name
    if make == "dir":
        path.mkdir()
    elif make is not None:
        path.write_bytes(make)
    with pytest.raises(DataError) as e:
        label_rows(path)
    assert str(e.value) == message.format(p=path)


def test_read_labels_skips_bad_lines_by_reason_and_resolves_paths_beside_the_file(tmp_path, fsns):
    (tmp_path / "img").mkdir()
    for name in ("a.png", "b.png"):
        (tmp_path / "img" / name).write_bytes(small_png(0))
    path = tmp_path / "labels.tsv"
    path.write_text("img/a.png\tRue\nimg/c.png\tRue\nimg/b.png\t\nimg/b.png\tRue de la Gare\nimg/b.png\tR☃\n",
                    encoding="utf-8")
    samples, report = read_labels(path, fsns, 5)
    assert [(s.path, s.text, s.where, s.name) for s in samples] == [(tmp_path / "img/a.png", "Rue", f"{path}:1",
                                                                    "img/a.png")]
    assert report.total == 5 and report.reasons == {"image file not found": 1, "empty label": 1,
                                                    "label longer than 5 characters": 1, "character not in charset": 1}
    assert report.examples == [f"{path}:2: image file not found", f"{path}:3: empty label",
                               f"{path}:4: label longer than 5 characters (14: 'Rue de la Gare')"]
    samples, report = read_labels(path, fsns, 50, check_files=False)
    assert [s.where for s in samples] == [f"{path}:1", f"{path}:2", f"{path}:4"] and report.skipped == 2
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}: no samples$"):
        read_labels(path, fsns, 5)


def test_write_labels_round_trips_and_refuses_what_would_not_read_back(tmp_path):
    path = tmp_path / "labels.tsv"
    rows = [("a.png", "Rue\tde la Gare"), ("b c.png", ""), ("X.png", "Quai d'Orsay Xé")]
    write_labels(path, rows)
    assert path.read_bytes() == "a.png\tRue\tde la Gare\nb c.png\t\nX.png\tQuai d'Orsay Xé\n".encode()
    assert [(n, t) for _, n, t in label_rows(path)] == rows
    for bad in [("a\tb.png", "x"), ("a\n.png", "x"), ("a.png", "x\ry")]:
        with pytest.raises(DataError) as e:
            write_labels(tmp_path / "other.tsv", [("ok.png", "Rue"), bad])
        assert str(e.value) == (f"{tmp_path / 'other.tsv'}: cannot write {bad[0]!r}, {bad[1]!r} as a labels line (a "
                                "tab in the name, or a line break)")
    assert not (tmp_path / "other.tsv").exists()


@pytest.mark.parametrize("name, want", [
    ("007.png", "images/007.png"), ("dir/sub\\Photo 1.JPG", "images/Photo_1.jpg"), ("..hidden.png", "images/hidden.png"),
    ("noext", "images/noext.png"), ("a.txt", "images/a.txt.png"), ("", "images/image.png"), ("é.webp", "images/_.webp"),
    (".", "images/image.png"), ("Xa.png", "images/Xa.png"), ("photo.v2.PNG", "images/photo.v2.png"),
    ("a.b.c", "images/a.b.c.png")])
def test_zip_member_names_are_safe_and_keep_an_image_suffix(name, want):
    assert zip_member_name(name, set()) == want


def test_zip_member_names_never_clash():
    used: set[str] = set()
    assert [zip_member_name(n, used) for n in ("a.png", "a.png", "x/a.png", "b.png")] == [
        "images/a.png", "images/a-2.png", "images/a-3.png", "images/b.png"]
    assert used == {"images/a.png", "images/a-2.png", "images/a-3.png", "images/b.png"}


def test_the_labelled_set_zip_holds_labels_beside_the_images_as_given(fsns):
    items = [("one.png", small_png(1), "Rue"), ("one.png", b"raw bytes", "Quai d'Orsay")]
    with zipfile.ZipFile(io.BytesIO(write_labels_zip(items, fsns, 37))) as z:
        assert z.namelist() == [LABELS_ZIP_TSV, "images/one.png", "images/one-2.png"]
        assert z.read(LABELS_ZIP_TSV).decode() == "images/one.png\tRue\nimages/one-2.png\tQuai d'Orsay\n"
        assert z.read("images/one-2.png") == b"raw bytes"
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())


@pytest.mark.parametrize("text, message", [
    ("Rue\tX", "label 1 (b.png): a label holds no tab or line break"),
    ("Rue\nX", "label 1 (b.png): a label holds no tab or line break"),
    ("Rue\rX", "label 1 (b.png): a label holds no tab or line break"),
    ("", "label 1 (b.png): empty label"), ("Rue de la Gare", ("label 1 (b.png): label longer than 5 characters (14: "
                                                           "'Rue de la Gare')"))])
def test_a_bad_label_in_the_zip_is_named(fsns, text, message):
    with pytest.raises(DataError) as e:
        write_labels_zip([("a.png", b"x", "Rue"), ("b.png", b"y", text)], fsns, 5)
    assert str(e.value) == message


def test_a_label_outside_the_charset_is_refused_in_the_zip(fsns):
    with pytest.raises(DataError) as e:
        write_labels_zip([("a.png", b"x", "R☃")], fsns, 5)
    assert str(e.value) == f"label 0 (a.png): characters {fsns.missing('R☃')} of 'R☃' are not in charset {fsns.name}"


def test_a_long_file_name_is_cut_in_the_message(fsns):
    with pytest.raises(DataError) as e:
        write_labels_zip([("n" * 100 + ".png", b"x", "")], fsns, 5)
    assert str(e.value) == f"label 0 ({'n' * 80}): empty label"
