"""A speed/accuracy picture of models (issue 22): reading speed (signs/s, ONNX Runtime) across, exact match on the
generated held-out set up, one labelled point per model, drawn with Pillow (no plotting library needed).

    python scripts/plot_speed_accuracy.py ROWS.json --out docs/img/speed-accuracy.png

ROWS.json: a list of {"name": "stage 6 (144 px)", "signs_per_s": 20.4, "exact": 0.823}. A dashed line marks the
issue's floor of 10 signs/s.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

W, H, PAD = 720, 440, 70
FLOOR = 10.0  # signs/s: issue 22's floor for the shipped model's reading speed


def draw(rows: list[dict]) -> Image.Image:
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=14)
    xs, ys = [r["signs_per_s"] for r in rows], [r["exact"] for r in rows]
    x0, x1 = 0.0, max(max(xs), FLOOR) * 1.25
    y0, y1 = min(ys) - 0.05, min(1.0, max(ys) + 0.05)

    def at(x: float, y: float) -> tuple[float, float]:
        return PAD + (x - x0) / (x1 - x0) * (W - 2 * PAD), H - PAD - (y - y0) / (y1 - y0) * (H - 2 * PAD)

    d.line([at(x0, y0), at(x1, y0)], fill="black", width=2)
    d.line([at(x0, y0), at(x0, y1)], fill="black", width=2)
    for k in range(6):  # ticks
        x, y = x0 + k * (x1 - x0) / 5, y0 + k * (y1 - y0) / 5
        px, py = at(x, y0)
        d.text((px - 10, py + 8), f"{x:.0f}", fill="black", font=font)
        qx, qy = at(x0, y)
        d.text((qx - 50, qy - 8), f"{y:.2f}", fill="black", font=font)
    fx, _ = at(FLOOR, y0)
    for y in range(PAD, H - PAD, 12):  # the floor, dashed
        d.line([(fx, y), (fx, y + 6)], fill="grey", width=1)
    d.text((fx + 4, PAD), "floor: 10 signs/s", fill="grey", font=font)
    d.text((W / 2 - 160, H - 30), "reading speed, signs/s (ONNX Runtime fp32, batch 32, 2 threads)", fill="black",
           font=font)
    d.text((10, 10), "exact match, generated held-out (synth:split=test,n=1000,seed=1)", fill="black", font=font)
    for r in rows:
        px, py = at(r["signs_per_s"], r["exact"])
        d.ellipse([px - 5, py - 5, px + 5, py + 5], fill="#0a58ca")
        d.text((px + 8, py - 8), r["name"], fill="black", font=font)
    return img


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=Path, help="a JSON list of {name, signs_per_s, exact}")
    ap.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = ap.parse_args(argv)
    draw(json.loads(args.rows.read_text())).save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
