"""ONNX Runtime against PyTorch eager for a model (default: the shipped one), side by side in one run.

Usage: .venv/bin/python scripts/bench_onnx.py [--checkpoint C] [--n 500] [--real ../shared/fsns-sample/labels.tsv]
       [--json benchmarks/onnx.json]

1. exports the model to ONNX (fp32) and a static-int8 copy (convolutions int8, see export.quantize_int8);
2. reading throughput at batch 32 on preprocessed generated signs: PyTorch eager fp32 (BN folded, as `seqocr read`),
   PyTorch eager bf16, ONNX Runtime fp32, ONNX Runtime int8 — median of timed batches after warm-up, the runtimes
   interleaved round by round so that machine noise hits them alike;
3. texts: PyTorch vs ONNX fp32 on the whole generated held-out set and the real samples (must be identical), and
   the accuracy of each runtime, int8 included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seqocr.data.synth import synth_sample
from seqocr.export import export_onnx, quantize_int8
from seqocr.metrics import compute_metrics
from seqocr.onnx_reader import OnnxReader
from seqocr.predictor import Predictor
from seqocr.preprocess import eval_transform, load_image


def timed_rounds(readers: dict, batch: np.ndarray, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in readers}
    for r in readers.values():
        r.read_arrays(batch)  # warm-up
    for _ in range(rounds):
        for name, r in readers.items():
            t0 = time.perf_counter()
            r.read_arrays(batch)
            times[name].append(time.perf_counter() - t0)
    return {k: round(len(batch) / statistics.median(v), 1) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--real", default="../shared/fsns-sample/labels.tsv")
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    onnx_path = export_onnx(args.checkpoint, tmp / "model.onnx")
    int8_path = quantize_int8(onnx_path, tmp / "model.int8.onnx")
    readers = {"torch_fp32": Predictor.from_checkpoint(args.checkpoint),
               "torch_bf16": Predictor.from_checkpoint(args.checkpoint, bf16=True),
               "onnx_fp32": OnnxReader(onnx_path), "onnx_int8": OnnxReader(int8_path)}
    spec = readers["onnx_fp32"].spec
    samples = [synth_sample(1, i, "test") for i in range(args.n)]
    batch = np.stack([eval_transform(img, spec) for img, _ in samples[:32]])
    result: dict = {"threads": torch.get_num_threads(), "batch": 32,
                    "images_per_s": timed_rounds(readers, batch, args.rounds)}
    sets = {"generated": ([img for img, _ in samples], [t for _, t in samples])}
    if Path(args.real).is_file():
        rows = [ln.split("\t") for ln in Path(args.real).read_text(encoding="utf-8").splitlines() if ln]
        sets["real"] = ([load_image(Path(args.real).parent / n) for n, _ in rows], [t for _, t in rows])
    for name, (images, gts) in sets.items():
        texts = {k: [x.text for x in r.read(images)] for k, r in readers.items()}
        result[name] = {k: {m: round(v, 4) for m, v in compute_metrics(gts, t).items()
                            if m in ("annotation_precision", "character_precision")} for k, t in texts.items()}
        result[name]["torch_vs_onnx_fp32_text_differences"] = sum(
            a != b for a, b in zip(texts["torch_fp32"], texts["onnx_fp32"]))
        result[name]["int8_vs_fp32_text_differences"] = sum(
            a != b for a, b in zip(texts["onnx_fp32"], texts["onnx_int8"]))
    result["onnx_over_torch_fp32"] = round(result["images_per_s"]["onnx_fp32"] / result["images_per_s"]["torch_fp32"],
                                           2)
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
