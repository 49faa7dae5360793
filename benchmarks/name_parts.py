"""How often readings got the street type and the particles wrong (issue 22 item 4), from `seqocr eval`'s
predictions files: the share of readings whose first word differs from the truth's (case and accents aside), and
the share whose particles (de, du, de la, des, d', l' ...) differ, whatever else is wrong.

    python -m benchmarks.name_parts predictions.tsv [more.tsv ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seqocr.inference.analysis import name_part_rates


def read_pairs(path: str) -> list[tuple[str, str]]:
    """``(ground truth, prediction)`` of every row of a predictions file; one ``name_parts: error:`` line and exit
    1 for a file that is not one."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        sys.exit(f"name_parts: error: {path}: cannot be read ({type(e).__name__})")
    header = lines[0].split("\t") if lines else []
    if "ground_truth" not in header or "prediction" not in header:
        sys.exit(f"name_parts: error: {path}: expected a header with ground_truth and prediction (seqocr eval)")
    gt, pred = header.index("ground_truth"), header.index("prediction")
    rows = [line.split("\t") for line in lines[1:]]
    if any(len(r) != len(header) for r in rows):
        sys.exit(f"name_parts: error: {path}: a row without {len(header)} tab-separated fields")
    return [(r[gt], r[pred]) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions", nargs="+", help="predictions files of seqocr eval")
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    args = parser.parse_args(argv)
    for path in args.predictions:
        rows = read_pairs(path)
        rates = {"file": path, "readings": len(rows), **name_part_rates(rows)}
        print(json.dumps(rates) if args.json else
              f"{path}: {len(rows)} readings, street type wrong {rates['type_error_rate']:.3f}, "
              f"particles wrong {rates['particle_error_rate']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
