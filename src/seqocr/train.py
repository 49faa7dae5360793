"""Training: one loop for both models, driven by a :class:`~seqocr.config.Config`.

Checkpoints go to ``<out_dir>/last.pt`` every ``ckpt_every`` steps and at the end; TensorBoard scalars to
``<out_dir>/tb``. ``resume=True`` continues from ``last.pt`` with the same data order: the sampler is a pure
function of (seed, position), so the step counter is all it needs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, IterableDataset

from .charset import Charset
from .checkpoint import read_checkpoint, save_checkpoint
from .config import Config, TrainConfig
from .data import build_dataset
from .data.datasets import Collate, StreamSampler
from .errors import DataError, SeqocrError
from .losses import sequence_loss, token_accuracy
from .models import build_model, num_classes_for
from .preprocess import ImageSpec

EVAL_STREAM = {"epochs": 1, "shuffle": False}  # a TFRecord folder as an evaluation set: each record once, in order


def lr_at(step: int, t: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based): constant, or linear warm-up then cosine decay."""
    if t.schedule == "constant":
        return t.lr
    if step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    progress = min(1.0, (step - t.warmup_steps) / max(1, t.steps - t.warmup_steps))
    return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def image_spec(cfg: Config) -> ImageSpec:
    m = cfg.model
    return ImageSpec(m.view_height, m.view_width, m.num_views)


