"""Training: one loop for both models, driven by a :class:`~seqocr.config.Config`.

Checkpoints go to ``<out_dir>/last.pt`` every ``ckpt_every`` steps and at the end; TensorBoard scalars to
``<out_dir>/tb``. ``resume=True`` continues from ``last.pt`` with the same data order: the sampler is a pure
function of (seed, position), so the step counter is all it needs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, IterableDataset

from ..charset import PAD, Charset
from ..config import Config, is_synth
from ..data import EVAL_SYNTH_SEED, Source, SynthDefaults, build_dataset, find_source
from ..data.datasets import Collate, StreamSampler
from ..device import place_model, to_device, use_bf16
from ..errors import ConfigError, DataError, SeqocrError
from ..imaging.preprocess import ImageSpec
from ..model import build_model, check_config, fixed_keys, model_values, num_classes_for, resume_keys
from ..model.weights import read_any, unwrap
from .augment import augment_views, step_seed
from .checkpoint import read_latest_good, save_checkpoint
from .distributed import all_sum, all_sum_, check_same_config, gather_objects, setup, teardown
from .finetune import (
    adopt_model_config,
    charset_change,
    init_source,
    resize_rows,
    resize_token_layers,
    token_pairs,
)
from .losses import glyph_terms, masked_token_loss, sequence_loss, token_counts
from .step import adam, lr_at, param_groups, train_step


def read_interval(device: torch.device, log_every: int) -> int:
    """How often the loop reads a step's loss on the host: a read waits for the GPU's queue, so there only at
    logging steps; on the CPU it costs nothing, and a skipped step is reported as it happens."""
    return max(log_every, 1) if device.type == "cuda" else 1


@dataclass
class Trainer:
    cfg: Config
    progress: bool = True

    def __post_init__(self) -> None:
        c = check_config(self.cfg)  # the architecture's own checks (the shared ones ran when the config was read)
        if c.train.threads:
            torch.set_num_threads(c.train.threads)
        self.dist = setup(c.train.device)
        fit_warmup(c.train, say=self.dist.main)
        self.bf16 = use_bf16(c.train.bf16, self.dist.device, "train.bf16", say=self.dist.main)
        check_same_config(c.to_dict(), self.dist)
        torch.manual_seed(c.train.seed)  # same initial weights everywhere (DDP also broadcasts rank 0's)
        self.out = Path(c.train.out_dir)
        self.charset = Charset.load(c.data.charset)
        self.spec = ImageSpec.from_config(c.model)
        # the training augmentation: none, in the DataLoader workers (True), or on the device ("device")
        self.augment_here: bool | str = "device" if c.data.augment and c.data.augment_on == "device" else c.data.augment
        self.max_chars = c.model.max_len - 1
        self.model = place_model(build_model(c.model, num_classes_for(c.model, len(self.charset))), self.dist.device)
        self.optimizer = adam(param_groups(self.model, c.train.backbone_lr_scale), c.train)
        self.net = self.model
        if self.dist.world > 1:
            ids = [self.dist.local_rank] if self.dist.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        torch.manual_seed(c.train.seed + self.dist.rank)  # dropout and teacher forcing differ per rank
        self.step = 0
        self.bad: set[str] = set()  # samples found unreadable; each is reported and counted once
        self.bad_steps = 0          # consecutive steps skipped for a non-finite loss or gradient (last read)
        self.bad_total = 0          # steps skipped so far (last read)
        self.saved_step = -1
        self.last_aux: dict[str, torch.Tensor] = {}  # the glyph losses of the last step, unweighted, for the log
        # (parameter, its published weights) for L2-SP
        self.anchors = [(p, w0.to(self.dist.device)) for p, w0 in unwrap(self.model).pretrained_anchors()
                        ] if c.train.l2_sp else []

    @property
    def global_batch(self) -> int:
        return self.cfg.train.batch_size * self.dist.world

    def l2_sp(self) -> torch.Tensor:
        """α/2 · Σ ‖w − w₀‖² over the anchored parameters (its unweighted sum is kept for the log)."""
        distance = sum(((p - w0) ** 2).sum() for p, w0 in self.anchors)
        self.last_aux["l2_sp_distance"] = distance.detach()
        return 0.5 * self.cfg.train.l2_sp * distance

    # -- state --------------------------------------------------------------------------------------------
    def init_pretrained(self) -> None:
        """A fresh run of a model that starts from published weights (a pretrained backbone) loads them."""
        what = unwrap(self.model).load_pretrained()
        if what and self.dist.main:
            print(what)

    def init_from(self, path: Path, state: dict | None = None) -> None:
        """Start from another model's weights (``state``: already read from ``path``), the optimizer, schedule and
        step afresh: a later stage of a recipe, or fine-tuning. Same architecture required (a ppocrv6 model may
        change its view size, :func:`.finetune.resize_rows`); with a different charset the token layers are
        resized, the shared characters' rows kept (:mod:`.finetune`)."""
        state = state if state is not None else read_any(path)
        self._check_same_model(state, path, "train.init_from", fixed_keys(self.cfg.model))
        model_weights, theirs = state["model"], Charset.from_dict(state["charset"])
        fresh = unwrap(self.model).state_dict()
        model_weights = resize_rows(model_weights, fresh)  # a new view height (ppocrv6 models only)
        heads = sorted(k for k in fresh.keys() - model_weights.keys() if k.startswith("char_head."))
        if heads:  # a training-only head the source model had not: it starts from its initialisation
            model_weights = {**model_weights, **{k: fresh[k] for k in heads}}
            if self.dist.main:
                print(f"train.init_from: {path} has no character-map head; it starts fresh")
        if theirs.chars != self.charset.chars:
            pairs = token_pairs(theirs, self.charset)
            names = tuple(n for n in unwrap(self.model).token_layers if n not in heads)
            model_weights = resize_token_layers(model_weights, fresh, names, pairs)
            if self.dist.main:
                print(charset_change(theirs, self.charset, pairs))
        self.model.load_state_dict(model_weights)
        if self.dist.main:
            print(f"initialised from {path} (its step {state.get('step', '?')})")

    def _check_same_model(self, state: dict, path: Path, what: str, keys: tuple[str, ...]) -> None:
        """The model config's ``keys`` agree with the checkpoint's."""
        theirs = Config.from_dict(state["config"], where=str(path)).model
        there, here = model_values(theirs), model_values(self.cfg.model)
        differ = [f"{k} {there.get(k)!r} there, {here.get(k)!r} here" for k in keys if there.get(k) != here.get(k)]
        if differ:
            raise SeqocrError(f"{what}: {path} was trained with a different model config ({'; '.join(differ)})")

    def resume(self) -> None:
        path = self.out / "last.pt"
        state = read_latest_good(path, warn=print if self.dist.main else (lambda _: None))
        self._check_same_model(state, path, "--resume", resume_keys(self.cfg.model))
        if Charset.from_dict(state["charset"]).chars != self.charset.chars:
            raise SeqocrError(f"--resume: {path} was trained with a different charset; a run continues with its own "
                              "data.charset (start a new run with train.init_from to change it)")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        extra = state["extra"]
        self.bad = set(extra.get("bad_samples", []))
        rng = extra.get("rng", [])
        if len(rng) == self.dist.world:  # same world size: each rank continues its own random stream
            torch.set_rng_state(rng[self.dist.rank]["cpu"])
            if "cuda" in rng[self.dist.rank] and torch.cuda.is_available():
                torch.cuda.set_rng_state(rng[self.dist.rank]["cuda"])

    def save(self) -> None:
        """Every rank calls this (it gathers the ranks' RNG states); rank 0 writes."""
        mine = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            mine["cuda"] = torch.cuda.get_rng_state()
        rng = gather_objects(mine, self.dist)
        self.saved_step = self.step
        if self.dist.main:
            save_checkpoint(self.out / "last.pt", cfg=self.cfg, charset=self.charset, model=self.model,
                            optimizer=self.optimizer, step=self.step,
                            extra={"rng": rng, "bad_samples": sorted(self.bad), "world": self.dist.world},
                            keep_previous=True)

    # -- data ---------------------------------------------------------------------------------------------
    def train_loader(self) -> tuple[DataLoader, int | None]:
        """The training batches from the current step on, and the dataset size (None for a stream)."""
        c, d = self.cfg, self.dist
        ds = build_dataset(c.data.train, self.charset, self.spec, self.max_chars, augment=self.augment_here,
                           seed=c.data.synth_seed, synth_n=c.train.steps * self.global_batch,
                           max_skip_fraction=c.data.max_skip_fraction, synth_shares=c.data.shares(),
                           synth_glyphs=c.train.glyph_losses,
                           stream={"batch_size": c.train.batch_size, "start_step": self.step, "rank": d.rank,
                                   "world": d.world})
        extra = {"prefetch_factor": 4, "persistent_workers": True} if c.data.workers else {}
        extra["pin_memory"] = d.device.type == "cuda"  # with non_blocking copies in train_step
        # Each new loader iterator draws its workers' base seed: from a generator of its own, not torch's global one,
        # whose state a resumed run restores and dropout, teacher forcing and view dropout then draw from.
        extra["generator"] = torch.Generator().manual_seed(c.train.seed + d.rank)
        collate = Collate(self.charset, c.model.max_len)
        if isinstance(ds, IterableDataset):
            return DataLoader(ds, batch_size=c.train.batch_size, num_workers=c.data.workers, collate_fn=collate,
                              **extra), None
        if ds.report.skipped and d.main:
            print(f"train data {c.data.train}: {ds.report.summary()}")
        sampler = StreamSampler(len(ds), c.train.seed, start=self.step * self.global_batch,
                                shuffle=not is_synth(c.data.train), rank=d.rank, world=d.world)
        return DataLoader(ds, batch_size=c.train.batch_size, sampler=sampler, num_workers=c.data.workers,
                          collate_fn=collate, **extra), len(ds)

    def val_source(self) -> Source | None:
        """The held-out set (``data.val``; None: none), read at each validation as ``seqocr eval`` reads it
        (:meth:`_validate`), checked now as its dataset checks it (a labels file's or an LMDB's labels, not its
        images): a name that names nothing, or too many labels the model cannot learn, stops the run here."""
        c = self.cfg
        if not c.data.val:
            return None
        source = find_source(c.data.val, SynthDefaults(c.data.val_size, EVAL_SYNTH_SEED + c.data.synth_seed, "test"))
        ds = source.dataset(self.charset, self.spec, self.max_chars, max_skip_fraction=c.data.max_skip_fraction)
        if getattr(ds, "report", None) is not None and ds.report.skipped and self.dist.main:
            print(f"val data {c.data.val}: {ds.report.summary()}")
        return source

    # -- loop ---------------------------------------------------------------------------------------------
    def loss(self, logp: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The configured loss. Across ranks the masked loss is divided by the *global* token count (× world,
        since DDP averages gradients), so N ranks of batch B take the same step as one process of batch N·B."""
        t = self.cfg.train
        if t.loss == "masked_mean" and self.dist.world > 1:
            tokens = all_sum_((targets != PAD).sum().float(), self.dist)
            return masked_token_loss(logp, targets, t.label_smoothing, tokens / self.dist.world)
        return sequence_loss(t.loss, logp, targets, t.label_smoothing)

    def train_step(self, batch: dict) -> dict[str, torch.Tensor]:
        """One optimizer step at this step's learning rate (:func:`~seqocr.train.step.train_step`). Returns, on the
        device and not yet read (reading waits for the GPU): the loss, correct and real tokens, whether the
        gradient was finite (the update is skipped if not)."""
        t, dev = self.cfg.train, self.dist.device
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, t) * group.get("lr_scale", 1.0)
        self.net.train()
        images, targets = to_device(batch["images"], dev), batch["targets"].to(dev, non_blocking=True)
        glyphs = batch["glyphs"].to(dev, non_blocking=True) if "glyphs" in batch else None
        if self.augment_here == "device":  # the workers sent uint8 tiles (train/augment.py)
            seed = step_seed(self.cfg.train.seed, self.dist.rank, self.step)
            images, glyphs = augment_views(images, self.spec, seed, glyphs)
            if dev.type == "cuda":
                images = images.contiguous(memory_format=torch.channels_last)
        aux_loss = None
        if t.glyph_losses and glyphs is not None:
            aux_loss = lambda out: glyph_terms(t, unwrap(self.model).rows, out, glyphs, targets, self.last_aux)
        out, loss, finite = train_step(self.net, self.model.parameters(), self.optimizer, images, targets,
                                       self.loss, self.bf16, t.grad_clip, aux_loss, self.l2_sp if self.anchors else None)
        if "feature_scale" in (out.encoding.aux or {}):  # a pretrained backbone's drift, for the log
            self.last_aux["feature_scale"] = out.encoding.aux["feature_scale"]
        correct, tokens = token_counts(out.logp.detach(), targets)
        return {"loss": loss.detach().float(), "correct": correct, "tokens": tokens, "finite": finite}

    def read_stats(self, stats: dict[str, torch.Tensor], run: torch.Tensor, skipped: torch.Tensor
                   ) -> tuple[float, float]:
        """The host's view of a step (a synchronisation): the global batch's loss and token accuracy, not rank 0's
        share; the run of non-finite steps ending here and the skipped total are reported, and stop the run at
        ``train.max_bad_steps`` in a row."""
        loss, correct, tokens = stats["loss"].item(), stats["correct"].item(), stats["tokens"].item()
        if self.dist.world > 1:
            total, correct, tokens = all_sum([loss, correct, tokens], self.dist)
            loss = total / self.dist.world
        new, self.bad_steps, self.bad_total = int(skipped) - self.bad_total, int(run), int(skipped)
        if new:
            self._bad_steps(new, loss)
        return loss, correct / max(tokens, 1.0)

    def fit(self) -> dict[str, float]:
        from torch.utils.tensorboard import SummaryWriter
        from tqdm import tqdm

        c, t, d = self.cfg, self.cfg.train, self.dist
        loader, size = self.train_loader()
        val = self.val_source()
        if d.main:
            print(f"seqocr train: model {c.model.name} ({sum(p.numel() for p in self.model.parameters()):,} params)"
                  f", {d.world} process{'es' if d.world > 1 else ''} on {d.device.type}, batch {t.batch_size} "
                  f"per process = global batch {self.global_batch}, lr {t.lr} ({t.schedule}), {t.steps} steps "
                  f"from {self.step}, {'bf16' if self.bf16 else 'fp32'}, {torch.get_num_threads()} threads "
                  f"-> {self.out}")
        writer = SummaryWriter(str(self.out / "tb")) if d.main else None
        bar = tqdm(total=t.steps, initial=self.step, unit="step", disable=not (self.progress and d.main),
                   dynamic_ncols=True)
        seen, t0, metrics = 0, time.perf_counter(), {}
        read_every = read_interval(d.device, t.log_every)
        run = skipped = torch.zeros((), dtype=torch.int64, device=d.device)  # non-finite steps: in a row, in all
        try:
            for batch in loader:
                if self.step >= t.steps or (t.max_minutes and time.perf_counter() - t0 > 60 * t.max_minutes):
                    break
                self._count_bad(batch, size, seen)
                stats = self.train_step(batch)
                bad = (~stats["finite"]).long()
                run, skipped = (run + 1) * bad, skipped + bad
                self.step += 1
                seen += len(batch["texts"]) * d.world
                rate = seen / (time.perf_counter() - t0)
                bar.update(1)
                logging = self.step % t.log_every == 0 or self.step == t.steps
                if logging or self.step % read_every == 0:
                    loss, acc = self.read_stats(stats, run, skipped)
                    bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.3f}", img_s=f"{rate:.1f}")
                    if writer and logging:
                        scalars = {"loss": loss, "token_acc": acc, "lr": lr_at(self.step - 1, t),
                                   "images_per_s": rate}
                        scalars.update({k: float(v) for k, v in self.last_aux.items()})
                        for k, v in scalars.items():
                            writer.add_scalar(f"train/{k}", v, self.step)
                        log_line(self.out / "log.jsonl", {"step": self.step, **scalars,
                                                          "seconds": round(time.perf_counter() - t0, 2)})
                if t.ckpt_every and self.step % t.ckpt_every == 0:
                    self.save()
                if val is not None and t.eval_every and self.step % t.eval_every == 0 and self.step < t.steps:
                    self._validate(val, writer)
            if self.saved_step != self.step:
                self.save()
            if val is not None:
                metrics = self._validate(val, writer)
        finally:
            bar.close()
            if writer:
                writer.close()
        return metrics

    def _bad_steps(self, new: int, loss: float) -> None:
        limit = self.cfg.train.max_bad_steps
        if self.dist.main:
            tqdm_write(f"step {self.step}: {new} more non-finite loss or gradient{'s' if new > 1 else ''} (loss "
                       f"{loss}); update{'s' if new > 1 else ''} skipped ({self.bad_steps} in a row, "
                       f"{self.bad_total} in all; stopping at {limit} in a row)")
        if self.bad_steps >= limit:
            raise SeqocrError(f"{self.bad_steps} non-finite steps in a row at step {self.step}; stopped. The last "
                              f"good checkpoint is {self.out / 'last.pt'}")

    def _count_bad(self, batch: dict, size: int | None, seen: int) -> None:
        """Report each unreadable sample once; stop when they pass ``max_skip_fraction`` of the dataset (of the
        samples seen so far, at least 1/fraction of them, for a stream of unknown size)."""
        # a dict: a small dataset's bad sample can be drawn several times in one batch, and is reported once
        new = {where: msg for where, msg in batch["bad"] if where not in self.bad}
        for where, msg in new.items():
            self.bad.add(where)
            tqdm_write(f"skipped: {msg}")
        fraction = self.cfg.data.max_skip_fraction
        total = size if size is not None else max(seen + len(batch["bad"]) + len(batch["texts"]),
                                                  1 / fraction if fraction else 1)
        if new and len(self.bad) > fraction * total:
            raise DataError(f"{len(self.bad)} unreadable training samples, more than {fraction:.1%} of "
                            f"{total:.0f}; stopping")

    def _validate(self, val, writer) -> dict[str, float]:
        """The model read as ``seqocr eval`` reads a checkpoint: a reader of a copy in eval mode, its batch norms
        folded, over the held-out set's images as that reader prepares them (labels it cannot learn left out:
        said at the start, never a reason to stop here); each torchrun rank reads its share, the counts summed."""
        from ..inference.evaluate import evaluate_reader
        from ..inference.predictor import Predictor
        from ..metrics import format_metrics

        c, d = self.cfg, self.dist
        reader = Predictor(unwrap(self.model), self.charset, self.spec, self.bf16, device=d.device)
        samples = val.labelled(self.charset, self.max_chars, 1.0, lambda _: None, (d.rank, d.world))
        metrics, _ = evaluate_reader(reader, samples, c.train.batch_size, combine=lambda n: all_sum(n, d))
        if writer:
            for k, v in metrics.items():
                writer.add_scalar(f"val/{k}", v, self.step)
            tqdm_write(f"step {self.step} validation ({c.data.val}):\n{format_metrics(metrics)}")
        return metrics


def log_line(path: Path, record: dict) -> None:
    """Append one JSON line to the run's plain-text log (``log.jsonl``: step, loss, images/s, ...)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def fit_warmup(t, say: bool = True) -> None:
    """A warm-up as long as the run or longer never reaches the learning rate (a fine-tune of 60 steps with 200 of
    warm-up ended at 9e-5 of 3e-4, silently): shortened to a tenth of the run, in one line."""
    if t.schedule == "constant" or t.warmup_steps < t.steps:
        return
    short = t.steps // 10
    if say:
        print(f"train.warmup_steps {t.warmup_steps} is not shorter than train.steps {t.steps}: warming up over "
              f"{short} steps instead (a tenth of the run), so that the run reaches train.lr {t.lr}")
    t.warmup_steps = short


def tqdm_write(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(msg)


def train(cfg: Config, resume: bool = False, progress: bool = True) -> dict[str, float]:
    """Train from ``cfg`` in this process, or in every process of a torchrun job."""
    previous = Path(cfg.train.out_dir) / "last.pt"
    if not resume and previous.exists():
        raise ConfigError(f"{previous}: a run is already there; continue it with --resume, or choose another "
                          "train.out_dir (--set train.out_dir=DIR)")
    start = None
    if cfg.train.init_from:  # the run takes that model's config, resumed or not
        source = init_source(cfg.train.init_from)
        start = read_any(source)
        cfg = adopt_model_config(cfg, start)
    trainer = Trainer(cfg, progress)
    try:
        if resume:
            trainer.resume()
        elif start is not None:
            trainer.init_from(source, start)
        else:
            trainer.init_pretrained()
        return trainer.fit()
    finally:
        teardown()
