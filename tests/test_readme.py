"""The shipped model's figures in the README come from the model (issue 23): view size, attention shape, parameter
count. A new shipped model that changes them fails here until the README says what it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqocr import Predictor
from seqocr.config import Config
from seqocr.model import build_model, weights

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = min((ROOT / "src" / "seqocr" / "resources" / "samples").glob("sign-*.png"))


@pytest.fixture(scope="module")
def shipped():
    reader = Predictor.from_checkpoint(engine="torch")  # attention maps come from the PyTorch reader
    reading = reader.read([SAMPLE], attention=True)[0]
    views, rows, cols = reading.attention.shape[1:]
    # the model as trained (the reader's has its first BatchNorm folded into the convolution before it)
    cfg = Config.from_dict(weights.read_any(weights.SHIPPED)["config"])
    trained = build_model(cfg.model.replace(backbone_weights=""), 136)
    params = sum(p.numel() for p in trained.parameters())
    return {"size": (reader.spec.view_height, reader.spec.view_width), "memory": (views, rows, cols),
            "params": params, "text": (ROOT / "README.md").read_text()}


def test_the_readme_gives_the_shipped_models_view_size(shipped):
    h, w = shipped["size"]
    text = " ".join(shipped["text"].split())
    assert f"It reads {h}x{w} views" in text
    assert f"cut out by the detector and read at {h}x{w}" in text  # the architecture section
    assert f"a cell every 16 pixels down and 4 across the {h}×{w} region" in text


def test_the_readme_gives_the_shipped_models_attention_shape_and_parameters(shipped):
    v, r, c = shipped["memory"]
    text = " ".join(shipped["text"].split())
    assert f"reading.attention.shape # (len(reading.text), {v}, {r}, {c})" in text
    assert f"(the shipped model: {v} views × {r} rows × {c} columns" in text
    memory = re.search(r"a memory of (\d+) views × (\d+) rows × (\d+) columns; ([\d,]+) parameters", text)
    assert memory and tuple(int(x) for x in memory.groups()[:3]) == (v, r, c)
    assert int(memory[4].replace(",", "")) == shipped["params"]
