"""Reading speed of two exported models side by side (ONNX Runtime, batch 32, 2 threads), e.g. a new shipped model
against the one before it.

Usage: .venv/bin/python scripts/bench_onnx_pair.py OLD.onnx NEW.onnx [--rounds 7]
       (the shipped one before a commit: git show REV:src/seqocr/resources/model/seqocr-default.onnx > old.onnx)

The same 32 generated held-out signs, preprocessed for each model (its own view size), read in interleaved rounds
so that machine noise hits both alike; prints the median signs/s of each as JSON. With ``--end-to-end`` the
preprocessing is timed too (each round reads the decoded images: the resize, and for a model with ``model.crop:
text`` the text detector): what a user of ``read`` or the service waits for, decoding aside.
"""

from __future__ import annotations

import argparse
import functools
import json

import numpy as np
from bench_onnx import interleaved_rounds, timed_rounds

from seqocr.data.synth import synth_sample
from seqocr.inference.onnx_reader import OnnxReader
from seqocr.preprocess import eval_transform


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--end-to-end", action="store_true", help="time the preprocessing (and text detector) too")
    args = ap.parse_args()
    readers = {path: OnnxReader(path, threads=2) for path in args.models}
    images = [synth_sample(1, i, "test")[0] for i in range(32)]
    if args.end_to_end:
        print(json.dumps(end_to_end_rounds(readers, images, args.rounds)))
        return
    batches = {k: np.stack([eval_transform(im, r.spec) for im in images]) for k, r in readers.items()}
    print(json.dumps(timed_rounds(readers, batches, args.rounds)))


def end_to_end_rounds(readers: dict, images: list, rounds: int) -> dict[str, float]:
    """Signs/s of each reader reading ``images`` (PIL) in one batch, preprocessing included
    (:func:`bench_onnx.interleaved_rounds`)."""
    jobs = {name: functools.partial(r.read, images) for name, r in readers.items()}
    return interleaved_rounds(jobs, dict.fromkeys(readers, len(images)), rounds)


if __name__ == "__main__":
    main()
