"""benchmarks/mcnemar.py: the paired test BENCHMARKS uses to say whether one model reads more signs than another."""

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.mcnemar import exact_matches, mcnemar_p

ROOT = Path(__file__).resolve().parents[1]


def test_the_exact_p_value_is_the_two_sided_binomial_tail():
    assert mcnemar_p(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_p(3, 3) == 1.0 and mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(29, 71) == pytest.approx(3.2e-5, rel=0.05)
    assert mcnemar_p(71, 29) == mcnemar_p(29, 71)


def test_two_prediction_files_are_paired_by_where(tmp_path):
    head = "where\tground_truth\tprediction\tconfidence\n"
    (tmp_path / "a.tsv").write_text(head + "s1\tRue\tRue\t0.9\ns2\tQuai\tQuoi\t0.5\ns3\tPont\tPont\t0.8\n")
    (tmp_path / "b.tsv").write_text(head + "s3\tPont\tPonts\t0.8\ns2\tQuai\tQuai\t0.9\ns1\tRue\tRue\t0.9\n")
    assert exact_matches(str(tmp_path / "a.tsv")) == {"s1": True, "s2": False, "s3": True}
    out = subprocess.run([sys.executable, "-m", "benchmarks.mcnemar", str(tmp_path / "a.tsv"), str(tmp_path / "b.tsv")],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "3 signs paired: A 2 right, B 2; only A 1, only B 1; exact McNemar p = 1"
    (tmp_path / "bad.tsv").write_text("x\ty\n")
    r = subprocess.run([sys.executable, "-m", "benchmarks.mcnemar", str(tmp_path / "bad.tsv"), str(tmp_path / "a.tsv")],
                       cwd=ROOT, capture_output=True, text=True, check=False)
    assert r.returncode == 1 and r.stderr.strip().startswith("mcnemar: error:") and "bad.tsv" in r.stderr
