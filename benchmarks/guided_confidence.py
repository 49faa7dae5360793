"""Fit the power that calibrates guided readings' confidences (``decoding.GUIDED_POWER``) from `seqocr eval
--predictions` files of the shipped reading before it (power 1): the rows below the gate are taken for the signs
the language model searched again (the readers decide on the greedy confidence, which these files do not keep: a
searched sign whose guided reading reaches the gate is missed, a few of hundreds); their accents are restored as the
readers restore them, then the power minimising the NLL of exact matches is printed, with each file's ECE before and
after. Fit on tuning columns (another seed
than the reported ones); never on real images.

    python -m benchmarks.guided_confidence runs/s25/tune/{accents,invented,heldout,person,legibility}.tsv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.mcnemar import prediction_columns
from seqocr.calibration import expected_calibration_error, fit_power
from seqocr.inference.accents import restore, token_ids
from seqocr.inference.decoding import GATE
from seqocr.inference.lm import NgramLM
from seqocr.model.weights import SHIPPED


def read(path: Path, lm: NgramLM) -> tuple[np.ndarray, np.ndarray]:
    """(confidences, exact matches after the accents are restored) of one predictions file."""
    rows = prediction_columns(str(path), ("ground_truth", "prediction", "confidence"), "guided_confidence")
    fixed, _ = restore(lm, token_ids([pred for _, pred, _ in rows], lm.charset))
    hits = np.array([lm.charset.decode(f) == truth for f, (truth, _, _) in zip(fixed, rows)])
    return np.array([float(conf) for _, _, conf in rows]), hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("predictions", nargs="+", type=Path)
    ap.add_argument("--lm", type=Path, default=SHIPPED.with_suffix(".lm.npz"))
    args = ap.parse_args()
    lm = NgramLM.load(args.lm)
    files = {p: read(p, lm) for p in args.predictions}
    conf = np.concatenate([c for c, _ in files.values()])
    hits = np.concatenate([h for _, h in files.values()])
    below = conf < GATE
    power = fit_power(conf[below], hits[below])
    print(f"power {power} from {int(below.sum())} guided readings of {len(conf)}")
    for path, (c, h) in files.items():
        after = np.where(c < GATE, c ** power, c)
        print(f"{path.name}: ECE {expected_calibration_error(c, h):.3f} -> {expected_calibration_error(after, h):.3f}")


if __name__ == "__main__":
    main()
