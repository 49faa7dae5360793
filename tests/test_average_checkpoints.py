"""scripts/average_checkpoints.py: the mean of two checkpoints' weights, loadable like any checkpoint; a clear line
for checkpoints of different models."""

from __future__ import annotations

import torch

from scripts.average_checkpoints import main
from seqocr.config import Config
from seqocr.model import build_model
from seqocr.model.weights import export_weights, load_model, read_checkpoint
from seqocr.train.checkpoint import save_checkpoint
from tests.helpers import tiny_checkpoint, tiny_model_config


def test_the_average_is_the_mean_of_the_weights_and_loads(tmp_path, fsns, capsys):
    (tmp_path / "a").mkdir()
    a = tiny_checkpoint(tmp_path / "a", "default", fsns)
    b = tmp_path / "b.pt"
    cfg = read_checkpoint(a)
    model = build_model(tiny_model_config("default", max_len=38), len(fsns))
    torch.manual_seed(1)
    for p in model.parameters():
        torch.nn.init.normal_(p)
    save_checkpoint(b, cfg=Config.from_dict(cfg["config"]), charset=fsns, model=model, step=9)
    out = tmp_path / "soup" / "avg.pt"
    assert main([str(a), str(b), "--out", str(out)]) == 0
    wa, wb, avg = read_checkpoint(a)["model"], read_checkpoint(b)["model"], read_checkpoint(out)
    for k, v in avg["model"].items():
        if v.is_floating_point():
            torch.testing.assert_close(v, (wa[k] + wb[k]) / 2)
        else:
            assert torch.equal(v, wb[k])
    assert avg["step"] == 9 and "optimizer" not in avg and avg["extra"]["averaged_from"] == [str(a), str(b)]
    load_model(out)  # loads like any checkpoint
    assert "the mean of 2 checkpoints" in capsys.readouterr().out
    # exported weights (the shipped model's file) average like the checkpoint they came from
    out2 = tmp_path / "avg2.pt"
    assert main([str(export_weights(a, tmp_path / "a.safetensors")), str(b), "--out", str(out2)]) == 0
    for k, v in read_checkpoint(out2)["model"].items():
        torch.testing.assert_close(v, avg["model"][k])


def test_checkpoints_of_different_models_are_one_clear_line(tmp_path, fsns, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = tiny_checkpoint(tmp_path / "a", "default", fsns)
    b = tiny_checkpoint(tmp_path / "b", "reference", fsns)
    out = tmp_path / "avg.pt"
    assert main([str(a), str(b), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"average_checkpoints: error: {a}: ") and not out.exists()
    assert main([str(a), str(tmp_path / "missing.pt"), "--out", str(out)]) == 1
    assert "checkpoint not found" in capsys.readouterr().err and not out.exists()
