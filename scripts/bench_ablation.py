"""Training-step ablation: what each PyTorch feature buys, measured side by side in one run.

Usage: .venv/bin/python scripts/bench_ablation.py [--model default|reference] [--config C] [--steps 5]
       [--json benchmarks/ablation.jsonl]

For one model (default: the shipped recipe's `default`), the images/s of a full training step (forward, loss,
backward, clipping, Adam) at batch 32 on random inputs, for each variant below, and the model FLOP utilisation
against the peak measured in the same run (`seqocr bench`'s definition):

    eager fp32 (NCHW)  ->  + channels-last  ->  + fused Adam  ->  + bf16 autocast  ->  + torch.compile(CNN)

Each line changes one thing against the line before it, so the ratios are the features' contributions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from seqocr.fsns import NUM_CLASSES
from seqocr.model import build_model, num_classes_for
from seqocr.train.bench import _config, _inputs, _median_rate, model_flops, peak_flops, timed_step
from seqocr.train.step import lr_at

VARIANTS = [  # name, channels_last, fused_adam, bf16, compile_cnn
    ("eager fp32, NCHW", False, False, False, False),
    ("+ channels-last", True, False, False, False),
    ("+ fused Adam", True, True, False, False),
    ("+ bf16 autocast", True, True, True, False),
    ("+ torch.compile(CNN)", True, True, True, True),
]


def train_rate(cfg, batch: int, steps: int, channels_last: bool, fused: bool, bf16: bool, compile_cnn: bool) -> float:
    torch.manual_seed(0)
    model = build_model(cfg.model, num_classes_for(cfg.model, NUM_CLASSES)).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.cnn.to(memory_format=fmt)
    model.memory_format = fmt  # both models lay their CNN input out in this format
    if compile_cnn:
        model.cnn = torch.compile(model.cnn, dynamic=False)
    opt = torch.optim.Adam(model.parameters(), lr=lr_at(0, cfg.train), betas=tuple(cfg.train.betas), fused=fused,
                           foreach=None if fused else True)
    images, targets = _inputs(cfg, batch, model.num_classes)
    step = timed_step(cfg, model, opt, images, targets, bf16)
    return _median_rate(step, batch, steps, warmup=3 if compile_cnn else 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", choices=["default", "reference"])
    ap.add_argument("--config", default=None, help="default: configs/shipped.yaml for default, else configs/MODEL.yaml")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip", action="append", default=[], help="a variant name to leave out (repeatable)")
    ap.add_argument("--json", type=Path, default=None, help="also append the rows to this JSON-lines file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = _config(args.model, args.config or ("configs/shipped.yaml" if args.model == "default" else None), [])
    flops = model_flops(cfg, train=True)
    peaks = {bf16: peak_flops(bf16)["peak"] for bf16 in (False, True)}
    base = None
    for name, cl, fused, bf16, comp in VARIANTS:
        if name in args.skip:
            continue
        rate = train_rate(cfg, args.batch_size, args.steps, cl, fused, bf16, comp)
        base = base or rate
        row = {"model": args.model, "variant": name, "dtype": "bf16" if bf16 else "fp32", "images_per_s": round(rate, 2),
               "speedup": round(rate / base, 2), "mfu": round(flops * rate / peaks[bf16], 4),
               "peak_flops": round(peaks[bf16]), "model_gflops_per_image": round(flops / 1e9, 3)}
        print(json.dumps(row), flush=True)
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
