"""``seqocr synth``: write generated signs as PNG files plus a labels file.

Each image is written to a temporary name and renamed, and the labels file is written last, the same way:
a run killed midway leaves no half file and nothing that looks complete, and rerunning it skips the images
already there (sample i is a pure function of (seed, i), so they are the same) and finishes the job. The folder
is stamped with the seed and split (``.synth.json``), so that a rerun with other ones is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataError
from ..fsutil import atomic_write
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
    _claim(out, seed, split)
    rows = []
    for i in tqdm(range(n), desc="synth", unit="img", disable=not progress):
        name = f"images/{i:07d}.png"
        img, text = synth_sample(seed, i, split)
        target = out / name
        if not target.exists():
            with atomic_write(target) as tmp:
                img.save(tmp, format="PNG")
        rows.append((name, text))
    write_labels(labels, rows)
    return labels


def _claim(out: Path, seed: int, split: str) -> None:
    """Make ``out/images`` and stamp it with the generator's settings (``out/.synth.json``). An unfinished set
    is resumed only with the same seed and split: its images would not match another run's labels."""
    stamp, want = out / ".synth.json", {"seed": seed, "split": split}
    images = out / "images"
    if images.is_dir() and any(images.iterdir()):
        try:
            have = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise DataError(f"{out}: holds images that `seqocr synth` did not stamp; choose another --out") from None
        if have != want:
            raise DataError(f"{out}: holds an unfinished set of seed {have.get('seed')} split {have.get('split')}; "
                            "rerun with those to finish it, or choose another --out")
    images.mkdir(parents=True, exist_ok=True)
    with atomic_write(stamp) as tmp:
        tmp.write_text(json.dumps(want), encoding="utf-8")
