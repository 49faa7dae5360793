"""Average the weights of checkpoints of one model (a uniform "model soup", Wortsman et al. 2022): runs that
continue one another, such as two stages of the shipped model's recipe, often read better averaged than either
alone. The output is the last checkpoint with its weights replaced by the mean (integer tensors, such as batch-norm
counters, taken from the last; no optimizer state), so it loads, evaluates and ships like any checkpoint. Exported
weights (``.safetensors``, the shipped model's file) average like checkpoints.

    python scripts/average_checkpoints.py A.pt B.pt [C.pt ...] --out OUT.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from seqocr.errors import DataError
from seqocr.fsutil import atomic_write
from seqocr.model.weights import read_any


def average(paths: list[Path]) -> dict:
    """The last checkpoint of ``paths`` with the mean of their floating-point weights."""
    states = [read_any(p) for p in paths]
    last = states[-1]["model"]
    for path, state in zip(paths, states):
        weights = state["model"]
        if weights.keys() != last.keys():
            raise DataError(f"{path}: its weights are not those of {paths[-1]} (different tensor names)")
        if bad := next((k for k, v in weights.items() if v.shape != last[k].shape), None):
            raise DataError(f"{path}: tensor {bad} is {tuple(weights[bad].shape)}, {tuple(last[bad].shape)} "
                            f"in {paths[-1]}")
    mean = {k: (torch.stack([s["model"][k].double() for s in states]).mean(0).to(v.dtype)
                if v.is_floating_point() else v) for k, v in last.items()}
    out = {k: v for k, v in states[-1].items() if k != "optimizer"}
    out["model"] = mean
    out.setdefault("extra", {})["averaged_from"] = [str(p) for p in paths]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="average_checkpoints.py", description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", type=Path, help="checkpoints (.pt) or exported weights (.safetensors) of one model (two or more)")
    p.add_argument("--out", required=True, type=Path, help="where to write the averaged checkpoint")
    args = p.parse_args(argv)
    if len(args.checkpoints) < 2:
        p.error("name two checkpoints or more")
    try:
        state = average(args.checkpoints)
    except DataError as e:
        print(f"average_checkpoints: error: {e}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as tmp:
        torch.save(state, tmp)
    print(f"wrote {args.out}: the mean of {len(args.checkpoints)} checkpoints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
