"""Study for "route (b)": crop each view to its text region before the backbone, so that letters come out larger.

Usage: .venv/bin/python scripts/plate_crop_study.py --n 100 [--sizes 224 256 320] [--thresh 0.3] [--margin 0.08]

On generated held-out signs only (``synth_glyphs(seed=1, index 0..N-1, split="test")``, which also gives each label
character's box in each view, in fractions of the 150x150 view), two localisers give one box per view:

* ``det@S``: PP-OCRv6's text detector (the ONNX in the rapidocr wheel) on the view resized to SxS, prepared as
  rapidocr's ``DetPreProcess`` does (BGR, x / 255, mean 0.5, std 0.5, NCHW, side a multiple of 32); the box is the
  union of the pixels whose probability exceeds ``--thresh`` (rapidocr's DB threshold, 0.3); none, or a box under 6
  view px high or wide (a sliver at the edge of a noise view): no box.
* ``grad``: no model: the mean gradient magnitude of the blurred grey view over a 15x15 grid of 10 px cells; the
  box is the union of the cells scoring at least half the best cell, if they cover at most 70 % of the view.

With ``--margin`` (a share of the view) added on each side and clipped to the view, each box is measured on the
views where the generator put glyphs: recall (the crop holds every glyph box; >= 95 % of their area), how much of
the view the crop keeps (area, height), the median time per view (one thread), and the median glyph height once
resized into the backbone's input: the whole view to 192x192 (today) versus the crop to 256x128 or 192x192
(aspect kept, so the zoom is min(W / crop width, H / crop height)), and how many signs have at least one view whose
crop cuts a glyph. On noise views (the ~5 % of samples whose last 1-3 views are uniform noise; ``--noise`` of them,
drawn from samples N, N+1, ... when samples 0..N-1 hold too few) it counts boxes returned instead of the fallback.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import rapidocr
from PIL import Image, ImageFilter

from seqocr.data.synth import TILE, VIEWS, synth_glyphs
from seqocr.textcrop import mask_box

DET_MODEL = Path(rapidocr.__file__).parent / "models" / "PP-OCRv6_det_small.onnx"
FULL = (0.0, 0.0, 1.0, 1.0)
TARGETS = {"256x128": (256, 128), "192x192": (192, 192)}
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in fractions of the view


def views(seed: int, n: int, noise: int) -> list:
    """(sample, view index, 150x150 RGB view, glyph boxes (G, 4) or None for a noise view): every view of samples
    0..n-1, then the noise views only of samples n, n+1, ... until there are ``noise`` noise views (or 50 n)."""
    out, found = [], 0
    for i in range(50 * n):
        if i >= n and found >= noise:
            break
        image, _, present, glyphs = synth_glyphs(seed, i, "test")
        for k in range(0 if i < n else present, VIEWS):
            view = image.crop((k * TILE, 0, (k + 1) * TILE, TILE))
            boxes = glyphs[:, k]
            out.append((i, k, view, boxes[~np.isnan(boxes).any(1)] if k < present else None))
            found += k >= present
    return out


class DetLocaliser:
    """PP-OCRv6 text detection on the view resized to size x size; the union of the pixels above ``thresh``."""

    def __init__(self, size: int, thresh: float):
        assert size % 32 == 0, "the detector wants sides that are multiples of 32"
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(DET_MODEL), so, providers=["CPUExecutionProvider"])
        self.size, self.thresh = size, thresh

    def __call__(self, view: Image.Image) -> Box | None:
        rgb = np.asarray(view.resize((self.size, self.size), Image.Resampling.BILINEAR), np.float32)
        x = ((rgb[..., ::-1] / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]  # RGB -> BGR, as rapidocr feeds it
        prob = self.session.run(None, {"x": np.ascontiguousarray(x, np.float32)})[0][0, 0]
        box = mask_box(prob > self.thresh)
        if box is None or min(box[2] - box[0], box[3] - box[1]) < 0.04:  # a sliver under 6 view px: not a plate
            return None
        return box


def grad_box(view: Image.Image, cells: int = 15, keep: float = 0.5, too_big: float = 0.7) -> Box | None:
    """The baseline without a model: the cells of strong mean gradient (>= ``keep`` x the best cell); None when they
    cover more than ``too_big`` of the view (texture or noise everywhere: no plate stands out)."""
    grey = np.asarray(view.convert("L").filter(ImageFilter.GaussianBlur(1)), np.float32)
    mag = np.zeros_like(grey)
    mag[:, 1:] += np.abs(np.diff(grey, axis=1))
    mag[1:, :] += np.abs(np.diff(grey, axis=0))
    c = grey.shape[0] // cells
    score = mag[:c * cells, :c * cells].reshape(cells, c, cells, c).mean((1, 3))
    strong = score >= keep * score.max()
    box = mask_box(strong)
    if box is None or strong.mean() > too_big or (box[2] - box[0]) * (box[3] - box[1]) > too_big:
        return None
    return box


def widen(box: Box | None, margin: float) -> Box:
    """The crop: the box plus ``margin`` on each side, clipped to the view; the whole view without a box."""
    if box is None:
        return FULL
    x0, y0, x1, y1 = box
    return max(0.0, x0 - margin), max(0.0, y0 - margin), min(1.0, x1 + margin), min(1.0, y1 + margin)


def score_view(crop: Box, glyphs: np.ndarray) -> dict[str, float]:
    """Recall and letter-height measures of one crop on one view's glyph boxes (G, 4)."""
    eps = 0.5 / TILE  # half a view pixel of slack
    x0, y0, x1, y1 = crop
    inside = ((glyphs[:, 0] >= x0 - eps) & (glyphs[:, 1] >= y0 - eps)
              & (glyphs[:, 2] <= x1 + eps) & (glyphs[:, 3] <= y1 + eps))
    ix = (np.minimum(glyphs[:, 2], x1) - np.maximum(glyphs[:, 0], x0)).clip(0)
    iy = (np.minimum(glyphs[:, 3], y1) - np.maximum(glyphs[:, 1], y0)).clip(0)
    area = (glyphs[:, 2] - glyphs[:, 0]) * (glyphs[:, 3] - glyphs[:, 1])
    h = float(np.median(glyphs[:, 3] - glyphs[:, 1]))  # median glyph height, in views
    cw, ch = x1 - x0, y1 - y0
    out = {"all": float(inside.all()), "a95": float((ix * iy).sum() >= 0.95 * area.sum()),
           "area": cw * ch, "height": ch, "h_full": h * 192}
    for name, (w, hh) in TARGETS.items():
        out[f"h_{name}"] = h * min(w / cw, hh / ch)
    return out


