"""Reading fewer views (``model.read_views``): accuracy and ONNX Runtime speed of one model reading K of its 4 views.

Usage: .venv/bin/python scripts/bench_views.py [--checkpoint C] [--views 4 2 1] [--n 1000] [--rounds 5]
       [--real ../shared/fsns-sample/labels.tsv] [--json benchmarks/views.json]

For each K the model (default: the shipped one) is exported to ONNX with ``read_views: K`` (K = 4: every view, as
trained to read) and read with ONNX Runtime fp32 on the generated held-out set (``synth:split=test,n=N,seed=1``)
and the real samples; throughput at batch 32 on preprocessed generated signs, the K's interleaved round by round
so that machine noise hits them alike (median of ``rounds``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from bench_onnx import timed_rounds

from seqocr.data import iter_labelled
from seqocr.inference.evaluate import evaluate_reader
from seqocr.inference.export import export_onnx
from seqocr.inference.onnx_reader import OnnxReader
from seqocr.model.weights import load_model
from seqocr.preprocess import eval_transform
from seqocr.train.checkpoint import save_checkpoint


def with_read_views(checkpoint: str | None, k: int, out: Path) -> Path:
    """A checkpoint of the same weights whose config reads ``k`` views."""
    model, cfg, charset, state = load_model(checkpoint)
    cfg.model.options["read_views"] = model.read_views = k
    save_checkpoint(out, cfg=cfg, charset=charset, model=model, step=int(state.get("step", 0)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--views", type=int, nargs="+", default=[4, 2, 1])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--real", default="../shared/fsns-sample/labels.tsv")
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        readers = {}
        for k in args.views:
            weights = with_read_views(args.checkpoint, k, Path(tmp) / f"views{k}.pt")
            readers[k] = OnnxReader(export_onnx(weights, Path(tmp) / f"views{k}.onnx"))
        first = next(iter(readers.values()))
        max_chars = int(first.metadata["max_len"]) - 1
        sets = {"generated": list(iter_labelled(f"synth:split=test,n={args.n},seed=1", first.charset, max_chars)),
                "real": list(iter_labelled(args.real, first.charset, max_chars))}
        for k, reader in readers.items():
            rows[k] = {"views": k}
            for name, samples in sets.items():
                metrics, _ = evaluate_reader(reader, samples, 32)
                rows[k][name] = {"samples": int(metrics["samples"]),
                                 "annotation_precision": round(metrics["annotation_precision"], 4),
                                 "character_precision": round(metrics["character_precision"], 4)}
        batch = np.stack([eval_transform(img, first.spec) for img, _, _ in sets["generated"][:32]])
        for k, rate in timed_rounds(readers, batch, args.rounds).items():
            rows[k]["signs_per_s"] = rate
    print("| views read | signs/s | generated AP / CP | real AP / CP |")
    print("|---:|---:|---|---|")
    for r in rows.values():
        g, real = r["generated"], r["real"]
        print(f"| {r['views']} | {r['signs_per_s']} | {g['annotation_precision']:.3f} / {g['character_precision']:.3f}"
              f" | {real['annotation_precision']:.3f} / {real['character_precision']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(list(rows.values()), indent=1) + "\n")


if __name__ == "__main__":
    main()
