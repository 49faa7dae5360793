"""What attention maps cost: reading with and without ``attention=True`` (the shipped model, PyTorch, one thread),
drawing ``read --show``'s picture, and the size of ``/v1/read?attention=1``'s JSON.

    .venv/bin/python scripts/bench_attention.py [--batch 16] [--repeats 5]

Times are CPU seconds of this process (``time.process_time``, one torch thread), medians of ``--repeats``: on a
machine shared with other jobs they say what the work costs, where wall-clock time would say how busy the machine
was.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from seqocr.inference.attention import attention_payload, render_reading
from seqocr.inference.predictor import Predictor
from seqocr.preprocess import load_image

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "seqocr" / "resources" / "samples"


def cpu_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    predictor = Predictor.from_checkpoint(None, engine="torch")  # PyTorch's reader (its attention, its model)
    paths = sorted(SAMPLES.glob("*.png"))
    images = [load_image(paths[i % len(paths)]) for i in range(args.batch)]
    plain = cpu_seconds(lambda: predictor.read(images, args.batch), args.repeats)
    shown = cpu_seconds(lambda: predictor.read(images, args.batch, attention=True), args.repeats)
    readings = predictor.read(images, args.batch, attention=True)
    draw = cpu_seconds(lambda: [render_reading(im, r, predictor.spec) for im, r in zip(images, readings)],
                       args.repeats)
    sizes = [len(json.dumps({**r.as_dict(), "attention": attention_payload(r.attention)})) for r in readings]
    bare = [len(json.dumps(r.as_dict())) for r in readings]
    chars = sum(len(r.text) for r in readings)
    print(json.dumps({
        "images": args.batch, "threads": 1,
        "read_cpu_s_per_image": round(plain / args.batch, 4),
        "read_attention_cpu_s_per_image": round(shown / args.batch, 4),
        "attention_overhead": round(shown / plain - 1, 4),
        "show_picture_cpu_s_per_image": round(draw / args.batch, 4),
        "json_bytes_per_image": round(statistics.mean(bare)),
        "json_bytes_per_image_with_attention": round(statistics.mean(sizes)),
        "attention_bytes_per_character": round((sum(sizes) - sum(bare)) / max(chars, 1)),
    }))


if __name__ == "__main__":
    main()
