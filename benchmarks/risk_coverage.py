"""A risk-coverage table from the predictions file of ``seqocr eval``: for each confidence threshold, the share of
readings kept (coverage) and the exact-match accuracy of the kept ones, as a markdown table. It shows what
``--min-confidence X`` buys: keep fewer readings, get more of the kept ones right.

    python -m benchmarks.risk_coverage --predictions predictions.tsv [--thresholds 0.5,0.9]

The predictions file is tab-separated with a header naming at least ``confidence`` and ``correct`` (1 for an
exact match), as ``seqocr eval`` writes it; a reading is kept when its confidence is at least the threshold.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqocr.calibration import kept_at

DEFAULT_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


class Problem(Exception):
    """A mistake in the input: printed as one ``risk_coverage: error: ...`` line."""


def read_predictions(path: Path) -> list[tuple[float, bool]]:
    """``(confidence, correct)`` of every row of a predictions file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise Problem(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise Problem(f"{path}: cannot be read ({e})") from None
    header = lines[0].split("\t") if lines else []
    if "confidence" not in header or "correct" not in header:
        raise Problem(f"{path}: expected a header with confidence and correct columns (seqocr eval --predictions)")
    conf, correct = header.index("confidence"), header.index("correct")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        try:
            rows.append((float(fields[conf]), fields[correct] == "1"))
        except (IndexError, ValueError):
            raise Problem(f"{path}:{number}: expected {len(header)} tab-separated fields with a number as "
                          "confidence") from None
    if not rows:
        raise Problem(f"{path}: no predictions")
    return rows


def risk_coverage(rows: list[tuple[float, bool]], thresholds: list[float]) -> list[dict]:
    """For each threshold, one point of the curve (:func:`seqocr.calibration.kept_at`)."""
    return [kept_at([c for c, _ in rows], [hit for _, hit in rows], t) for t in thresholds]


def markdown(table: list[dict], total: int) -> str:
    lines = ["| min confidence | kept | coverage | exact match of the kept | risk |", "|---:|---:|---:|---:|---:|"]
    for row in table:
        acc = row["kept_accuracy"]
        accuracy, risk = ("n/a", "n/a") if acc is None else (f"{acc:.4f}", f"{1 - acc:.4f}")
        lines.append(f"| {row['min_confidence']:g} | {row['kept']}/{total} | {row['coverage']:.4f} | {accuracy} | {risk} |")
    return "\n".join(lines)


def thresholds_arg(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"expected thresholds from 0 to 1, got {text!r}")
    return sorted(values)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="risk_coverage.py", description=__doc__.splitlines()[0])
    p.add_argument("--predictions", required=True, help="the predictions file of seqocr eval (a TSV with a header)")
    p.add_argument("--thresholds", type=thresholds_arg, default=list(DEFAULT_THRESHOLDS),
                   help="comma-separated confidence thresholds, 0 to 1 (default: 0, 0.1, ..., 0.9, 0.95, 0.99)")
    args = p.parse_args(argv)
    try:
        rows = read_predictions(Path(args.predictions))
    except Problem as e:
        print(f"risk_coverage: error: {e}", file=sys.stderr)
        return 1
    print(markdown(risk_coverage(rows, args.thresholds), len(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
