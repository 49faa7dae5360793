import json
import math

import numpy as np
import pytest
import torch

from seqocr.config import TrainConfig
from seqocr.data import iter_labelled
from seqocr.errors import ConfigError, DataError, SeqocrError
from seqocr.imaging.preprocess import ImageSpec
from seqocr.inference.evaluate import evaluate_reader
from seqocr.inference.predictor import Predictor
from seqocr.model.weights import load_model
from seqocr.train.checkpoint import save_checkpoint
from seqocr.train.loop import Trainer
from seqocr.train.losses import masked_token_loss, reference_loss
from seqocr.train.step import lr_at
from tests.helpers import tiny_config, write_synth_folder


def test_lr_schedule():
    t = TrainConfig(lr=1.0, steps=110, warmup_steps=10, min_lr_ratio=0.1, schedule="cosine")
    assert lr_at(0, t) == 0.1 and lr_at(9, t) == 1.0
    assert math.isclose(lr_at(60, t), 0.1 + 0.9 * 0.5)           # half-way through the cosine
    assert math.isclose(lr_at(110, t), 0.1) and math.isclose(lr_at(500, t), 0.1)
    assert lr_at(77, TrainConfig(lr=8e-4, schedule="constant")) == 8e-4


def test_losses_by_hand():
    # two samples, three steps, two classes besides the specials; targets: PAD=0, EOS=2
    logp = torch.log(torch.tensor([[[0.1, 0.1, 0.2, 0.6], [0.1, 0.1, 0.5, 0.3], [0.5, 0.1, 0.2, 0.2]],
                                   [[0.25, 0.25, 0.25, 0.25]] * 3]))
    targets = torch.tensor([[3, 2, 0], [2, 0, 0]])
    # masked: mean over the 3 real tokens of -log p
    expected = -(math.log(0.6) + math.log(0.5) + math.log(0.25)) / 3
    assert math.isclose(masked_token_loss(logp, targets).item(), expected, rel_tol=1e-5)
    # reference: sum over steps of the batch mean, PAD included
    ref = sum(-(math.log(a) + math.log(b)) / 2 for a, b in [(0.6, 0.25), (0.5, 0.25), (0.5, 0.25)])
    assert math.isclose(reference_loss(logp, targets).item(), ref, rel_tol=1e-5)


def test_tiny_model_overfits_a_few_samples_to_exact_match(fsns):
    import random

    from seqocr.data.datasets import encode_targets
    from seqocr.data.synth import render_sign
    from seqocr.imaging.preprocess import eval_transform
    from seqocr.model import build_model
    from tests.helpers import tiny_model_config

    texts = ["Rue Haute", "Quai Nord", "Place du Bac", "Cours Lys"]
    spec = ImageSpec(16, 32, 4)
    images = torch.from_numpy(np.stack([eval_transform(render_sign(t, random.Random(i)), spec)
                                        for i, t in enumerate(texts)]))
    model = build_model(tiny_model_config(view_width=32, max_len=14, hidden=32, embed_dim=16), len(fsns))
    targets = encode_targets(texts, fsns, 14, texts)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    read = []
    for step in range(300):
        model.train()
        loss = masked_token_loss(model(images, targets).logp, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 19:
            model.eval()
            read = [fsns.decode(row) for row in model.greedy(images)[0].tolist()]
            if read == texts:
                break
    assert read == texts


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    cfg = tiny_config(tmp_path)
    trainer = Trainer(cfg, progress=False)
    save_checkpoint(tmp_path / "c.pt", cfg=cfg, charset=trainer.charset, model=trainer.model, step=3)
    model, cfg2, charset, state = load_model(tmp_path / "c.pt")
    x = torch.randn(2, 3, cfg.model.view_height, cfg.model.view_width * 4)
    trainer.model.eval()
    for a, b in zip(trainer.model.greedy(x), model.greedy(x)):
        assert torch.equal(a, b)
    assert cfg2 == cfg and charset.chars == trainer.charset.chars and state["step"] == 3


def test_resume_continues_where_it_stopped(tmp_path):
    """Every generator a real config draws from on (dropout, partial teacher forcing, view dropout, augmentation):
    2 steps, then a new trainer (which seeds the random streams afresh, as a new process does) resumed to 3, ends
    bit-identical to 3 steps uninterrupted: without the saved random state, step 3 would draw step 1's numbers (a
    constant learning rate: the schedule does not depend on the total). test_distributed.py kills two ranks and
    resumes them the same way."""
    random = {"model": {"dropout": 0.3, "teacher_forcing": 0.5, "train_views": 2},
              "train": {"steps": 2, "batch_size": 2, "ckpt_every": 2, "schedule": "constant"},
              "data": {"val": "", "augment": True}}
    full = tiny_config(tmp_path / "full", **{**random, "train": {**random["train"], "steps": 3}})
    Trainer(full, progress=False).fit()
    cfg = tiny_config(tmp_path, **random)
    Trainer(cfg, progress=False).fit()
    first = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    cfg.train.steps = 3
    again = Trainer(cfg, progress=False)
    again.resume()
    assert again.step == 2
    again.fit()
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["step"] == 3
    assert not torch.equal(first["model"]["out.weight"], again.model.out.weight)
    want = torch.load(tmp_path / "full" / "run" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(want[k], v) for k, v in again.model.state_dict().items())
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]  # log_every 1; the resumed run appends
    assert all(r["loss"] > 0 and r["images_per_s"] > 0 for r in log)


