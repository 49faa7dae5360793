"""ONNX Runtime against PyTorch eager for a model (default: the shipped one), side by side in one run.

Usage: .venv/bin/python scripts/bench_onnx.py [--checkpoint C] [--n 500] [--rounds 7]
       [--real ../shared/fsns-sample/labels.tsv] [--json benchmarks/onnx.json]

1. exports the model to ONNX (fp32) and a static-int8 copy (convolutions int8, see export.quantize_int8);
2. reading throughput at batch 32 on preprocessed generated signs: PyTorch eager fp32 (BN folded, as `seqocr read`),
   PyTorch eager bf16, ONNX Runtime fp32, ONNX Runtime int8 — median of timed batches after warm-up, the runtimes
   interleaved round by round so that machine noise hits them alike;
3. texts: PyTorch vs ONNX fp32 on the whole generated held-out set and the real samples (must be identical), and
   the accuracy of each runtime, int8 included.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seqocr.data import iter_labelled
from seqocr.data.synth import CALIBRATION_SEED, sign_images
from seqocr.fsns import DECODER_STEPS
from seqocr.inference.evaluate import evaluate_reader
from seqocr.inference.export import export_onnx, quantize_int8
from seqocr.inference.onnx_reader import OnnxReader
from seqocr.inference.predictor import Predictor
from seqocr.preprocess import eval_transform


def interleaved_rounds(jobs: dict, counts: dict, rounds: int) -> dict[str, float]:
    """Items/s of each job (a call that handles ``counts[name]`` items): a warm-up each, then ``rounds`` rounds in
    which every job runs once in turn, so that machine noise hits them alike; the median."""
    times: dict[str, list[float]] = {k: [] for k in jobs}
    for job in jobs.values():
        job()
    for _ in range(rounds):
        for name, job in jobs.items():
            t0 = time.perf_counter()
            job()
            times[name].append(time.perf_counter() - t0)
    return {k: round(counts[k] / statistics.median(v), 1) for k, v in times.items()}


def timed_rounds(readers: dict, batch: np.ndarray | dict, rounds: int) -> dict[str, float]:
    """Images/s of each reader on ``batch`` (or on its own batch, ``batch[name]``, for models of different input
    sizes): :func:`interleaved_rounds`."""
    batches = batch if isinstance(batch, dict) else dict.fromkeys(readers, batch)
    jobs = {name: functools.partial(r.read_arrays, batches[name]) for name, r in readers.items()}
    return interleaved_rounds(jobs, {k: len(b) for k, b in batches.items()}, rounds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--real", default="../shared/fsns-sample/labels.tsv")
    ap.add_argument("--json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(args.checkpoint, Path(tmp) / "model.onnx")
        int8_path = quantize_int8(onnx_path, Path(tmp) / "model.int8.onnx", sign_images(CALIBRATION_SEED, 128, "train"))
        readers = {"torch_fp32": Predictor.from_checkpoint(args.checkpoint),
                   "torch_bf16": Predictor.from_checkpoint(args.checkpoint, bf16=True),
                   "onnx_fp32": OnnxReader(onnx_path), "onnx_int8": OnnxReader(int8_path)}
    onnx = readers["onnx_fp32"]
    max_chars = int(onnx.metadata.get("max_len", DECODER_STEPS)) - 1
    sets = {"generated": list(iter_labelled(f"synth:split=test,n={args.n},seed=1", onnx.charset, max_chars))}
    if Path(args.real).is_file():
        sets["real"] = list(iter_labelled(args.real, onnx.charset, max_chars))
    batch = np.stack([eval_transform(img, onnx.spec) for img, _, _ in sets["generated"][:32]])
    result: dict = {"threads": torch.get_num_threads(), "batch": 32,
                    "images_per_s": timed_rounds(readers, batch, args.rounds)}
    for name, items in sets.items():
        texts = {}
        result[name] = {}
        for k, r in readers.items():
            metrics, rows = evaluate_reader(r, items)
            texts[k] = [pred for _, _, pred, _ in rows]
            result[name][k] = {m: round(metrics[m], 4) for m in ("annotation_precision", "character_precision")}
        result[name]["torch_vs_onnx_fp32_text_differences"] = sum(
            a != b for a, b in zip(texts["torch_fp32"], texts["onnx_fp32"]))
        result[name]["int8_vs_fp32_text_differences"] = sum(
            a != b for a, b in zip(texts["onnx_fp32"], texts["onnx_int8"]))
    rates = result["images_per_s"]
    result["onnx_over_torch_fp32"] = round(rates["onnx_fp32"] / rates["torch_fp32"], 2)
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
