"""Data-path benchmark (issue: FSNS data at full scale).

1. convert and pack throughput (records/s) on generated FSNS-format TFRecords;
2. training-input images/s of ONE DataLoader worker per source (labels file, LMDB, TFRecord stream, generator),
   with the reference's FSNS augmentation, at the default model's and the reference's input sizes;
3. memory while streaming 512 shards: resident set size sampled along the stream.

Usage: .venv/bin/python scripts/bench_data.py [--records 2000] [--out runs/bench-data] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import time
from pathlib import Path

from torch.utils.data import DataLoader

from seqocr.charset import Charset
from seqocr.data import build_dataset
from seqocr.data.convert import convert_fsns
from seqocr.data.datasets import Collate, StreamSampler
from seqocr.data.lmdb_store import pack_lmdb, samples_from_labels
from seqocr.data.synth import synth_sample
from seqocr.data.tfrecord import write_fsns
from seqocr.fsns import DECODER_STEPS, MAX_LABEL
from seqocr.preprocess import ImageSpec


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_pngs(n: int) -> list[tuple[bytes, str]]:
    out = []
    for i in range(n):
        img, text = synth_sample(0, i)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        out.append((buf.getvalue(), text))
    return out


def write_shards(folder: Path, samples: list[tuple[bytes, str]], shards: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-len(samples) // shards)
    for k in range(shards):
        write_fsns(folder / f"train-{k:05d}-of-{shards:05d}", samples[k * per:(k + 1) * per], Charset.fsns())


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def loader_rate(source: str, spec: ImageSpec, images: int, batch: int = 32) -> float:
    """Images/s of one worker process feeding augmented training batches (after a first warm-up batch)."""
    charset = Charset.fsns()
    ds = build_dataset(source, charset, spec, MAX_LABEL, augment=True, synth_n=10**6,
                       stream={"batch_size": batch})
    kw = {} if not hasattr(ds, "__len__") else {"sampler": StreamSampler(len(ds), 0)}
    loader = iter(DataLoader(ds, batch_size=batch, num_workers=1, collate_fn=Collate(charset, DECODER_STEPS),
                             prefetch_factor=2, **kw))
    next(loader)
    t0, n = time.perf_counter(), 0
    while n < images:
        n += len(next(loader)["texts"])
    return n / (time.perf_counter() - t0)


def stream_memory(folder: Path, shards: int, per_shard: int, sample: tuple[bytes, str]) -> list[tuple[int, float]]:
    write_shards(folder, [sample] * (shards * per_shard), shards)
    ds = build_dataset(str(folder), Charset.fsns(), ImageSpec(64, 64, 4), MAX_LABEL, stream={"epochs": 1})
    points, total = [], shards * per_shard
    for i, _ in enumerate(ds):
        if i % (total // 10) == 0:
            points.append((i, round(rss_mb(), 1)))
    points.append((total, round(rss_mb(), 1)))
    return points


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--out", default="runs/bench-data")
    ap.add_argument("--per-shard", type=int, default=20, help="records in each of the 512 streamed shards")
    ap.add_argument("--json")
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    samples = make_pngs(args.records)
    write_shards(out / "fsns" / "train", samples, 16)
    result: dict = {"records": args.records}
    charset = Charset.fsns()
    t = timed(lambda: convert_fsns(out / "fsns", "train", out / "png", charset, progress=False))
    result["convert_records_per_s"] = round(args.records / t, 1)
    labels = out / "png" / "train.txt"
    t = timed(lambda: pack_lmdb(out / "lmdb", samples_from_labels(labels), progress=False, charset=charset))
    result["pack_records_per_s"] = round(args.records / t, 1)
    sources = {"labels": str(labels), "lmdb": str(out / "lmdb"), "tfrecord": str(out / "fsns" / "train"),
               "synth": "synth"}
    for model, spec in (("default", ImageSpec(64, 64, 4)), ("reference", ImageSpec(128, 128, 4))):
        for name, source in sources.items():
            rates = [loader_rate(source, spec, 320) for _ in range(3)]
            result[f"loader_{model}_{name}_images_per_s_per_worker"] = round(statistics.median(rates), 1)
    result["stream_512_shards_rss_mb"] = stream_memory(out / "shards512", 512, args.per_shard, samples[0])
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
