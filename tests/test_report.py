"""``eval --report``: the error analysis (tables of hand-checked cases), the plot, the worst-first list and the
HTML report written by the command line."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from seqocr.cli import main
from seqocr.imaging.preprocess import ImageSpec
from seqocr.inference.analysis import badness, confusions, edits, kinds_with_examples, reading_kind, reliability
from seqocr.inference.postprocess import Reading
from seqocr.inference.report import WorstReadings, marked, reliability_svg, write_report
from tests.helpers import SAMPLES, tiny_checkpoint, write_synth_folder


@pytest.mark.parametrize("gt, pred, kind", [
    ("Rue du Nord", "Rue du Nord", "exact"),
    ("Rue du Nord", "rue du nord", "case"),
    ("Rue de l‘Aurore", "Rue de l'Aurore", "punctuation"),
    ("Rue Guérin", "Rue Guerin", "accents"),
    ("Rue de la Paix", "Rue de Paix", "particles"),
    ("Rue d‘Orbey", "Rue du Orbey", "particles"),
    ("Avenue Charles Gounod", "Avenue de la Charles Gounod", "particles"),
    ("Rue du Nord", "Rue du Nond", "substituted"),
    ("Rue du Nord", "Rue du Nrd", "missing"),
    ("Rue du Nord", "Rue du Nordd", "extra"),
    ("Rue du Nord", "Ru du Nordx", "mixed"),
    ("Rue du Nord", "", "missing"),
])
def test_reading_kinds(gt, pred, kind):
    assert reading_kind(gt, pred) == kind


@pytest.mark.parametrize("gt, pred, want", [
    ("abc", "abc", []),
    ("abc", "axc", [("substituted", "b", "x")]),
    ("abc", "ac", [("missing", "b", "")]),
    ("abc", "abcd", [("extra", "", "d")]),
])
def test_edits(gt, pred, want):
    assert edits(gt, pred) == want


def test_confusions_count_pairs_over_readings():
    got = confusions([("Nord", "Nond"), ("Nord", "Nond"), ("Rue", "Rue"), ("ab", "a")])
    assert got == {("r", "n"): 2, ("b", ""): 1}


def test_kinds_with_examples_counts_only_wrong_readings_in_kind_order():
    rows = [("a b", "A b"), ("Rue", "Rue"), ("Nord", "Nond"), ("Nord", "Nordd"), ("x", "X")]
    out = kinds_with_examples(rows, examples=1)
    assert list(out) == ["case", "substituted", "extra"]
    assert out["case"] == (2, [("a b", "A b")])


def test_reliability_bins():
    bins = reliability([0.05, 0.95, 1.0, 0.97, 0.5], [False, True, True, False, True], bins=10)
    assert [b.count for b in bins] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 3]
    assert bins[9].accuracy == pytest.approx(2 / 3) and bins[9].mean_confidence == pytest.approx(0.973333, 1e-5)
    assert bins[0].accuracy == 0 and bins[1].accuracy == 0  # an empty bin reports 0


def test_worst_first_order_and_bounded_memory():
    assert badness("ab", "xy", 0.1) > badness("ab", "xb", 0.9) > badness("ab", "xb", 0.2) > badness("ab", "ab", 0.1)
    keep = WorstReadings(n=2)
    image = Image.new("RGB", (8, 8))
    chunk = [(image, "abcd", f"w{i}") for i in range(5)]
    reads = ["abcd", "abcx", "axyz", "abxx", "wxyz"]
    keep(chunk, [Reading(r, 0.5, [0.5] * len(r)) for r in reads])
    assert [w for _, _, w, _ in keep.worst_first()] == ["w4", "w2"]


def test_marked_differences_are_escaped():
    assert marked("a<b", "a<c") == ("a<del>&lt;b</del>", "a<ins>&lt;c</ins>") or \
        marked("a<b", "a<c") == ("a&lt;<del>b</del>", "a&lt;<ins>c</ins>")


def test_plot_is_well_formed_svg():
    svg = reliability_svg(reliability([0.1, 0.9, 0.92], [False, True, False]))
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}rect")) >= 3


def test_report_holds_every_section(tmp_path):
    spec = ImageSpec(128, 128, 4)
    image = Image.open(SAMPLES / "sign-0000000.png").convert("RGB")
    maps = np.random.default_rng(0).random((3, 4, 8, 32)).astype(np.float32)
    worst = WorstReadings()
    worst([(image, "Rue", "labels.tsv:1"), (image, "Nord", "labels.tsv:2")],
          [Reading("Rxe", 0.7, [0.9, 0.5, 0.9], attention=maps), Reading("Nor", 0.4, [0.9] * 3)])
    rows = [("labels.tsv:1", "Rue", "Rxe", 0.7), ("labels.tsv:2", "Nord", "Nor", 0.4), ("3", "Ok", "Ok", 0.99)]
    metrics = {"samples": 3, "annotation_precision": 1 / 3, "ece": 0.1}
    path = write_report(tmp_path, metrics, rows, worst, spec, "labels.tsv", "tiny.pt")
    page = path.read_text(encoding="utf-8")
    for text in ("exact match (annotation precision)", "<svg", "substituted characters", "missing characters",
                 "<b>u</b> → <b>x</b> ×1", "#1 · labels.tsv:1", "#2 · labels.tsv:2", "no attention maps",
                 "data:image/jpeg;base64,"):
        assert text in page, text
    assert page.count("alt='attention of each character'") == 1  # the reading without maps has none
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # self-contained


def test_eval_report_from_the_command_line(tmp_path, capsys):
    from seqocr.charset import Charset

    labels = write_synth_folder(tmp_path / "data", 3, split="test")
    ckpt = tiny_checkpoint(tmp_path, "default", Charset.fsns())
    out = tmp_path / "report"
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(labels), "--report", str(out),
                 "--predictions", str(tmp_path / "p.tsv"), "--json", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert '"samples": 3' in captured.out and "report:" in captured.err
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<div class='worst'>") == 3  # a tiny untrained model reads every sign wrong
    assert page.count("alt='attention of each character'") == 3


def test_eval_report_errors_are_one_line(tmp_path, capsys):
    afile = tmp_path / "file"
    afile.write_text("x")
    # a folder that is not LMDB is read as TFRecord shards: here one file that is not one
    not_shards = f"{tmp_path}: skipped 1 of 1 samples (1 truncated file), above the limit of 1.0%; first: {afile}"
    for args, message in [(["--data", str(tmp_path), "--report", str(tmp_path / "r")], not_shards),
                          (["--data", "synth:n=1", "--report", str(afile)], "exists and is not a folder")]:
        assert main(["eval", *args, "--predictions", str(tmp_path / "p.tsv")]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


@pytest.mark.parametrize("gt, pred, wrong", [
    ("Rue de la Gare", "Rue de la Gare", (False, False)),
    ("Route de Lyon", "Cour de Lyon", (True, False)),
    ("Avenue Victor Hugo", "Allée Victor Hugo", (True, False)),
    ("Rue de Provence", "Rue du Provence", (False, True)),
    ("Rue des Lilas", "Rue de la Lilas", (False, True)),
    ("Rue du Nord", "Rue Nord", (False, True)),
    ("Rue d‘Orbey", "Rue de Orbey", (False, False)),   # the same particle, elided or not
    ("Allée des Pins", "Allee des Pin", (False, False)),  # an accent and a letter: neither part swapped
    ("Impasse Jacquet", "Place du Jacquet", (True, True)),
])
def test_name_part_errors_tell_a_swapped_type_or_particle(gt, pred, wrong):
    from seqocr.inference.analysis import name_part_errors, name_part_rates

    assert name_part_errors(gt, pred) == wrong
    assert name_part_rates([(gt, pred), (gt, gt)]) == {"type_error_rate": wrong[0] / 2,
                                                       "particle_error_rate": wrong[1] / 2}