def test_a_resumed_run_remembers_its_unreadable_samples(tmp_path, capsys):
    """An unreadable training image is reported once: the checkpoint keeps the list, and a resumed run neither
    reports it again nor counts it anew."""
    labels = write_synth_folder(tmp_path / "d", 4)
    (tmp_path / "d" / "img" / "1.png").write_bytes(b"not a png")
    cfg = tiny_config(tmp_path, train={"steps": 2, "ckpt_every": 2},
                      data={"train": str(labels), "val": "", "max_skip_fraction": 0.5, "workers": 0})
    first = Trainer(cfg, progress=False)
    first.fit()
    bad = sorted(first.bad)
    assert len(bad) == 1 and "1.png" in bad[0] and "unreadable" in capsys.readouterr().out
    extra = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["extra"]
    assert extra["bad_samples"] == bad and extra["world"] == 1 and len(extra["rng"]) == 1
    cfg.train.steps = 3
    again = Trainer(cfg, progress=False)
    again.resume()
    assert sorted(again.bad) == bad
    again.fit()
    assert "unreadable" not in capsys.readouterr().out and sorted(again.bad) == bad


def test_a_checkpoint_without_random_state_resumes_and_one_of_another_model_is_refused(tmp_path):
    """A checkpoint that saved no random state or unreadable samples (an older version's run) still resumes, from
    its step; one trained with another model config is refused in one line that names what differs."""
    cfg = tiny_config(tmp_path, data={"val": ""})
    trainer = Trainer(cfg, progress=False)
    path = tmp_path / "run" / "last.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, cfg=cfg, charset=trainer.charset, model=trainer.model, optimizer=trainer.optimizer, step=3)
    again = Trainer(cfg, progress=False)
    again.resume()
    assert again.step == 3 and again.bad == set()
    cfg.model = cfg.model.replace(hidden=24)
    with pytest.raises(SeqocrError) as e:
        Trainer(cfg, progress=False).resume()
    assert str(e.value) == f"--resume: {path} was trained with a different model config (hidden 16 there, 24 here)"


def test_evaluation_covers_every_sample(tmp_path):
    labels = write_synth_folder(tmp_path, 5)
    cfg = tiny_config(tmp_path)
    trainer = Trainer(cfg, progress=False)
    reader = Predictor(trainer.model, trainer.charset, ImageSpec(16, 16, 4))
    metrics, rows = evaluate_reader(reader, iter_labelled(str(labels), trainer.charset, 37), batch_size=2)
    assert metrics["samples"] == 5 and len(rows) == 5  # 2 + 2 + 1: the last partial batch counts
    shares = [evaluate_reader(reader, iter_labelled(str(labels), trainer.charset, 37, shard=(r, 2)), batch_size=2)[1]
              for r in range(2)]  # two torchrun ranks' shares: every sample once
    assert sorted(shares[0] + shares[1]) == sorted(rows) and [len(s) for s in shares] == [3, 2]


