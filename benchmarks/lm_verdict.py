"""Would the language model's verdict on a reading calibrate its confidence on the hard columns (issue 36)? The
feature: the accents' doubt, how much likelier (natural log, each accent taken away or changed costing
``accents.CHANGE``) the language model finds the reading's best accents than its own: at most ``accents.MARGIN``
for a reading the accents kept. A confidence ``sigmoid(logit(c) - k * doubt)`` for each ``k``: the NLL over the
tuning files (read before the accents and the guided power, as ``benchmarks.guided_confidence`` takes them: both
applied here), and the ECE of each reported file (the shipped reading's predictions, accents and power applied).
Tuning files are another seed than the reported ones; never real images.

    python -m benchmarks.lm_verdict --tune runs/s25/tune/{accents,invented,heldout,person,legibility}.tsv \\
        -- runs/s25/cols/accents-{heldout,accents}.tsv runs/s25/derived-{invented,sticker,...}.tsv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.mcnemar import prediction_columns
from seqocr.calibration import bernoulli_nll, expected_calibration_error
from seqocr.inference.accents import accent_doubt, restore, token_ids
from seqocr.inference.decoding import GATE, GUIDED_POWER
from seqocr.inference.lm import NgramLM
from seqocr.model.weights import SHIPPED

STRENGTHS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def read(path: Path, lm: NgramLM, shipped: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(logit of the confidence, the accents' doubt, exact matches) of one predictions file; unless ``shipped``,
    its readings' accents restored and the guided power applied first."""
    rows = prediction_columns(str(path), ("ground_truth", "prediction", "confidence"), "lm_verdict")
    ids = token_ids([pred for _, pred, _ in rows], lm.charset)
    conf = np.array([float(c) for _, _, c in rows])
    if not shipped:
        ids, _ = restore(lm, ids)
        conf = np.where(conf < GATE, conf ** GUIDED_POWER, conf)
    doubt = np.clip(np.nan_to_num(accent_doubt(lm, ids)[1], nan=0.0), 0.0, None)
    hits = np.array([lm.charset.decode(x) == truth for x, (truth, _, _) in zip(ids, rows)])
    conf = np.clip(conf, 1e-6, 1 - 1e-6)
    return np.log(conf / (1 - conf)), doubt, hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tune", nargs="+", type=Path, required=True)
    ap.add_argument("report", nargs="+", type=Path)
    ap.add_argument("--lm", type=Path, default=SHIPPED.with_suffix(".lm.npz"))
    args = ap.parse_args()
    lm = NgramLM.load(args.lm)
    tune = [read(p, lm, shipped=False) for p in args.tune]
    z, doubt, hits = (np.concatenate(parts) for parts in zip(*tune))
    report = {p.stem: read(p, lm, shipped=True) for p in args.report}
    print("| k | tuning NLL | " + " | ".join(report) + " |")
    print("|---:|---:|" + "---:|" * len(report))
    def confidence(logit: np.ndarray, doubt: np.ndarray, k: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(logit - k * doubt)))

    for k in STRENGTHS:
        nll = bernoulli_nll(confidence(z, doubt, k), hits)
        eces = [expected_calibration_error(confidence(zr, dr, k), hr) for zr, dr, hr in report.values()]
        print(f"| {k} | {nll:.4f} | " + " | ".join(f"{e:.3f}" for e in eces) + " |")


if __name__ == "__main__":
    main()
