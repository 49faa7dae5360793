"""`seqocr train` and `seqocr bench`."""

from __future__ import annotations

import argparse
import json

from ..device import DEVICE_HELP
from ..model import MODELS
from .common import AT_LEAST_ZERO, POSITIVE, _key_value, add_no_progress, show_progress


def _train(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..train.loop import train

    cfg = load_config(args.config, [*(args.set or []), *([f"train.device={args.device}"] if args.device else [])])
    train(cfg, resume=args.resume, progress=show_progress(args))
    return 0


def _bench(args: argparse.Namespace) -> int:
    import torch

    args.model = args.model or sorted(MODELS)
    args.dtype = args.dtype or ["fp32", "bf16"]
    from ..train.bench import run

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = run(args.kind, args.model, args.config, args.set or [], args.batch_size, args.steps, args.warmup,
               args.dtype, args.device)
    for row in rows:
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['bench']:5s} {row['model']:9s} {row['dtype']:4s} batch {row['batch']:3d}: "
                  f"{row['images_per_s']:8.2f} images/s, {row['model_gflops_per_image']:.2f} GFLOP/image, "
                  f"MFU {row['mfu']:.1%} of {row['peak_flops'] / 1e9:.0f} GFLOP/s ({row['threads']} threads)")
    return 0


def add_train(command) -> None:
    """Register `seqocr train`; ``command(name, help)`` makes a subparser."""
    t = command("train", "train a model from a YAML config")
    t.add_argument("--config", required=True, help="configs/NAME.yaml")
    t.add_argument("--set", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="override a config key, e.g. train.steps=100 (repeatable)")
    t.add_argument("--resume", action="store_true", help="continue from <train.out_dir>/last.pt")
    t.add_argument("--device", help=f"{DEVICE_HELP} (default: train.device, or CUDA when there is one)")
    t.set_defaults(func=_train)
    add_no_progress(t)


def add_bench(command) -> None:
    """Register `seqocr bench`."""
    b = command("bench", "training-step or reading throughput on random tensors")
    b.add_argument("kind", choices=("train", "read"), help="what to time")
    b.add_argument("--model", action="append", choices=sorted(MODELS),
                   help="model(s) to measure, with configs/NAME.yaml (repeatable; default: both)")
    b.add_argument("--config", help="a config file instead of configs/NAME.yaml (with train.init_from: the model "
                                    "of those weights, as a run of it trains)")
    b.add_argument("--set", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="override a config key (repeatable)")
    b.add_argument("--batch-size", type=POSITIVE, default=32, help="images per step")
    b.add_argument("--steps", type=POSITIVE, default=5, help="timed steps (median reported)")
    b.add_argument("--warmup", type=AT_LEAST_ZERO, default=2, help="untimed steps first")
    b.add_argument("--dtype", action="append", choices=("fp32", "bf16"), help="repeatable (default: both)")
    b.add_argument("--threads", type=AT_LEAST_ZERO, default=0, help="CPU threads (0: the library's default)")
    b.add_argument("--json", action="store_true", help="one JSON object per line")
    b.add_argument("--device", default="cpu", help=DEVICE_HELP)
    b.set_defaults(func=_bench)