def test_unreadable_images_are_counted_in_every_batch_and_the_rest_scored_in_order(tmp_path):
    trainer = Trainer(tiny_config(tmp_path), progress=False)
    reader = Predictor(trainer.model, trainer.charset, ImageSpec(16, 16, 4))
    good = list(iter_labelled("synth:n=4", trainer.charset, 37))
    bad = [(None, f"image {k}: not an image", f"bad{k}") for k in range(3)]
    items = [bad[0], good[0], good[1], bad[1], good[2], bad[2], good[3]]  # 2 a batch: 1, 2, then 1 bad each
    metrics, rows = evaluate_reader(reader, items, batch_size=2)
    assert metrics["unreadable"] == 3 and metrics["samples"] == 4
    assert [r[:2] for r in rows] == [(where, text) for _, text, where in good]
    assert evaluate_reader(reader, bad, batch_size=2)[0]["unreadable"] == 3  # none readable: still counted


def test_a_held_out_set_of_unlearnable_labels_stops_the_run_before_its_first_step(tmp_path):
    labels = write_synth_folder(tmp_path / "val", 4)
    rows = [line.split("\t") for line in labels.read_text(encoding="utf-8").splitlines()]
    labels.write_text("".join(f"{path}\t{'x' * 60}\n" for path, _ in rows), encoding="utf-8")  # too long, all
    trainer = Trainer(tiny_config(tmp_path, train={"steps": 2}, data={"val": str(labels)}), progress=False)
    with pytest.raises(DataError, match=f"{labels}: skipped 4 of 4 samples"):
        trainer.fit()
    assert trainer.step == 0 and not (tmp_path / "run" / "last.pt").exists()


def test_the_calibration_set_is_read_as_the_evaluation_reads_it(tmp_path):
    """What a temperature is fitted on: every greedy step's log-probabilities of each sign, its greedy ids, and
    whether it was read exactly, as the evaluation of the same signs by the same reader scores them."""
    from seqocr.inference.evaluate import calibration_data

    trainer = Trainer(tiny_config(tmp_path), progress=False)
    reader = Predictor(trainer.model, trainer.charset, ImageSpec(16, 16, 4))
    samples = lambda: iter_labelled("synth:n=5", trainer.charset, 37)
    logp, ids, hits = calibration_data(reader, samples(), batch_size=2)
    _, rows = evaluate_reader(reader, samples(), batch_size=2)
    steps = trainer.model.max_len
    assert logp.shape == (5, steps, trainer.model.num_classes) and ids.shape == (5, steps)
    np.testing.assert_array_equal(ids, logp.argmax(-1))  # greedy: each step's most likely token
    np.testing.assert_allclose(np.exp(logp).sum(-1), 1, rtol=1e-4)
    assert hits.tolist() == [truth == read for _, truth, read, _ in rows]
    from seqocr.inference.onnx_reader import OnnxReader

    with pytest.raises(ConfigError, match="a temperature is fitted on the PyTorch reader's scores, not onnxruntime's"):
        calibration_data(OnnxReader(), samples(), batch_size=2)


def test_a_corrupt_last_checkpoint_is_named_and_the_previous_one_used(tmp_path, capsys):
    cfg = tiny_config(tmp_path, train={"steps": 4, "ckpt_every": 2}, data={"val": ""})
    Trainer(cfg, progress=False).fit()
    last = tmp_path / "run" / "last.pt"
    assert torch.load(tmp_path / "run" / "last.prev.pt", weights_only=True)["step"] == 2
    last.write_bytes(last.read_bytes()[:1000])             # truncated, as by a full disk
    again = Trainer(cfg, progress=False)
    again.resume()
    assert again.step == 2
    assert "last.pt: not a readable seqocr checkpoint" in capsys.readouterr().out


def _flaky_loss(monkeypatch):
    """Make the training loss finite for 2 steps, NaN once, finite once, then NaN for ever."""
    real_loss, calls = Trainer.loss, {"n": 0}

    def flaky(self, logp, targets):
        calls["n"] += 1
        loss = real_loss(self, logp, targets)
        return loss * float("nan") if calls["n"] == 3 or calls["n"] >= 5 else loss

    monkeypatch.setattr(Trainer, "loss", flaky)


def test_non_finite_steps_are_skipped_and_k_in_a_row_stop_the_run(tmp_path, capsys, monkeypatch):
    cfg = tiny_config(tmp_path, train={"steps": 10, "ckpt_every": 2, "max_bad_steps": 3}, data={"val": ""})
    trainer = Trainer(cfg, progress=False)
    _flaky_loss(monkeypatch)
    with pytest.raises(SeqocrError, match="3 non-finite steps in a row at step 7"):
        trainer.fit()
    out = capsys.readouterr().out
    assert out.count("update skipped") == 4                                      # steps 3, 5, 6, 7
    assert "step 7: 1 more non-finite loss or gradient" in out and "(3 in a row, 4 in all;" in out
    saved = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert saved["step"] == 6
    # steps 5-7 took no update: the weights and Adam's step count are those of step 4, saved at step 6 (batch norm's
    # running statistics, which the forward pass moves, aside)
    assert all(torch.equal(saved["model"][k], v) for k, v in trainer.model.named_parameters())
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert all(int(s["step"]) == 3 for s in trainer.optimizer.state.values())   # 3 updates: steps 1, 2 and 4


