"""Two models' readings of the same signs, paired: how many each read right that the other did not, and the exact
two-sided McNemar test of that difference (a binomial test on the discordant pairs).

    python -m benchmarks.mcnemar A_PREDICTIONS.tsv B_PREDICTIONS.tsv

The files are `seqocr eval --predictions` outputs (``where``, ``ground_truth``, ``prediction`` columns); signs are
paired by ``where``. Prints one line.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys


def prediction_columns(path: str, columns: tuple[str, ...], tool: str) -> list[list[str]]:
    """The rows of a `seqocr eval --predictions` file, each cut to ``columns`` in that order; one ``TOOL: error:``
    line and exit 1 for a file that cannot be read or lacks a column."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    except (OSError, UnicodeDecodeError) as e:
        sys.exit(f"{tool}: error: {path}: cannot be read ({type(e).__name__})")
    head = rows[0] if rows else []
    if not set(columns) <= set(head):
        sys.exit(f"{tool}: error: {path}: expected {', '.join(columns)} columns (seqocr eval --predictions)")
    at = [head.index(c) for c in columns]
    return [[r[i] for i in at] for r in rows[1:] if len(r) > max(at)]


def exact_matches(path: str) -> dict[str, bool]:
    """``where`` -> whether the prediction equals the ground truth; one ``mcnemar: error:`` line for a bad file."""
    return {w: g == p for w, g, p in prediction_columns(path, ("where", "ground_truth", "prediction"), "mcnemar")}


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts."""
    n, k = only_a + only_b, min(only_a, only_b)
    return 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    args = ap.parse_args()
    a, b = exact_matches(args.a), exact_matches(args.b)
    keys = sorted(set(a) & set(b))
    only_a = sum(a[k] and not b[k] for k in keys)
    only_b = sum(b[k] and not a[k] for k in keys)
    print(f"{len(keys)} signs paired: A {sum(a[k] for k in keys)} right, B {sum(b[k] for k in keys)}; "
          f"only A {only_a}, only B {only_b}; exact McNemar p = {mcnemar_p(only_a, only_b):.2g}")


if __name__ == "__main__":
    main()
