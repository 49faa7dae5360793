"""``seqocr read`` with each engine on the same images, whole process (start, imports, model load, reading,
printing), side by side: the runs of each command interleaved, ``--repeats`` times, medians reported (issue 40).

Usage: .venv/bin/python -m benchmarks.bench_read_engines --images data/bench100 [--repeats 5]
       [--json benchmarks/read-speed.json] [--onnx A.onnx --onnx B.onnx]

The three commands: ``seqocr read`` as a user types it (the default engine: ONNX Runtime where it is installed),
``seqocr read --onnx`` (the shipped .onnx file named) and ``seqocr read --torch`` (PyTorch, the shipped
.safetensors file). Each run's texts are kept and compared: the engines must read the same texts. The JSON is the
one place the README's and docs' speed figures come from (tests/test_figures.py checks them against it).

With ``--onnx FILE`` (twice or more) the commands are ``seqocr read --onnx FILE`` for each file instead, in the same
interleaved runs: one model's files side by side (issue 37: the graph from pixels against the file it replaced, whose
detector and crop ran outside it); each file's median is also given as a ratio to the first file's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {"default": [], "onnx": ["--onnx", "src/seqocr/resources/model/seqocr-default.onnx"], "torch": ["--torch"]}


def run(extra: list[str], images: list[str]) -> tuple[float, list[str], str]:
    """One whole ``seqocr read`` process: its wall seconds and the texts it printed (its CPU seconds, user and
    system, in :data:`CPU_SECONDS`)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "seqocr", "read", "--json", *extra, *images], capture_output=True,
                       text=True, check=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    return seconds, [row["text"] for row in rows], rows[0]["engine"]


CPU_SECONDS: list[float] = []  # each run's, in order: on a shared machine less of a lottery than the wall time


def cpu_model() -> str:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True, help="a folder of images (e.g. seqocr synth --n 100 ...)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--note", default="", help="what else the machine was doing")
    ap.add_argument("--onnx", action="append", metavar="FILE",
                    help="compare these ONNX files (give two or more) instead of the engines")
    args = ap.parse_args()
    images = sorted(str(p) for p in Path(args.images).rglob("*.png"))
    if args.onnx:
        files_compared(args, images)
        return
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


def files_compared(args: argparse.Namespace, images: list[str]) -> None:
    """``seqocr read --onnx FILE`` for each of ``args.onnx``, interleaved, medians and their ratio to the first."""
    commands = {f: ["--onnx", f] for f in args.onnx}
    times: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    texts = {}
    for _ in range(args.repeats):
        for name, extra in commands.items():
            seconds, read, _ = run(extra, images)
            times[name].append(seconds)
            cpu[name].append(CPU_SECONDS[-1])
            texts.setdefault(name, read)
            print(f"{name} {seconds:7.2f} s, {CPU_SECONDS[-1]:7.2f} CPU s", flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    cpu_median = {k: statistics.median(v) for k, v in cpu.items()}
    first = args.onnx[0]
    differ = {k: sum(a != b for a, b in zip(texts[first], t)) for k, t in texts.items()}
    result = {
        "images": len(images), "folder": args.images, "repeats": args.repeats,
        "commands": {k: " ".join(["seqocr", "read", "--json", *v, f"{args.images}/*.png"]) for k, v in commands.items()},
        "seconds": times, "median_s": median, "signs_per_s": {k: round(len(images) / v, 1) for k, v in median.items()},
        "speedup_over_first": {k: round(median[first] / v, 3) for k, v in median.items()},
        "cpu_seconds": cpu, "cpu_median_s": cpu_median,
        "cpu_speedup_over_first": {k: round(cpu_median[first] / v, 3) for k, v in cpu_median.items()},
        "texts_differing_from_first": differ,
        "machine": {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)), "python": platform.python_version(),
                    "note": args.note},
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps({k: result[k] for k in ("median_s", "signs_per_s", "speedup_over_first", "cpu_median_s",
                                             "cpu_speedup_over_first", "texts_differing_from_first")}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
