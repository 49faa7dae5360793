"""benchmarks/risk_coverage.py on a predictions file written as `seqocr eval` writes it."""

import pytest

from benchmarks.risk_coverage import main
from seqocr.inference.postprocess import write_predictions

ROWS = [  # where, ground truth, prediction, confidence: 3 of 5 right, the right ones the more confident
    ("labels.tsv:1", "Rue du Nord", "Rue du Nord", 0.95),
    ("labels.tsv:2", "Rue Haute", "Rue Haute", 0.80),
    ("labels.tsv:3", "Avenue de Dinan", "Avenue de Somme", 0.60),
    ("labels.tsv:4", "Impasse Jacquet", "Impasse Jacquet", 0.40),
    ("labels.tsv:5", "Place Verte", "Place Vert", 0.10),
]


def table(capsys) -> dict[str, list[str]]:
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| min confidence | kept | coverage | exact match of the kept | risk |")
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}


def test_each_threshold_gives_the_share_kept_and_the_accuracy_of_the_kept(tmp_path, capsys):
    preds = tmp_path / "p.tsv"
    write_predictions(preds, ROWS)
    assert main(["--predictions", str(preds), "--thresholds", "0,0.5,0.9,0.99"]) == 0
    assert table(capsys) == {
        "0": ["5/5", "1.0000", "0.6000", "0.4000"],
        "0.5": ["3/5", "0.6000", "0.6667", "0.3333"],
        "0.9": ["1/5", "0.2000", "1.0000", "0.0000"],
        "0.99": ["0/5", "0.0000", "n/a", "n/a"],
    }


def test_default_thresholds_start_at_keeping_everything(tmp_path, capsys):
    preds = tmp_path / "p.tsv"
    write_predictions(preds, ROWS)
    assert main(["--predictions", str(preds)]) == 0
    rows = table(capsys)
    assert rows["0"][0] == "5/5" and rows["0.4"][0] == "4/5" and len(rows) == 12


@pytest.mark.parametrize("content, message", [
    (None, "p.tsv: file not found"),
    ("where\tprediction\n", "expected a header with confidence and correct columns"),
    ("where\tground_truth\tprediction\tconfidence\tcorrect\nx\tA\tA\thigh\t1\n", "p.tsv:2: expected 5"),
    ("where\tground_truth\tprediction\tconfidence\tcorrect\n", "p.tsv: no predictions"),
])
def test_a_bad_predictions_file_is_one_error_line(content, message, tmp_path, capsys):
    preds = tmp_path / "p.tsv"
    if content is not None:
        preds.write_text(content, encoding="utf-8")
    assert main(["--predictions", str(preds)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("risk_coverage: error: ") and message in err[0], err


def test_thresholds_out_of_range_are_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--predictions", str(tmp_path / "p.tsv"), "--thresholds", "0.5,1.5"])
    assert e.value.code == 2 and "from 0 to 1" in capsys.readouterr().err
