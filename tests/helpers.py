"""Small builders used by several test files."""

from __future__ import annotations

from pathlib import Path

from seqocr.data.synth import synth_sample


def write_synth_folder(root: Path, n: int, seed: int = 0, split: str = "train") -> Path:
    """A folder of generated images and its labels file (paths relative to it); returns the labels path."""
    (root / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        img, text = synth_sample(seed, i, split)
        img.save(root / "img" / f"{i}.png")
        lines.append(f"img/{i}.png\t{text}\n")
    labels = root / "labels.tsv"
    labels.write_text("".join(lines), encoding="utf-8")
    return labels
