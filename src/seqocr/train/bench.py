"""``seqocr bench``: training-step and reading throughput of a model, measured on random tensors.

The figures are model compute only (data loading is measured separately): median seconds per step over
``steps`` timed steps after ``warmup`` untimed ones, turned into images/s.
"""

from __future__ import annotations

import statistics
import time

import torch

from ..config import Config, load_config
from ..device import pick_device, place_model, to_device
from ..fsns import NUM_CLASSES
from ..imaging.preprocess import ImageSpec
from ..model import build_model, check_config, num_classes_for
from ..model.fuse import fold_batchnorm
from .distributed import CPU
from .losses import sequence_loss
from .step import adam, train_step


def config_as_trained(path: str, overrides: list[str]) -> Config:
    """The config at ``path`` as a run of it trains: with ``train.init_from``, the model section of those weights
    adopted (configs/continue.yaml measures the shipped model, not the default one its own keys would build)."""
    from .finetune import adopt_model_config

    cfg = load_config(path, overrides)
    return check_config(adopt_model_config(cfg) if cfg.train.init_from else cfg)


def _config(model: str, config: str | None, overrides: list[str]) -> Config:
    return config_as_trained(config or f"configs/{model}.yaml", overrides)


def random_inputs(cfg: Config, batch: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of random images in the model's input range and random label ids, for timing a step."""
    m = cfg.model
    images = torch.rand(batch, *ImageSpec.from_config(m).shape) * 2 - 1
    lengths = torch.randint(8, 25, (batch,))
    targets = torch.randint(3, min(num_classes, NUM_CLASSES), (batch, m.max_len))
    pos = torch.arange(m.max_len)
    targets[pos >= lengths[:, None]] = 0
    targets[pos == lengths[:, None]] = 2
    return images, targets


def _median_rate(fn, batch: int, steps: int, warmup: int, device: torch.device = CPU) -> float:
    return batch / _median_time(fn, steps, warmup, device)


def peak_flops(bf16: bool, reps: int = 5, device: torch.device = CPU) -> dict[str, float]:
    """This machine's attainable FLOP/s in a precision, measured now: the faster of a large matrix multiply
    (MKL/oneDNN GEMM; cuBLAS on a GPU, at 8192² there) and a large 3×3 convolution (oneDNN, cuDNN). Model FLOP
    utilisation is reported against it."""
    dtype, n = torch.bfloat16 if bf16 else torch.float32, 8192 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    x = torch.randn(32, 128, 56, 56, dtype=dtype, device=device).contiguous(memory_format=torch.channels_last)
    w = torch.randn(128, 128, 3, 3, dtype=dtype, device=device).contiguous(memory_format=torch.channels_last)
    gemm = 2 * n**3 / _median_time(lambda: a @ b, reps, device=device)
    conv = 2 * 32 * 128 * 56 * 56 * 128 * 9 / _median_time(
        lambda: torch.nn.functional.conv2d(x, w, padding=1), reps, device=device)
    return {"matmul": gemm, "conv3x3": conv, "peak": max(gemm, conv)}


def _median_time(fn, reps: int, warmup: int = 1, device: torch.device = CPU) -> float:
    """Median seconds of ``fn``; on a GPU each timing waits for the work it queued."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def model_flops(cfg: Config, train: bool, batch: int = 1) -> float:
    """FLOPs per image of a forward (+ backward when ``train``) pass, counted by PyTorch's FlopCounterMode
    (matrix multiplies and convolutions; elementwise work is not counted, as usual for MFU)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(cfg.model, num_classes_for(cfg.model, NUM_CLASSES)).train(train)
    images, targets = random_inputs(cfg, batch, model.num_classes)
    with FlopCounterMode(display=False) as counter:
        if train:
            sequence_loss(cfg.train.loss, model(images, targets).logp, targets).backward()
        else:
            with torch.no_grad():
                model.greedy(images)
    return counter.get_total_flops() / batch


def bench_train(cfg: Config, batch: int, bf16: bool, steps: int = 5, warmup: int = 2, device: torch.device = CPU
                ) -> float:
    """Images/s of one optimizer step (forward, loss, backward, clip, Adam) at ``batch``."""
    torch.manual_seed(0)
    model = place_model(build_model(cfg.model, num_classes_for(cfg.model, NUM_CLASSES)).train(), device)
    opt = adam(model.parameters(), cfg.train)
    images, targets = random_inputs(cfg, batch, model.num_classes)
    images, targets = to_device(images, device), targets.to(device)
    return _median_rate(timed_step(cfg, model, opt, images, targets, bf16), batch, steps, warmup, device)


def timed_step(cfg: Config, model: torch.nn.Module, opt: torch.optim.Optimizer, images: torch.Tensor,
               targets: torch.Tensor, bf16: bool):
    """The training loop's step (:func:`~seqocr.train.step.train_step`) on fixed inputs, as a closure to time."""
    t = cfg.train

    def loss(logp: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return sequence_loss(t.loss, logp, targets, t.label_smoothing)

    return lambda: train_step(model, model.parameters(), opt, images, targets, loss, bf16, t.grad_clip)


def bench_read(cfg: Config, batch: int, bf16: bool, steps: int = 5, warmup: int = 2, device: torch.device = CPU
               ) -> float:
    """Images/s of greedy decoding at ``batch`` as the reader runs it (eval mode, BN folded, no grad)."""
    torch.manual_seed(0)
    model = place_model(fold_batchnorm(build_model(cfg.model, num_classes_for(cfg.model, NUM_CLASSES))), device)
    images = to_device(random_inputs(cfg, batch, model.num_classes)[0], device)

    def step() -> None:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            model.greedy(images)

    return _median_rate(step, batch, steps, warmup, device)


def run(kind: str, models: list[str], config: str | None, overrides: list[str], batch: int, steps: int,
        warmup: int, precisions: list[str], device: str = "cpu") -> list[dict]:
    fn, where = bench_train if kind == "train" else bench_read, pick_device(device)
    # the peak timed as often as the model (5 at most): a quick look (--steps 1) is not made to wait for a precise one
    peaks = {dtype: peak_flops(dtype == "bf16", max(1, min(5, steps)), where) for dtype in precisions}
    rows = []
    for name in models:
        cfg = _config(name, config, overrides)
        flops = model_flops(cfg, train=kind == "train")
        for dtype in precisions:
            rate = fn(cfg, batch, dtype == "bf16", steps, warmup, where)
            peak = peaks[dtype]
            rows.append({"bench": kind, "model": cfg.model.name, "dtype": dtype, "batch": batch,
                         "images_per_s": round(rate, 2), "model_gflops_per_image": round(flops / 1e9, 3),
                         "mfu": round(flops * rate / peak["peak"], 4), "peak_flops": round(peak["peak"]),
                         "peak_matmul_flops": round(peak["matmul"]), "peak_conv_flops": round(peak["conv3x3"]),
                         "threads": torch.get_num_threads(), "device": str(where)})
    return rows
