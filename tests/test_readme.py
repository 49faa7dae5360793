"""The shipped model's figures in the README and docs/ come from the model (issue 23): view size, attention shape,
parameter count (the model card's, which tests/test_figures.py checks the docs against). A new shipped model that
changes them fails here until the README, the docs and the card say what it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqocr import Predictor
from seqocr.config import Config
from seqocr.model import build_model, weights

ROOT = Path(__file__).resolve().parents[1]
CARD = "src/seqocr/resources/model/MODEL_CARD.md"
SAMPLE = min((ROOT / "src" / "seqocr" / "resources" / "samples").glob("sign-*.png"))


@pytest.fixture(scope="module")
def shipped():
    reader = Predictor.from_checkpoint(engine="torch")  # attention maps come from the PyTorch reader
    reading = reader.read([SAMPLE], attention=True)[0]
    views, rows, cols = reading.attention.shape[1:]
    # the model as trained (the reader's has its first BatchNorm folded into the convolution before it)
    cfg = Config.from_dict(weights.read_any(weights.SHIPPED)["config"])
    trained = build_model(cfg.model.replace(backbone_weights=""), 136)
    # the recognizer's parameters; the text detector's (frozen, in the same file) are counted apart
    params = sum(p.numel() for n, p in trained.named_parameters() if not n.startswith("detector."))
    detector = sum(p.numel() for n, p in trained.named_parameters() if n.startswith("detector."))
    backbone = sum(p.numel() for p in trained.backbone.parameters())
    pages = {name: " ".join((ROOT / name).read_text(encoding="utf-8").split())
             for name in ("README.md", "docs/models.md", "docs/service.md", CARD)}
    return {"size": (reader.spec.view_height, reader.spec.view_width), "memory": (views, rows, cols),
            "params": params, "backbone": backbone, "detector": detector, **pages}


def test_the_readme_gives_the_shipped_models_view_size(shipped):
    h, w = shipped["size"]
    assert f"It reads {h}x{w} views" in shipped["README.md"]
    assert f"cut out by the detector and read at {h}x{w}" in shipped["docs/models.md"]  # the architecture section
    assert f"a cell every 16 pixels down and 4 across the {h}×{w} region" in shipped["docs/service.md"]


def test_the_docs_give_the_shipped_models_attention_shape_and_parameters(shipped):
    v, r, c = shipped["memory"]
    service = shipped["docs/service.md"]
    assert f"reading.attention.shape # (len(reading.text), {v}, {r}, {c})" in service
    assert f"(the shipped model: {v} views × {r} rows × {c} columns" in service
    memory = re.search(r"a memory of (\d+) views × (\d+) rows × (\d+) columns; ([\d,]+) parameters",
                       shipped["docs/models.md"])
    assert memory and tuple(int(x) for x in memory.groups()[:3]) == (v, r, c)
    assert int(memory[4].replace(",", "")) == shipped["params"]
    detector = f"and its text detector's {shipped['detector']:,} (frozen)"  # in the same files, counted apart
    assert shipped["detector"] and detector in shipped["docs/models.md"]


def test_the_model_card_gives_the_shipped_models_parameters(shipped):
    """The card's count is what the docs' counts are checked against (tests/test_figures.py)."""
    row = re.search(r"\| parameters \| ([\d,]+), of which the pretrained backbone's ([\d,]+) \|", shipped[CARD])
    assert row and int(row[1].replace(",", "")) == shipped["params"]
    assert int(row[2].replace(",", "")) == shipped["backbone"]
