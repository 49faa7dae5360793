"""Token ids and probabilities -> text, confidence and per-character probabilities. numpy only, no torch:
the PyTorch and ONNX Runtime readers both end here. Also the rejection of readings below a confidence
threshold (``--min-confidence``), and the predictions file of ``seqocr eval``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..charset import EOS, Charset
from ..fsutil import atomic_write


@dataclass
class Reading:
    text: str
    confidence: float          # product of the probabilities of every emitted token, EOS included
    char_probs: list[float]    # one per character of ``text``
    rejected: bool = False     # below the caller's confidence threshold: ``text`` is then empty
    # where the model looked for each character of ``text``: (len(char_probs), V, R, W) weights over V views, R rows,
    # W columns of its memory (each character's sum to 1), when the caller asked for them (PyTorch readers only)
    attention: np.ndarray | None = field(default=None, compare=False, repr=False)
    # read with a gazetteer: whether ``text`` is one of its names (False: none fitted, read freely); else None
    lexicon: bool | None = None
    # the region of the image each of the V views read, (V, 4) x0, y0, x1, y1 in the image's pixels, where the
    # model cut the views itself (a reader of pixels)
    regions: np.ndarray | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict:
        out = {"text": self.text, "confidence": round(self.confidence, 6),
               "char_probs": [round(p, 6) for p in self.char_probs], "rejected": self.rejected}
        return out if self.lexicon is None else {**out, "lexicon": self.lexicon}


def check_min_confidence(threshold: float) -> float:
    """``threshold`` itself when it is a usable confidence threshold, 0 to 1 (0: reject nothing)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"min_confidence must be from 0 to 1, got {threshold}")
    return threshold


def reject_below(readings: Sequence[Reading], threshold: float) -> list[Reading]:
    """The readings with those whose confidence is under ``threshold`` rejected: empty text, no character
    probabilities (they belong to the text), ``rejected`` set and the confidence kept, so the caller can see how
    far below the threshold it was."""
    check_min_confidence(threshold)
    return [replace(r, text="", char_probs=[], rejected=True, attention=None) if r.confidence < threshold else r
            for r in readings]


def decode_batch(ids: np.ndarray, probs: np.ndarray, charset: Charset, attention: np.ndarray | None = None,
                 regions: np.ndarray | None = None) -> list[Reading]:
    """ids, probs: (B, T) from a model's greedy decoder (positions after EOS already PAD with probability 1);
    ``attention`` (B, T, V, R, W), each step's weights laid over the views, gives every reading the maps of the
    steps that wrote its characters; ``regions`` (B, V, 4), the region of the image each view read."""
    out = []
    for b, (row, prow) in enumerate(zip(np.asarray(ids), np.asarray(probs, dtype=np.float64))):
        end = int(np.argmax(row == EOS)) + 1 if (row == EOS).any() else len(row)
        text = charset.decode(row[:end])
        keep = [k for k in range(end) if 0 <= row[k] - charset.offset < len(charset.chars)]
        maps = None if attention is None else np.asarray(attention[b, keep], dtype=np.float32)
        out.append(Reading(text, float(np.prod(prow[:end])), [float(prow[k]) for k in keep], attention=maps,
                           regions=None if regions is None else np.asarray(regions[b], dtype=np.float32)))
    return out


def write_predictions(path, rows: list[tuple[str, str, str, float]]) -> None:
    """A TSV of ``where, ground_truth, prediction, confidence, correct``, written atomically."""
    lines = ["where\tground_truth\tprediction\tconfidence\tcorrect\n"]
    lines += [f"{w}\t{t}\t{p}\t{c:.6f}\t{int(t == p)}\n" for w, t, p, c in rows]
    with atomic_write(path) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")
