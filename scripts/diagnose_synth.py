"""Where the model fails on generated signs: accuracy by number of display lines and by letter height.

Usage: .venv/bin/python scripts/diagnose_synth.py [--onnx M] [--n 1000] [--json benchmarks/diagnose.json]

Reads the generated held-out set (`synth:split=test,n=N,seed=1`, the set of BENCHMARKS.md) with an ONNX model (the
shipped one by default) and groups the results by the layout the generator drew: how many lines the label was
set in, and the height of the plate's capitals in the 150-pixel tile (scaled to the model's view height, that is
how many pixels a capital letter spans in what the model sees). The generator's own layout functions are wrapped
to record these, so the images are exactly those of the held-out set.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import defaultdict
from pathlib import Path

from seqocr.data import synth
from seqocr.data.synth import scene as synth_scene
from seqocr.inference.onnx_reader import OnnxReader
from seqocr.metrics import compute_metrics
from seqocr.model.weights import SHIPPED

BINS = (0, 4, 5, 6, 7, 8, 100)  # capital height in view pixels


def record_layouts() -> dict:
    """Wrap the generator's layout steps so that each sample leaves its line count and capital height here."""
    seen: dict = {}
    sign_lines, scene = synth_scene.sign_lines, synth._scene

    def lines(text, rng):
        out = sign_lines(text, rng)
        seen["lines"] = len(out)
        return out

    def scene_(text, rng):
        out = scene(text, rng)
        seen["cap"] = out.cap
        return out

    synth_scene.sign_lines, synth._scene = lines, scene_  # where _scene and render_views look them up
    return seen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--json")
    args = ap.parse_args()
    reader = OnnxReader(args.onnx or SHIPPED.with_suffix(".onnx"))
    scale = reader.spec.view_height / synth.TILE
    seen = record_layouts()
    images, labels, groups = [], [], []
    for i in range(args.n):
        image, text = synth.synth_sample(1, i, "test")
        cap = seen["cap"] * scale
        bin_ = next(f"{lo}-{hi}" for lo, hi in itertools.pairwise(BINS) if cap < hi)
        images.append(image)
        labels.append(text)
        groups.append((f"{seen['lines']} lines", f"capitals {bin_} px"))
    reads = [r.text for r in reader.read(images)]
    result: dict = {"samples": args.n, "view_height": reader.spec.view_height}
    for axis in (0, 1):
        by: dict = defaultdict(lambda: ([], []))
        for g, t, r in zip(groups, labels, reads):
            by[g[axis]][0].append(t)
            by[g[axis]][1].append(r)
        for key in sorted(by):
            m = compute_metrics(*by[key])
            result[key] = {"samples": len(by[key][0]), "annotation_precision": round(m["annotation_precision"], 4),
                           "character_precision": round(m["character_precision"], 4)}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
