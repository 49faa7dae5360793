"""Fine-tuning (train.init_from): the model config comes from the checkpoint, a new charset resizes the token
layers with the shared characters' rows kept (train/finetune.py). Tiny models only, except one cheap look at the
shipped file."""

import pytest
import torch

from seqocr.charset import Charset
from seqocr.config import load_config
from seqocr.errors import ConfigError, DataError, SeqocrError
from seqocr.model import weights
from seqocr.model.weights import load_model, read_weights
from seqocr.train.checkpoint import save_checkpoint
from seqocr.train.finetune import adopt_model_config, init_source, token_pairs
from seqocr.train.loop import Trainer, train
from tests.helpers import CONFIGS, tiny_config, write_synth_folder

NEW = "ßØÅł"  # none of them is in FSNS's charset


def fsns_plus(tmp_path, extra: str = NEW, drop: str = "") -> Charset:
    """A charset file: FSNS's characters in reverse order (so that no shared character keeps its index), less
    ``drop``, plus ``extra``; returns it loaded."""
    chars = [c for c in reversed(Charset.fsns().chars) if c not in drop] + list(extra)
    path = tmp_path / "charset.txt"
    path.write_text("".join(("<space>" if c == " " else c) + "\n" for c in chars), encoding="utf-8")
    return Charset.from_file(path)


def tiny_checkpoint(tmp_path) -> tuple:
    """A tiny model with FSNS's charset, saved as a checkpoint; (path, its weights)."""
    cfg = tiny_config(tmp_path, data={"val": ""})
    trainer = Trainer(cfg, progress=False)
    with torch.no_grad():  # weights unlike any fresh initialisation
        for p in trainer.model.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path / "first.pt"
    save_checkpoint(path, cfg=cfg, charset=trainer.charset, model=trainer.model, step=5)
    return path, {k: v.clone() for k, v in trainer.model.state_dict().items()}


def finetune_config(tmp_path, first, *sets: str):
    """configs/finetune.yaml as the command line reads it, from ``first``, on a few generated labelled images."""
    labels = write_synth_folder(tmp_path / "data", 4)
    return load_config(CONFIGS / "finetune.yaml", [f"train.init_from={first}", f"data.train={labels}",
                                                   "data.val=", f"train.out_dir={tmp_path / 'tuned'}",
                                                   "train.steps=1", "train.batch_size=2", "data.workers=0",
                                                   "data.augment=false", *sets])


def test_tokens_are_matched_by_character_and_the_specials_map_to_themselves(fsns):
    old = Charset.parse("a\nb\nc\n")
    assert token_pairs(old, Charset.parse("c\nx\na\n")) == {0: 0, 1: 1, 2: 2, 3: 5, 5: 3}
    # FSNS encodes ' as the token of its canonical ‘: a charset listing ' takes that row
    assert token_pairs(fsns, Charset.parse("'\n")) == {0: 0, 1: 1, 2: 2, 3: fsns.encode("‘")[0]}


def test_a_new_charset_keeps_every_layer_and_the_shared_characters_rows(tmp_path, capsys):
    first, old = tiny_checkpoint(tmp_path)
    fsns, new = Charset.fsns(), fsns_plus(tmp_path, drop="€")
    cfg = tiny_config(tmp_path, data={"val": "", "charset": str(tmp_path / "charset.txt")},
                      train={"init_from": str(first), "out_dir": str(tmp_path / "two")})
    trainer = Trainer(cfg, progress=False)
    fresh = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.init_from(first)
    got = trainer.model.state_dict()
    token_layers = ("embedding.weight", "out.weight", "out.bias")
    for name in token_layers:
        assert got[name].shape[0] == len(new) == len(fsns) - 1 + len(NEW)
    assert all(torch.equal(got[k], old[k]) for k in old if k not in token_layers)  # every other layer kept
    shared = [(new.encode(c)[0], fsns.encode(c)[0]) for c in new.chars if c not in NEW]
    assert len(shared) == len(fsns.chars) - 1
    for name in token_layers:
        for i, j in [(0, 0), (1, 1), (2, 2), *shared]:  # PAD, GO, EOS and every shared character
            assert torch.equal(got[name][i], old[name][j]), (name, i, j)
        for c in NEW:  # a new character's rows: the fresh model's initialisation, not a copy of any old row
            i = new.encode(c)[0]
            assert torch.equal(got[name][i], fresh[name][i])
            assert not any(torch.equal(got[name][i], row) for row in old[name])
    out = capsys.readouterr().out
    assert "132 characters carried over from the checkpoint's 133, 4 new ('ßØÅł'), 1 of the checkpoint's not kept" \
        in out


