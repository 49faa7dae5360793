"""What an early exit would read: each sign read from its 2 sharpest views, and again from its 3 sharpest only
when the 2-view reading's confidence is under a threshold. Computed from two `seqocr eval --predictions` files of
the same signs (``--read-views 2`` and ``--read-views 3``), paired by ``where``.

    python scripts/early_exit.py TWO_VIEWS.tsv THREE_VIEWS.tsv [--thresholds 0.5 0.7 0.8 0.9 0.95]

Prints, per threshold, the signs read right, how many were read again, and the views read per sign (the backbone
reads views one by one, so a third view added to a 2-view reading costs one view, not three).
"""

from __future__ import annotations

import argparse
import sys

from mcnemar import prediction_columns  # scripts/ is on the path when a script runs


def readings(path: str) -> dict[str, tuple[bool, float]]:
    """``where`` -> (read right, confidence); one ``early_exit: error:`` line for a bad file."""
    rows = prediction_columns(path, ("where", "ground_truth", "prediction", "confidence"), "early_exit")
    try:
        return {w: (g == p, float(c)) for w, g, p, c in rows}
    except ValueError:
        sys.exit(f"early_exit: error: {path}: a confidence is not a number")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("two", help="predictions read from 2 views (seqocr eval --read-views 2 --predictions)")
    ap.add_argument("three", help="predictions of the same signs read from 3 views")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9, 0.95])
    args = ap.parse_args(argv)
    two, three = readings(args.two), readings(args.three)
    signs = sorted(two.keys() & three.keys())
    if not signs:
        sys.exit(f"early_exit: error: {args.two} and {args.three} share no sign (the where column)")
    n = len(signs)
    print(f"{n} signs paired: 2 views read {sum(two[s][0] for s in signs)} right, "
          f"3 views {sum(three[s][0] for s in signs)}")
    for t in args.thresholds:
        again = {s for s in signs if two[s][1] < t}
        right = sum((three if s in again else two)[s][0] for s in signs)
        print(f"threshold {t:.2f}: {right} right, {len(again)} read again ({len(again) / n:.1%}), "
              f"{2 + len(again) / n:.2f} views read per sign")
    return 0


if __name__ == "__main__":
    sys.exit(main())
