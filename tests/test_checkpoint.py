"""Training checkpoints (train/checkpoint.py) on a one-layer model: what a file holds, the previous copy kept beside
it, and --resume falling back past a damaged file (fast: `make mutation` mutates checkpoint.py against these)."""

from pathlib import Path

import pytest
import torch

from seqocr.charset import Charset
from seqocr.config import Config
from seqocr.errors import DataError
from seqocr.model.weights import FORMAT_VERSION, read_checkpoint
from seqocr.train.checkpoint import previous, read_latest_good, save_checkpoint


class Wrapped(torch.nn.Module):  # as DDP holds a model: under .module
    def __init__(self, module):
        super().__init__()
        self.module = module


def layer(value: float) -> torch.nn.Linear:
    net = torch.nn.Linear(2, 1)
    torch.nn.init.constant_(net.weight, value)
    return net


def test_previous_is_beside_it():
    assert previous(Path("runs/x/last.pt")) == Path("runs/x/last.prev.pt")
    assert previous(Path("a/b.c.pt")) == Path("a/b.c.prev.pt")


def test_a_checkpoint_holds_what_training_needs_to_continue(tmp_path):
    cfg, charset, net = Config(), Charset.fsns(), layer(0.5)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    path = tmp_path / "new" / "dir" / "last.pt"  # folders made as needed
    save_checkpoint(path, cfg=cfg, charset=charset, model=Wrapped(net), optimizer=optimizer, step=12,
                    extra={"rng": [1, 2]})
    state = read_checkpoint(path)
    assert state["format_version"] == FORMAT_VERSION and state["step"] == 12 and state["extra"] == {"rng": [1, 2]}
    assert state["config"] == cfg.to_dict() and state["charset"] == charset.to_dict()
    assert set(state["model"]) == {"weight", "bias"}  # the plain module's keys: no "module." prefix
    torch.testing.assert_close(state["model"]["weight"], net.weight.detach())
    assert state["optimizer"]["state"][0]["momentum_buffer"].shape == (1, 2)
    save_checkpoint(path, cfg=cfg, charset=charset, model=net)
    state = read_checkpoint(path)
    assert state["optimizer"] is None and state["step"] == 0 and state["extra"] == {}
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]  # no temporary or previous file left


def test_keep_previous_keeps_the_replaced_file(tmp_path):
    path, cfg, charset = tmp_path / "last.pt", Config(), Charset.fsns()
    save_checkpoint(path, cfg=cfg, charset=charset, model=layer(1.0), step=1, keep_previous=True)
    assert not previous(path).exists()  # nothing to keep yet
    save_checkpoint(path, cfg=cfg, charset=charset, model=layer(2.0), step=2, keep_previous=True)
    save_checkpoint(path, cfg=cfg, charset=charset, model=layer(3.0), step=3, keep_previous=True)
    assert read_checkpoint(path)["step"] == 3 and read_checkpoint(previous(path))["step"] == 2
    save_checkpoint(path, cfg=cfg, charset=charset, model=layer(4.0), step=4)
    assert read_checkpoint(previous(path))["step"] == 2  # without keep_previous the copy stays as it was


def test_resume_reads_the_newest_good_file_and_names_a_damaged_one(tmp_path):
    path, cfg, charset = tmp_path / "last.pt", Config(), Charset.fsns()
    with pytest.raises(DataError, match=rf"^--resume: no checkpoint at {path}; start without --resume$"):
        read_latest_good(path)
    save_checkpoint(path, cfg=cfg, charset=charset, model=layer(1.0), step=1, keep_previous=True)
    save_checkpoint(path, cfg=cfg, charset=charset, model=layer(2.0), step=2, keep_previous=True)
    warned = []
    assert read_latest_good(path, warned.append)["step"] == 2 and warned == []
    path.write_bytes(path.read_bytes()[:100])  # a full disk cut it short
    assert read_latest_good(path, warned.append)["step"] == 1
    assert warned == [(f"warning: {path}: not a readable seqocr checkpoint (truncated or corrupt: RuntimeError); "
                      "trying the previous checkpoint")]
    previous(path).write_bytes(b"")
    with pytest.raises(DataError) as e:
        read_latest_good(path, warned.append)
    assert str(e.value).startswith(f"{path}: not a readable") and f"; {previous(path)}: not a readable" in str(e.value)
    previous(path).unlink()
    with pytest.raises(DataError, match=rf"^{path}: not a readable seqocr checkpoint"):
        read_latest_good(path, warned.append)
