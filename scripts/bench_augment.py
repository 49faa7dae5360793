"""Where the generator's time goes with the augmentation in the workers or on the training device (issue 12).

Usage: .venv/bin/python scripts/bench_augment.py [--view 128] [--n 60] [--rounds 3] [--device cpu] [--json F]

On one core (one torch thread), interleaved round by round so that machine noise hits them alike, median of
``--rounds``:
* ``workers``: a DataLoader worker's work per sign with ``data.augment_on: workers``: draw the sign and its glyph
  boxes, then the reference's Pillow augmentation of its 4 views (``train_transform``);
* ``device_worker``: the same with ``data.augment_on: device``: draw, then only resize the views to uint8 tiles;
* ``device_augment``: the batched tensor augmentation (``train/augment.py``) of those tiles, in batches of 64,
  on ``--device``: the work moved off the workers.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import numpy as np
import torch

from seqocr.data.synth import synth_glyphs
from seqocr.preprocess import ImageSpec, tiles, train_transform
from seqocr.shares import Shares
from seqocr.train.augment import augment_views, step_seed

INVENTED = Shares(invented=0.4)  # the signs as the shipped recipe's early stages drew them


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--view", type=int, default=128)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    spec, device = ImageSpec(args.view, args.view, 4), torch.device(args.device)
    times: dict[str, list[float]] = {"workers": [], "device_worker": [], "device_augment": []}
    warm = synth_glyphs(0, 10**6, "train", INVENTED)  # fonts and caches loaded before any timing
    train_transform(warm[0], spec, random.Random(0), warm[2], warm[3])
    for r in range(args.rounds):
        ids = range(r * args.n, (r + 1) * args.n)
        t0 = time.perf_counter()
        for i in ids:
            img, _, present, boxes = synth_glyphs(0, i, "train", INVENTED)
            train_transform(img, spec, random.Random(i), present, boxes)
        times["workers"].append((time.perf_counter() - t0) / args.n)
        t0 = time.perf_counter()
        batch = [tiles(img, spec, present) for img, _, present, _ in (synth_glyphs(0, i, "train", INVENTED) for i in ids)]
        times["device_worker"].append((time.perf_counter() - t0) / args.n)
        x = torch.from_numpy(np.stack((batch * (1 + 64 // len(batch)))[:64])).to(device)  # 64 signs
        augment_views(x, spec, step_seed(0, 0, r))  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        augment_views(x, spec, step_seed(0, 0, r + 1))
        if device.type == "cuda":
            torch.cuda.synchronize()
        times["device_augment"].append((time.perf_counter() - t0) / len(x))
    per_s = {k: round(1 / statistics.median(v), 1) for k, v in times.items()}
    result = {"view": args.view, "device": args.device, "signs_per_s_per_core": per_s,
              "worker_gain": round(per_s["device_worker"] / per_s["workers"], 2)}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "a", encoding="utf-8") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
