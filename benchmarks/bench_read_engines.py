"""``seqocr read`` with each engine on the same images, whole process (start, imports, model load, reading,
printing), side by side: the runs of each command interleaved, ``--repeats`` times, medians reported (issue 40).

Usage: .venv/bin/python -m benchmarks.bench_read_engines --images data/bench100 [--repeats 5]
       [--json benchmarks/read-speed.json]

The three commands: ``seqocr read`` as a user types it (the default engine: ONNX Runtime where it is installed),
``seqocr read --onnx`` (the shipped .onnx file named) and ``seqocr read --torch`` (PyTorch, the shipped
.safetensors file). Each run's texts are kept and compared: the engines must read the same texts. The JSON is the
one place the README's and docs' speed figures come from (tests/test_figures.py checks them against it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {"default": [], "onnx": ["--onnx", "src/seqocr/resources/model/seqocr-default.onnx"], "torch": ["--torch"]}


def run(extra: list[str], images: list[str]) -> tuple[float, list[str], str]:
    """One whole ``seqocr read`` process: its wall seconds and the texts it printed."""
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "seqocr", "read", "--json", *extra, *images], capture_output=True,
                       text=True, check=True)
    seconds = time.perf_counter() - start
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    return seconds, [row["text"] for row in rows], rows[0]["engine"]


def cpu_model() -> str:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True, help="a folder of images (e.g. seqocr synth --n 100 ...)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--note", default="", help="what else the machine was doing")
    args = ap.parse_args()
    images = sorted(str(p) for p in Path(args.images).rglob("*.png"))
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    texts, engines = {}, {}
    for _ in range(args.repeats):
        for name, extra in COMMANDS.items():  # interleaved: a load that comes and goes falls on every command
            seconds, read, engine = run(extra, images)
            times[name].append(seconds)
            texts.setdefault(name, read)
            engines[name] = engine
            print(f"{name:8s} {seconds:7.2f} s ({engine})", flush=True)
    same = texts["default"] == texts["onnx"] == texts["torch"]
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "images": len(images), "folder": args.images, "repeats": args.repeats,
        "commands": {k: " ".join(["seqocr", "read", *v, f"{args.images}/*.png"]) for k, v in COMMANDS.items()},
        "engines": engines, "seconds": times, "median_s": median,
        "signs_per_s": {k: round(len(images) / v, 1) for k, v in median.items()},
        "default_over_onnx": round(median["default"] / median["onnx"], 3),
        "torch_over_onnx": round(median["torch"] / median["onnx"], 2),
        "same_texts": same,
        "machine": {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)), "python": platform.python_version(),
                    "note": args.note},
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps({k: result[k] for k in ("median_s", "signs_per_s", "default_over_onnx", "torch_over_onnx",
                                             "same_texts")}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
