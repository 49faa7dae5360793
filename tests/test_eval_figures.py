"""`seqocr eval --json` prints what its own predictions file says: every published figure is the metric of the
ground truths and readings written beside it, in that order (ground truth first). CER, the attention_ocr figures
and the calibration error are not symmetric, so a meter fed (prediction, ground truth) prints other numbers."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from seqocr.calibration import expected_calibration_error
from seqocr.cli import main
from seqocr.metrics import compute_metrics
from tests.helpers import SAMPLES, tiny_checkpoint

# the bundled signs, two labelled as a user's data might be: one longer than what is painted, one shorter, so that
# the shipped model's readings differ from them in length
RELABELLED = {"sign-0000001.png": "Rue du Nord Prolongée", "sign-0000005.png": "Impasse"}


def predictions_file(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def eval_json(args: list[str], capsys) -> dict:
    assert main(["eval", *args, "--json", "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def assert_figures_are_the_files(printed: dict, rows: list[dict]) -> None:
    truths, readings = [r["ground_truth"] for r in rows], [r["prediction"] for r in rows]
    want = compute_metrics(truths, readings)
    swapped = compute_metrics(readings, truths)
    # the data can tell the two orders apart (CER's denominator is the truth's length), so the comparison below can
    # fail; an untrained model's readings share no character with the truths, so the other figures may not
    assert want["cer"] != swapped["cer"]
    assert printed["samples"] == len(rows) == want["samples"]
    for key, value in want.items():
        assert printed[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    confidences = [float(r["confidence"]) for r in rows]  # written to 6 decimals
    assert [r["correct"] for r in rows] == [str(int(t == p)) for t, p in zip(truths, readings)]
    ece = expected_calibration_error(confidences, [t == p for t, p in zip(truths, readings)])
    assert printed["ece"] == pytest.approx(ece, abs=2e-6)
    assert printed["unreadable"] == 0


def test_eval_json_figures_are_those_of_its_predictions_file_pytorch(tmp_path, fsns, capsys):
    """The PyTorch evaluation (a DataLoader of the labels file) of a tiny untrained model, whose readings are
    nothing like the labels: every figure is recomputed from predictions.tsv alone."""
    ckpt = tiny_checkpoint(tmp_path, "default", fsns)
    preds = tmp_path / "predictions.tsv"
    printed = eval_json(["--checkpoint", str(ckpt), "--data", str(SAMPLES / "labels.tsv"), "--predictions",
                         str(preds), "--device", "cpu", "--batch-size", "4"], capsys)
    rows = predictions_file(preds)
    assert [r["ground_truth"] for r in rows] == [
        line.split("\t")[1] for line in (SAMPLES / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    assert_figures_are_the_files(printed, rows)


def test_eval_json_figures_are_those_of_its_predictions_file_onnx(tmp_path, capsys):
    """The shipped model in ONNX Runtime on the bundled signs, two of them labelled longer or shorter than what is
    painted: those two are wrong in the file, and every figure, exact match included, is the file's."""
    from seqocr.inference.onnx_reader import SHIPPED_ONNX

    signs = tmp_path / "signs"
    shutil.copytree(SAMPLES, signs)
    lines = [line.split("\t") for line in (signs / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    (signs / "labels.tsv").write_text("".join(f"{name}\t{RELABELLED.get(name, text)}\n" for name, text in lines),
                                      encoding="utf-8")
    preds = tmp_path / "predictions.tsv"
    printed = eval_json(["--onnx", str(SHIPPED_ONNX), "--data", str(signs / "labels.tsv"), "--predictions",
                         str(preds)], capsys)
    rows = predictions_file(preds)
    assert_figures_are_the_files(printed, rows)
    wrong = {r["where"].split(" ")[0] for r in rows if r["correct"] == "0"}
    assert set(RELABELLED) <= wrong and printed["annotation_precision"] == pytest.approx(1 - len(wrong) / 6)