def study(name: str, locate, samples, margin: float) -> dict:
    """Runs one localiser over every view and sums up its measures."""
    rows, times, noise_boxes, noise_views, misses = [], [], 0, 0, []
    for i, k, view, glyphs in samples:
        t = time.perf_counter()
        box = locate(view)
        times.append(time.perf_counter() - t)
        if glyphs is None:
            noise_views += 1
            noise_boxes += box is not None
            continue
        if not len(glyphs):
            continue
        row = score_view(widen(box, margin), glyphs)
        row["fallback"] = float(box is None)
        rows.append(row)
        if not row["all"]:
            misses.append(f"{i}/{k}")
    col = {key: np.array([r[key] for r in rows]) for key in rows[0]}
    gain = col["h_256x128"] / col["h_full"]
    return {"name": name, "views": len(rows), "all": col["all"].mean(), "a95": col["a95"].mean(),
            "fallback": col["fallback"].mean(), "area": col["area"].mean(), "height": col["height"].mean(),
            "ms": 1e3 * float(np.median(times)), "h_full": np.median(col["h_full"]),
            "h_256x128": np.median(col["h_256x128"]), "h_192x192": np.median(col["h_192x192"]),
            "p10_full": np.percentile(col["h_full"], 10), "p10_256x128": np.percentile(col["h_256x128"], 10),
            "gain": np.median(gain), "gain_p10": np.percentile(gain, 10),
            "noise": f"{noise_boxes}/{noise_views}", "misses": misses,
            "cut_samples": len({m.split("/")[0] for m in misses})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="generated test-split samples (4 views each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", type=int, default=30, help="noise views to gather (from samples n, n+1, ... if need be)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 256, 320], help="detector input sides")
    ap.add_argument("--thresh", type=float, default=0.3, help="threshold on the detector's probability map")
    ap.add_argument("--margin", type=float, default=0.08, help="margin added on each side, share of the view")
    args = ap.parse_args()

    samples = views(args.seed, args.n, args.noise)
    localisers = [("none (full view)", lambda view: None), ("grad", grad_box)]
    localisers += [(f"det@{s}", DetLocaliser(s, args.thresh)) for s in args.sizes]
    results = [study(name, locate, samples, args.margin) for name, locate in localisers]

    print(f"{args.n} generated test signs (seed {args.seed}), margin {args.margin:.0%} per side, det threshold "
          f"{args.thresh}. recall: crop holds every glyph; >=95%: of glyph area; area, height: share of the view\n"
          "h@: median glyph height (10th pct) in target px; gain: h@256x128 / h@192 per view (median, 10th pct); "
          f"noise box: boxes on noise views; cut signs: of the {args.n}, with a view whose crop cuts a glyph")
    head = (f"{'localiser':<17}{'views':>6}{'recall':>8}{'>=95%':>7}{'no box':>8}{'area':>6}{'height':>7}"
            f"{'ms/view':>8}{'h@192':>12}{'h@256x128':>12}{'h@192sq':>8}{'gain':>6}{'p10':>6}{'noise box':>10}"
            f"{'cut signs':>10}")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['name']:<17}{r['views']:>6}{r['all']:>8.1%}{r['a95']:>7.1%}{r['fallback']:>8.1%}"
              f"{r['area']:>6.2f}{r['height']:>7.2f}{r['ms']:>8.1f}"
              f"{r['h_full']:>6.1f} ({r['p10_full']:>4.1f}){r['h_256x128']:>6.1f} ({r['p10_256x128']:>4.1f})"
              f"{r['h_192x192']:>8.1f}{r['gain']:>6.2f}{r['gain_p10']:>6.2f}{r['noise']:>10}{r['cut_samples']:>10}")
    for r in results:
        if r["misses"]:
            print(f"{r['name']}: crops cutting a glyph (sample/view): {' '.join(r['misses'][:20])}"
                  + (" ..." if len(r["misses"]) > 20 else ""))


if __name__ == "__main__":
    main()
