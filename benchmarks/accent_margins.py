"""The accent restoration's margin and change cost against `seqocr eval --predictions` files read without it
(`--as-painted`, or files from before it): for each (margin, change) pair, how many readings it mends and breaks in
each file. Choose on tuning columns (another seed than the reported ones); never on real images.

    python -m benchmarks.accent_margins 7:8,7:inf,6:8 runs/s25/tune/{accents,invented,heldout}.tsv
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.mcnemar import prediction_columns
from seqocr.inference.accents import restore, token_ids
from seqocr.inference.lm import NgramLM
from seqocr.model.weights import SHIPPED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("grid", help="MARGIN:CHANGE pairs, comma-separated (inf: no accent read is changed)")
    ap.add_argument("predictions", nargs="+", type=Path)
    ap.add_argument("--lm", type=Path, default=SHIPPED.with_suffix(".lm.npz"))
    args = ap.parse_args()
    lm = NgramLM.load(args.lm)
    grid = [tuple(float(x) for x in pair.split(":")) for pair in args.grid.split(",")]
    for path in args.predictions:
        truths, texts = zip(*prediction_columns(str(path), ("ground_truth", "prediction"), "accent_margins"))
        ids = token_ids(list(texts), lm.charset)
        before = [text == truth for text, truth in zip(texts, truths)]
        cells = []
        for margin, change in grid:
            after = [lm.charset.decode(f) == truth for f, truth in zip(restore(lm, ids, margin, change)[0], truths)]
            mended = sum(a and not b for a, b in zip(after, before))
            broken = sum(b and not a for a, b in zip(after, before))
            cells.append(f"{margin:g}:{change:g} +{mended}/-{broken}")
        print(f"{path.name} ({sum(before)} of {len(before)}): " + ", ".join(cells))


if __name__ == "__main__":
    main()
