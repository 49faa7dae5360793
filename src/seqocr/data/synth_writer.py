"""``seqocr synth``: write generated signs as PNG files plus a labels file.

Each image is written to a temporary name and renamed, and the labels file is written last, the same way:
a run killed midway leaves no half file and nothing that looks complete, and rerunning it skips the images
already there (sample i is a pure function of (seed, i), so they are the same) and finishes the job.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from .labels import write_labels


def write_synth(out: Path, n: int, seed: int = 0, split: str = "train", progress: bool = True) -> Path:
    from tqdm import tqdm

    from .synth import synth_sample

    labels = out / "labels.tsv"
    if labels.exists():
        raise DataError(f"{out}: already holds a finished set ({labels}); choose another --out")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    if n <= 0:
        raise DataError(f"--n must be positive, got {n}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in tqdm(range(n), desc="synth", unit="img", disable=not progress):
        name = f"images/{i:07d}.png"
        img, text = synth_sample(seed, i, split)
        target = out / name
        if not target.exists():
            tmp = target.with_name(f".{target.name}.tmp")
            img.save(tmp, format="PNG")
            os.replace(tmp, target)
        rows.append((name, text))
    write_labels(labels, rows)
    return labels
