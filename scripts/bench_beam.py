"""Beam search against greedy on the shipped model: accuracy and reading speed, PyTorch and ONNX Runtime side by
side (issue 13 item 7; BENCHMARKS.md "Issue 13 item 7: beam search").

    python scripts/bench_beam.py [--n 1000] [--beams 1,3,5] [--real ../shared/fsns-sample/labels.tsv]
                                 [--tune 300] [--json benchmarks/beam.json]

The images are preprocessed once; what is timed is ``read_arrays`` on batches of ``--batch-size``, every runtime
and beam width on the same batch one after the other (so a busy machine slows them alike), and the speed is the
batch size over the median batch time. The ONNX graphs are exported from the shipped weights into a temporary
folder (``export_onnx(beam=True)``). ``--tune N`` first reads N generated signs of *another* seed (2) with the
beams at several length penalties: the default is chosen there, never on the held-out set or the real
samples, which are measurement only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seqocr.data import iter_labelled
from seqocr.inference import beam as beam_module
from seqocr.inference.beam import beam_search
from seqocr.inference.export import export_onnx
from seqocr.inference.onnx_reader import OnnxReader
from seqocr.inference.postprocess import decode_batch
from seqocr.inference.predictor import Predictor, TorchSteps
from seqocr.metrics import compute_metrics
from seqocr.preprocess import eval_transform

PENALTIES = (0.0, 0.5, 1.0)


def load(source: str, reader) -> tuple[np.ndarray, list[str]]:
    """Preprocessed images (N, 3, H, V·W) and their texts."""
    items = [(im, text) for im, text, _ in iter_labelled(source, reader.charset, 10_000) if im is not None]
    return np.stack([eval_transform(im, reader.spec) for im, _ in items]), [t for _, t in items]


def run(readers: dict, arrays: np.ndarray, batch: int) -> tuple[dict, dict]:
    """Every reader on every batch, side by side: texts and per-batch seconds of each."""
    texts = {name: [] for name in readers}
    seconds = {name: [] for name in readers}
    for start in range(0, len(arrays), batch):
        chunk = arrays[start:start + batch]
        for name, read in readers.items():
            t = time.perf_counter()
            texts[name] += [r.text for r in read(chunk)]
            if len(chunk) == batch:  # the last, shorter batch is read, not timed
                seconds[name].append(time.perf_counter() - t)
        print(f"  {start + len(chunk)}/{len(arrays)}", file=sys.stderr, end="\r", flush=True)
    print(file=sys.stderr)
    return texts, seconds


def summary(texts: list[str], truth: list[str], greedy: list[str], seconds: list[float], batch: int) -> dict:
    m = compute_metrics(truth, texts)
    right, greedy_right = [t == g for t, g in zip(texts, truth)], [t == g for t, g in zip(greedy, truth)]
    return {"annotation_precision": m["annotation_precision"], "character_precision": m["character_precision"],
            "exact": sum(right), "changed_vs_greedy": sum(a != b for a, b in zip(texts, greedy)),
            "fixed": sum(r and not g for r, g in zip(right, greedy_right)),
            "broken": sum(g and not r for r, g in zip(right, greedy_right)),
            "images_per_s": batch / statistics.median(seconds) if seconds else None,
            "batches_timed": len(seconds)}


def tune(predictor: Predictor, n: int, beams: list[int], batch: int) -> list[dict]:
    """Exact match of each beam width at each length penalty on generated signs of seed 2 (not the held-out set);
    each batch is encoded once and searched at every setting."""
    arrays, truth = load(f"synth:split=test,n={n},seed=2", predictor)
    settings = [(b, penalty) for b in beams if b > 1 for penalty in PENALTIES]
    texts: dict = {s: [] for s in settings}
    model = predictor.model
    with torch.no_grad():
        for start in range(0, len(arrays), batch):
            images = torch.from_numpy(arrays[start:start + batch])
            memory = model.encode(images)
            for b, penalty in settings:
                ids, probs = beam_search(TorchSteps(model, images, b, memory), len(images), b, model.max_len,
                                         penalty)
                texts[b, penalty] += [r.text for r in decode_batch(ids, probs, predictor.charset)]
            print(f"  tune {start + len(images)}/{len(arrays)}", file=sys.stderr, end="\r", flush=True)
    rows = []
    for (b, penalty), found in texts.items():
        m = compute_metrics(truth, found)
        rows.append({"beam": b, "length_penalty": penalty, "n": n,
                     **{k: m[k] for k in ("annotation_precision", "character_precision")}})
        print(f"tune: {rows[-1]}", file=sys.stderr)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000, help="held-out generated signs (synth:split=test,seed=1; 0: none)")
    p.add_argument("--beams", default="1,3,5", help="beam widths, comma-separated")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--real", default=str(Path(__file__).resolve().parents[2] / "shared" / "fsns-sample" /
                                         "labels.tsv"), help="real samples' labels file (skipped if absent or '')")
    p.add_argument("--tune", type=int, default=0, metavar="N", help="first compare length penalties on N signs")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    torch.set_num_threads(2)
    beams = [int(b) for b in args.beams.split(",")]
    predictor = Predictor.from_checkpoint(None, engine="torch")  # PyTorch's reader (its attention, its model)
    result: dict = {"n": args.n, "batch_size": args.batch_size, "length_penalty": beam_module.LENGTH_PENALTY,
                    "threads": torch.get_num_threads(), "torch": torch.__version__}
    if args.tune:
        result["tune"] = tune(predictor, args.tune, beams, args.batch_size)
    sets = {"generated": f"synth:split=test,n={args.n},seed=1"} if args.n else {}
    if args.real and Path(args.real).is_file():
        sets["real"] = args.real
    if sets:
        measure(result, sets, predictor, beams, args.batch_size)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def measure(result: dict, sets: dict[str, str], predictor: Predictor, beams: list[int], batch: int) -> None:
    """Accuracy and speed of every runtime and beam width on each set, into ``result``."""
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(None, Path(tmp) / "seqocr-default.onnx", beam=True)
        ort = OnnxReader(onnx_path)
        readers = {}
        for b in beams:
            readers[f"torch beam {b}"] = lambda x, b=b: predictor.read_arrays(x, beam=b)
            readers[f"onnxruntime beam {b}"] = lambda x, b=b: ort.read_arrays(x, beam=b)
        for name, source in sets.items():
            arrays, truth = load(source, predictor)
            print(f"{name}: {len(arrays)} images", file=sys.stderr)
            texts, seconds = run(readers, arrays, batch)
            result[name] = {}
            for key in readers:
                greedy = texts[key.rsplit(" ", 1)[0] + " 1"] if 1 in beams else texts[key]
                result[name][key] = summary(texts[key], truth, greedy, seconds[key], batch)
            for b in beams:
                result[name][f"onnxruntime = torch, beam {b}"] = sum(
                    x == y for x, y in zip(texts[f"torch beam {b}"], texts[f"onnxruntime beam {b}"]))
            if name == "real":
                result[name]["readings"] = {key: texts[key] for key in readers if key.startswith("torch")}
                result[name]["truth"] = truth


if __name__ == "__main__":
    sys.exit(main())