@dataclass
class Trainer:
    cfg: Config
    progress: bool = True

    def __post_init__(self) -> None:
        c = self.cfg
        if c.train.threads:
            torch.set_num_threads(c.train.threads)
        torch.manual_seed(c.train.seed)
        self.out = Path(c.train.out_dir)
        self.charset = Charset.load(c.data.charset)
        self.spec = image_spec(c)
        self.max_chars = c.model.max_len - 1
        self.model = build_model(c.model, num_classes_for(c.model, len(self.charset)))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=c.train.lr, betas=tuple(c.train.betas),
                                          weight_decay=c.train.weight_decay)
        self.step = 0
        self.bad: set[str] = set()  # samples found unreadable; each is reported and counted once

    # -- state --------------------------------------------------------------------------------------------
    def resume(self) -> None:
        path = self.out / "last.pt"
        if not path.exists():
            raise SeqocrError(f"--resume: no checkpoint at {path}; start without --resume")
        state = read_checkpoint(path)
        saved = Config.from_dict(state["config"], where=str(path))
        if saved.model != self.cfg.model:
            raise SeqocrError(f"--resume: {path} was trained with a different model config")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.bad = set(state["extra"].get("bad_samples", []))
        torch.set_rng_state(state["extra"]["torch_rng"])

    def save(self) -> None:
        save_checkpoint(self.out / "last.pt", cfg=self.cfg, charset=self.charset, model=self.model,
                        optimizer=self.optimizer, step=self.step,
                        extra={"torch_rng": torch.get_rng_state(), "bad_samples": sorted(self.bad)})

    # -- data ---------------------------------------------------------------------------------------------
    def train_loader(self) -> tuple[DataLoader, int | None]:
        """The training batches from the current step on, and the dataset size (None for a stream)."""
        c = self.cfg
        ds = build_dataset(c.data.train, self.charset, self.spec, self.max_chars, augment=c.data.augment,
                           seed=c.data.synth_seed, synth_n=c.train.steps * c.train.batch_size,
                           max_skip_fraction=c.data.max_skip_fraction,
                           stream={"batch_size": c.train.batch_size, "start_step": self.step})
        extra = {"prefetch_factor": 4} if c.data.workers else {}
        collate = Collate(self.charset, c.model.max_len)
        if isinstance(ds, IterableDataset):
            return DataLoader(ds, batch_size=c.train.batch_size, num_workers=c.data.workers, collate_fn=collate,
                              **extra), None
        if ds.report.skipped:
            print(f"train data {c.data.train}: {ds.report.summary()}")
        sampler = StreamSampler(len(ds), c.train.seed, start=self.step * c.train.batch_size,
                                shuffle=not c.data.train.startswith("synth"))
        return DataLoader(ds, batch_size=c.train.batch_size, sampler=sampler, num_workers=c.data.workers,
                          collate_fn=collate, **extra), len(ds)

    def val_dataset(self):
        c = self.cfg
        if not c.data.val:
            return None
        return build_dataset(c.data.val, self.charset, self.spec, self.max_chars, seed=10_000 + c.data.synth_seed,
                             synth_n=c.data.val_size, synth_split="test",
                             max_skip_fraction=c.data.max_skip_fraction, stream=EVAL_STREAM)

    # -- loop ---------------------------------------------------------------------------------------------
    def train_step(self, batch: dict) -> tuple[float, float]:
        t = self.cfg.train
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, t)
        self.model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=t.bf16):
            logp = self.model(batch["images"], batch["targets"])
        loss = sequence_loss(t.loss, logp.float(), batch["targets"], t.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip)
        self.optimizer.step()
        return float(loss.detach()), token_accuracy(logp.detach(), batch["targets"])

    def fit(self) -> dict[str, float]:
        from torch.utils.tensorboard import SummaryWriter
        from tqdm import tqdm

        c, t = self.cfg, self.cfg.train
        loader, size = self.train_loader()
        val = self.val_dataset()
        print(f"seqocr train: model {c.model.name} ({sum(p.numel() for p in self.model.parameters()):,} params), "
              f"batch {t.batch_size}, lr {t.lr} ({t.schedule}), {t.steps} steps from {self.step}, "
              f"{'bf16' if t.bf16 else 'fp32'}, {torch.get_num_threads()} threads -> {self.out}")
        writer = SummaryWriter(str(self.out / "tb"))
        bar = tqdm(total=t.steps, initial=self.step, unit="step", disable=not self.progress, dynamic_ncols=True)
        seen, t0, metrics = 0, time.perf_counter(), {}
        try:
            for batch in loader:
                if self.step >= t.steps or (t.max_minutes and time.perf_counter() - t0 > 60 * t.max_minutes):
                    break
                self._count_bad(batch, size, seen)
                if not batch["texts"]:
                    continue
                loss, acc = self.train_step(batch)
                if not math.isfinite(loss):
                    raise SeqocrError(f"step {self.step}: loss is {loss}; last good checkpoint {self.out}/last.pt")
                self.step += 1
                seen += len(batch["texts"])
                rate = seen / (time.perf_counter() - t0)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.3f}", img_s=f"{rate:.1f}")
                if self.step % t.log_every == 0 or self.step == t.steps:
                    for k, v in (("loss", loss), ("token_acc", acc), ("lr", lr_at(self.step - 1, t)),
                                 ("images_per_s", rate)):
                        writer.add_scalar(f"train/{k}", v, self.step)
                if t.ckpt_every and self.step % t.ckpt_every == 0:
                    self.save()
                if val is not None and t.eval_every and self.step % t.eval_every == 0 and self.step < t.steps:
                    self._validate(val, writer)
            self.save()
            if val is not None:
                metrics = self._validate(val, writer)
        finally:
            bar.close()
            writer.close()
        return metrics

    def _count_bad(self, batch: dict, size: int | None, seen: int) -> None:
        """Report each unreadable sample once; stop when they pass ``max_skip_fraction`` of the dataset (of the
        samples seen so far, at least 1/fraction of them, for a stream of unknown size)."""
        new = [(where, msg) for where, msg in batch["bad"] if where not in self.bad]
        for where, msg in new:
            self.bad.add(where)
            tqdm_write(f"skipped: {msg}")
        fraction = self.cfg.data.max_skip_fraction
        total = size if size is not None else max(seen + len(batch["bad"]) + len(batch["texts"]),
                                                  1 / fraction if fraction else 1)
        if new and len(self.bad) > fraction * total:
            raise DataError(f"{len(self.bad)} unreadable training samples, more than {fraction:.1%} of "
                            f"{total:.0f}; stopping")

    def _validate(self, val, writer) -> dict[str, float]:
        from .evaluate import evaluate
        from .metrics import format_metrics

        c = self.cfg
        metrics, _ = evaluate(self.model, val, self.charset, c.model.max_len, c.train.batch_size, c.train.bf16)
        for k, v in metrics.items():
            writer.add_scalar(f"val/{k}", v, self.step)
        tqdm_write(f"step {self.step} validation ({c.data.val}):\n{format_metrics(metrics)}")
        return metrics


def tqdm_write(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(msg)


def train(cfg: Config, resume: bool = False, progress: bool = True) -> dict[str, float]:
    trainer = Trainer(cfg, progress)
    if resume:
        trainer.resume()
    return trainer.fit()
