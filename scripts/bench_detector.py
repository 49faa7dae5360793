"""Reading speed of the shipped model end to end under the text detector's settings, side by side (issue 22, speed).

Usage: .venv/bin/python scripts/bench_detector.py [--onnx M.onnx] [--rounds 7] [--sides 128 96] [--threads 1 2]

The same 32 generated held-out signs read by one ONNX Runtime reader (batch 32, 2 threads for the model), the
preprocessing and the detector included, with each (detector side, detector threads) in interleaved rounds so that
machine noise hits every setting alike; prints the median signs/s of each as JSON.
"""

from __future__ import annotations

import argparse
import json

from bench_onnx import interleaved_rounds

from seqocr import textcrop
from seqocr.data.synth import synth_sample
from seqocr.inference.onnx_reader import OnnxReader
from seqocr.preprocess import eval_batch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", default=None, help="the model (default: the shipped one)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--sides", type=int, nargs="+", default=[128, 96])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    reader = OnnxReader(args.onnx, threads=2)
    images = [synth_sample(1, i, "test")[0] for i in range(32)]
    def job(side: int, threads: int):
        def run():
            textcrop.DET_SIDE = side
            reader.read_arrays(eval_batch(images, reader.spec, threads))
        return run

    jobs = {f"side {s}, {t} thread(s)": job(s, t) for s in args.sides for t in args.threads}
    print(json.dumps(interleaved_rounds(jobs, dict.fromkeys(jobs, len(images)), args.rounds)))


if __name__ == "__main__":
    main()