def test_on_a_gpu_the_loop_reads_the_loss_only_at_logging_steps_and_still_skips_on_the_device(
        tmp_path, capsys, monkeypatch):
    from seqocr.train import loop

    reads = []
    monkeypatch.setattr(loop, "read_interval", lambda device, log_every: log_every)  # as on CUDA
    real_read = Trainer.read_stats
    monkeypatch.setattr(Trainer, "read_stats", lambda self, *a: reads.append(self.step) or real_read(self, *a))
    cfg = tiny_config(tmp_path, train={"steps": 12, "log_every": 4, "max_bad_steps": 3}, data={"val": ""})
    trainer = Trainer(cfg, progress=False)
    _flaky_loss(monkeypatch)
    with pytest.raises(SeqocrError, match="4 non-finite steps in a row at step 8"):
        trainer.fit()
    assert reads == [4, 8]
    out = capsys.readouterr().out
    assert "step 4: 1 more non-finite" in out and "step 8: 4 more non-finite" in out
    assert all(int(s["step"]) == 3 for s in trainer.optimizer.state.values())
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_a_second_stage_starts_from_the_first_stages_weights_with_a_fresh_schedule(tmp_path, capsys):
    from seqocr.train.loop import train

    cfg = tiny_config(tmp_path, train={"steps": 2}, data={"val": ""})
    Trainer(cfg, progress=False).fit()
    first = tmp_path / "run" / "last.pt"
    stage2 = tiny_config(tmp_path, train={"steps": 1, "init_from": str(first), "out_dir": str(tmp_path / "two"),
                                          "lr": 0.0}, data={"val": ""})
    train(stage2, progress=False)
    assert f"initialised from {first} (its step 2)" in capsys.readouterr().out
    done = torch.load(tmp_path / "two" / "last.pt", weights_only=True)
    weights = torch.load(first, weights_only=True)["model"]
    # a fresh schedule: step 1 of 1 (not 3); with lr 0 the stage-1 weights come through unchanged (BatchNorm's
    # running statistics still move in a training step, so they are left out)
    params = [k for k in weights if "running_" not in k and "num_batches" not in k]
    assert done["step"] == 1 and all(torch.equal(weights[k], done["model"][k]) for k in params)

    other = tiny_config(tmp_path, model={"hidden": 24}, train={"init_from": str(first)}, data={"val": ""})
    with pytest.raises(SeqocrError, match="init_from: .*different model config"):
        Trainer(other, progress=False).init_from(first)


def test_bf16_asked_for_on_a_cpu_without_bf16_kernels_trains_in_fp32_and_says_so(tmp_path, capsys, monkeypatch):
    import seqocr.device

    assert seqocr.device.bf16_pays(torch.device("cuda", 0))  # a GPU: as asked (only its type is looked at)
    assert seqocr.device.bf16_pays(torch.device("cpu")) == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    monkeypatch.setattr(seqocr.device, "bf16_pays", lambda device: False)  # an AVX2-only CPU, on any machine
    assert seqocr.device.use_bf16(False, torch.device("cpu"), "x") is False
    trainer = Trainer(tiny_config(tmp_path, train={"bf16": True, "steps": 1}, data={"val": ""}), progress=False)
    trainer.fit()
    said = capsys.readouterr()
    assert trainer.bf16 is False and "train.bf16: this CPU has no bf16 arithmetic" in said.err
    assert "1 steps from 0, fp32," in said.out  # the run's header names what it runs in
    assert Predictor(trainer.model, trainer.charset, ImageSpec(16, 16, 4), bf16=True).bf16 is False
    assert "--bf16: this CPU has no bf16 arithmetic" in capsys.readouterr().err
    monkeypatch.setattr(seqocr.device, "bf16_pays", lambda device: True)  # a CPU with AVX512 or AMX: as asked
    assert Predictor(trainer.model, trainer.charset, ImageSpec(16, 16, 4), bf16=True).bf16 is True
