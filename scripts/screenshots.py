"""The README's screenshots of the service's page and of an evaluation report, taken in headless Chromium
(scripts/headless.py) with the shipped model: docs/img/page.png and docs/img/report.png, small palette PNGs.

    .venv/bin/python -m scripts.screenshots [--images ../shared/fsns-sample] [--out docs/img]

The real FSNS signs of ../shared/fsns-sample are shown when present (looked at, never trained on), else the
bundled generated samples.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from scripts.headless import Browser
from scripts.spawn_serve import spawn

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "fsns-sample"
BUNDLED = ROOT / "src" / "seqocr" / "resources" / "samples"


def small_png(png: bytes, path: Path, width: int = 820, colours: int = 128) -> None:
    """A screenshot scaled to ``width`` and reduced to a palette: a README image of tens of kB."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    image.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB, {image.width}x{image.height})")


def page_shot(browser: Browser, image: Path, focus: int) -> bytes:
    proc, url = spawn([], startup_s=300)
    try:
        page = browser.new_page(1000, 620)
        page.goto(f"{url}/")
        page.wait_for("document.getElementById('model').textContent.startsWith('model')")
        page.set_files("#files", [str(image)])
        state = page.wait_for("document.querySelector('.card[data-state=done], .card[data-state=error]')"
                              "?.dataset.state", timeout=600)  # the first reading warms the model up
        if state != "done":
            raise SystemExit("the page shows an error: " + page.evaluate("document.querySelector('.error').textContent"))
        page.evaluate(f"document.querySelectorAll('.char')[{focus}].dispatchEvent(new MouseEvent('mouseenter'))")
        return page.screenshot(full_page=True)
    finally:
        proc.terminate()
        proc.wait(timeout=120)


def report_shot(browser: Browser, labels: Path, folder: Path) -> bytes:
    subprocess.run([sys.executable, "-m", "seqocr", "eval", "--data", str(labels), "--report", str(folder),
                    "--predictions", str(folder / "predictions.tsv"), "--no-progress"], check=True)
    page = browser.new_page(1000, 1500)
    page.goto((folder / "report.html").as_uri())
    return page.screenshot(full_page=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=REAL if REAL.is_dir() else BUNDLED,
                    help="a folder with labels.tsv and its images")
    ap.add_argument("--page-image", default="004.png", help="the image dropped on the page (in --images)")
    ap.add_argument("--focus", type=int, default=9, help="the character whose attention the page shows")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    image = args.images / args.page_image
    if not image.is_file():
        image = min(args.images.glob("*.png"))
    with Browser.start() as browser, tempfile.TemporaryDirectory() as tmp:
        small_png(page_shot(browser, image, args.focus), args.out / "page.png")
        small_png(report_shot(browser, args.images / "labels.tsv", Path(tmp)), args.out / "report.png")


if __name__ == "__main__":
    main()
