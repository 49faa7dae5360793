"""scripts/early_exit.py: what reading 2 views, and a third only below a confidence threshold, would read."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAD = "where\tground_truth\tprediction\tconfidence\n"


def run(*args):
    return subprocess.run([sys.executable, "scripts/early_exit.py", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, check=False)


def test_signs_under_the_threshold_take_the_three_view_reading(tmp_path):
    # s1 confident and right at 2 views; s2 unsure and wrong at 2, right at 3; s3 confident and wrong at 2.
    (tmp_path / "two.tsv").write_text(HEAD + "s1\tRue\tRue\t0.95\ns2\tQuai\tQuoi\t0.40\ns3\tPont\tPonts\t0.85\n")
    (tmp_path / "three.tsv").write_text(HEAD + "s3\tPont\tPont\t0.9\ns2\tQuai\tQuai\t0.9\ns1\tRue\tRu\t0.6\n")
    r = run(tmp_path / "two.tsv", tmp_path / "three.tsv", "--thresholds", 0.5, 0.9, 1.0)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "3 signs paired: 2 views read 1 right, 3 views 2",
        "threshold 0.50: 2 right, 1 read again (33.3%), 2.33 views read per sign",
        "threshold 0.90: 3 right, 2 read again (66.7%), 2.67 views read per sign",
        "threshold 1.00: 2 right, 3 read again (100.0%), 3.00 views read per sign",
    ]


def test_a_file_without_confidences_is_one_error_line(tmp_path):
    (tmp_path / "two.tsv").write_text("where\tground_truth\tprediction\ns1\tRue\tRue\n")
    (tmp_path / "three.tsv").write_text(HEAD + "s1\tRue\tRue\t0.9\n")
    r = run(tmp_path / "two.tsv", tmp_path / "three.tsv")
    assert r.returncode == 1 and r.stderr.strip().startswith("early_exit: error:") and "two.tsv" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
