"""How generated signs differ from real FSNS images, by measurement (issue 11 item 3b): per view, sharpness
(variance of the Laplacian of the grey image), and, by a blue-plate detector applied to both alike, the plate's
height and width as fractions of the view. Real images are measured, never trained or tuned on.

Usage: .venv/bin/python scripts/measure_domain.py [--real ../shared/fsns-sample/labels.tsv] [--n 200] [--json F]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from seqocr.data.synth import synth_record
from seqocr.preprocess import noise_free_views, split_views

PERCENTILES = (10, 25, 50, 75, 90)


def laplacian_variance(view: Image.Image) -> float:
    """Variance of the 4-neighbour Laplacian of the grey view: low for blurred views."""
    g = np.asarray(view.convert("L"), np.float32)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


def blue_plate_extent(view: Image.Image) -> tuple[float, float] | None:
    """Height and width (fractions of the view) of the rows and columns that are at least 15 % blue-plate
    pixels (blue exceeds red by 25 and is over 50), or None when there is no such plate."""
    a = np.asarray(view.convert("RGB"), np.int16)
    blue = (a[..., 2] - a[..., 0] > 25) & (a[..., 2] > 50)
    rows, cols = np.where(blue.mean(1) > 0.15)[0], np.where(blue.mean(0) > 0.15)[0]
    if len(rows) < 5 or len(cols) < 5:
        return None
    return (rows[-1] - rows[0] + 1) / view.height, (cols[-1] - cols[0] + 1) / view.width


def measure(images: list[tuple[Image.Image, int | None]]) -> dict:
    sharp, heights, widths = [], [], []
    for image, present in images:
        for view in split_views(image, 4, present)[:present or 4]:
            sharp.append(laplacian_variance(view))
            extent = blue_plate_extent(view)
            if extent:
                heights.append(extent[0])
                widths.append(extent[1])
    pct = lambda x: [round(float(v), 2) for v in np.percentile(x, PERCENTILES)]
    return {"views": len(sharp), "laplacian_variance": pct(sharp), "plates": len(heights),
            "plate_height": pct(heights), "plate_width": pct(widths)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", default="../shared/fsns-sample/labels.tsv")
    ap.add_argument("--n", type=int, default=200, help="generated training signs (seed 0)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    real = []
    for line in Path(args.real).read_text(encoding="utf-8").splitlines():
        image = Image.open(Path(args.real).parent / line.split("\t")[0]).convert("RGB")
        real.append((image, noise_free_views(split_views(image, 4, 4)) or 4))
    generated = [(r[0], r[2]) for r in (synth_record(0, i) for i in range(args.n))]
    out = {"real": measure(real), "generated": measure(generated)}
    print(f"{'':10} {'views':>6} {'Laplacian variance p10/25/50/75/90':>38} {'plate height p10-90':>32} "
          f"{'plate width p10-90':>32}")
    for name, m in out.items():
        print(f"{name:10} {m['views']:>6} {m['laplacian_variance']!s:>38} {m['plate_height']!s:>32} "
              f"{m['plate_width']!s:>32}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
