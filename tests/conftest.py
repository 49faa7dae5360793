"""Shared fixtures: tiny models and charsets so the whole suite runs in a few minutes on 2 cores."""

from __future__ import annotations

import pytest
import torch

from seqocr.charset import Charset
from seqocr.config import Config, ModelConfig


def tiny_model_config(name: str = "default", **kw) -> ModelConfig:
    base = {"name": name, "view_height": 16, "view_width": 16, "max_len": 8, "hidden": 16,
            "channels": [4, 8, 8, 8], "attention_dim": 8, "embed_dim": 8, "dropout": 0.0}
    base.update(kw)
    return ModelConfig(**base)


@pytest.fixture
def fsns() -> Charset:
    return Charset.fsns()


@pytest.fixture
def small_charset() -> Charset:
    return Charset.parse("\n".join("abcdefgh") + "\n<space>\n")


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(2)


def tiny_config(tmp_path, **sections) -> Config:
    cfg = Config.from_dict({"model": {**tiny_model_config(max_len=38).__dict__}, "train": {
        "steps": 4, "batch_size": 4, "ckpt_every": 2, "log_every": 1, "out_dir": str(tmp_path / "run"),
        "warmup_steps": 1}, "data": {"val_size": 4, "augment": False}})
    for section, values in sections.items():
        for k, v in values.items():
            setattr(getattr(cfg, section), k, v)
    return cfg
