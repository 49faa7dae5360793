"""Where a training step's time goes: torch.profiler over a few optimizer steps of a model, as a table.

Usage: python -m benchmarks.profile_step [--config configs/shipped.yaml] [--device cuda] [--batch 32] [--steps 5]
       [--bf16] [--out profile.txt] [--set KEY=VALUE ...]

The step is the training loop's own (:func:`seqocr.train.bench.timed_step`: forward, loss, backward, clipping, fused
Adam) on random inputs of the model's shape, so data loading is not in it (the generator is measured apart). On
CUDA the table is sorted by device time and CUDA activity is recorded; on the CPU by CPU time. The top rows go to
``--out`` (and stdout).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from seqocr.device import pick_device, place_model, to_device
from seqocr.fsns import NUM_CLASSES
from seqocr.model import build_model, num_classes_for
from seqocr.train.bench import config_as_trained, random_inputs, timed_step
from seqocr.train.step import adam


def profile_table(config: str, overrides: list[str], device: str, batch: int, steps: int, bf16: bool,
                  rows: int = 25) -> str:
    cfg = config_as_trained(config, overrides)  # continue.yaml: the shipped model's own architecture
    where = pick_device(device)
    torch.manual_seed(0)
    model = place_model(build_model(cfg.model, num_classes_for(cfg.model, NUM_CLASSES)).train(), where)
    opt = adam(model.parameters(), cfg.train)
    images, targets = random_inputs(cfg, batch, model.num_classes)
    step = timed_step(cfg, model, opt, to_device(images, where), targets.to(where), bf16)
    cuda = where.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(min(2, steps)):  # warm-up: kernel selection, allocator (one for a quick look of one step)
        step()
    sync()
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        sync()
    head = (f"{cfg.model.name}, batch {batch}, {'bf16' if bf16 else 'fp32'}, {steps} step{'s' * (steps != 1)} "
            f"on {where} ({torch.get_num_threads()} CPU threads)\n")
    return head + prof.key_averages().table(sort_by="cuda_time_total" if cuda else "cpu_time_total", row_limit=rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/shipped.yaml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--device", default="")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    table = profile_table(args.config, args.set, args.device, args.batch, args.steps, args.bf16)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