def test_finetune_yaml_takes_the_model_config_from_the_checkpoint_and_trains_on_a_labels_file(tmp_path, capsys):
    first, old = tiny_checkpoint(tmp_path)
    new = fsns_plus(tmp_path)
    cfg = finetune_config(tmp_path, first, f"data.charset={tmp_path / 'charset.txt'}", "model.dropout=0.2",
                          "model.hidden=16", "train.lr=1e-30")
    train(cfg, progress=False)
    model, tuned, charset, state = load_model(tmp_path / "tuned" / "last.pt")
    expected = tiny_config(tmp_path).model
    expected.dropout = 0.2  # a training knob given with --set overrides the checkpoint's
    assert tuned.model == expected and charset.chars == new.chars and state["step"] == 1
    assert model.out.weight.shape[0] == len(new)
    ids = [new.encode(c)[0] for c in "Rue "]
    old_ids = [Charset.fsns().encode(c)[0] for c in "Rue "]
    assert torch.equal(model.embedding.weight[ids], old["embedding.weight"][old_ids])  # lr 1e-30: still the copies
    assert f"initialised from {first} (its step 5)" in capsys.readouterr().out


def test_a_given_model_key_that_disagrees_with_the_checkpoint_is_one_error_line(tmp_path, capsys):
    from seqocr.cli import main

    first, _ = tiny_checkpoint(tmp_path)
    with pytest.raises(ConfigError, match=r"model.hidden: 24 given, but train.init_from .*first.pt has 16"):
        train(finetune_config(tmp_path, first, "model.hidden=24"), progress=False)
    capsys.readouterr()
    assert main(["train", "--config", str(CONFIGS / "finetune.yaml"), "--set", f"train.init_from={first}",
                 "--set", "model.backbone=ppocrv6", "--set", f"train.out_dir={tmp_path / 'tuned'}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [(f"seqocr: error: model.backbone: 'ppocrv6' given, but train.init_from {first} has 'vgg'; "
                    "leave model.backbone out (a run from init_from takes that model's config)")]
    assert not (tmp_path / "tuned").exists()


def test_resume_still_refuses_a_different_charset(tmp_path):
    cfg = tiny_config(tmp_path, train={"steps": 1}, data={"val": ""})
    Trainer(cfg, progress=False).fit()
    fsns_plus(tmp_path)
    cfg.data.charset = str(tmp_path / "charset.txt")
    with pytest.raises(SeqocrError) as e:
        Trainer(cfg, progress=False).resume()
    assert str(e.value) == (f"--resume: {tmp_path / 'run' / 'last.pt'} was trained with a different charset; a run "
                            "continues with its own data.charset (start a new run with train.init_from to change it)")


def test_a_resumed_finetune_run_takes_the_same_model_config(tmp_path):
    first, _ = tiny_checkpoint(tmp_path)
    train(finetune_config(tmp_path, first), progress=False)
    cfg = finetune_config(tmp_path, first, "train.steps=2")
    train(cfg, resume=True, progress=False)
    assert torch.load(tmp_path / "tuned" / "last.pt", weights_only=True)["step"] == 2


def test_init_from_shipped_is_the_packaged_model(tmp_path, monkeypatch):
    assert init_source("shipped") == weights.SHIPPED and weights.SHIPPED.is_file()
    cfg = load_config(CONFIGS / "finetune.yaml")
    assert cfg.train.init_from == "shipped"
    shipped = load_model_config(weights.SHIPPED)
    assert shipped.get("temperature") != 1.0  # calibrated (scripts/ship_model.py)
    assert adopt_model_config(cfg).model == shipped.replace(temperature=1.0)  # a run trains on the raw scores
    given = load_config(CONFIGS / "finetune.yaml", ["model.temperature=0.5"])
    assert adopt_model_config(given).model.get("temperature") == 0.5
    monkeypatch.setattr(weights, "SHIPPED", tmp_path / "none.safetensors")
    with pytest.raises(DataError, match="train.init_from: shipped: this install has no shipped model"):
        init_source("shipped")


def load_model_config(path):
    from seqocr.config import Config

    return Config.from_dict(read_weights(path)["config"]).model


def test_bench_and_the_step_profile_measure_the_model_a_config_continues():
    """configs/continue.yaml continues the shipped model: `seqocr bench --config` and benchmarks.profile_step (the
    GPU script's profile) build that model, not the one the file's own keys describe."""
    from seqocr.train.bench import config_as_trained

    shipped = load_model_config(weights.SHIPPED)
    cfg = config_as_trained(str(CONFIGS / "continue.yaml"), [])
    keys = ("backbone", "view_height", "view_width", "crop", "trainable_stages")
    assert [cfg.model.get(k) for k in keys] == [shipped.get(k) for k in keys]
    raw = load_config(CONFIGS / "continue.yaml").model  # what the file's own keys build: 64-px views, no backbone
    assert [raw.get(k) for k in keys] != [shipped.get(k) for k in keys]
