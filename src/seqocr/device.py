"""Where a model runs: ``cpu``, ``cuda`` or ``cuda:N``, checked against what this machine has.

The name check (:func:`cuda_index`) needs no torch, so that the torch-free ONNX reader shares it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .errors import ConfigError, SeqocrError

if TYPE_CHECKING:
    import torch

DEVICE_HELP = "cpu, cuda or cuda:N"


def cuda_index(name: str) -> int | None:
    """The CUDA device a name asks for: None for ``cpu``, -1 for ``cuda`` (the default one), N for ``cuda:N``;
    any other name is refused."""
    if name == "cpu":
        return None
    if name == "cuda":
        return -1
    if name.startswith("cuda:") and name[5:].isdigit():
        return int(name[5:])
    raise ConfigError(f"device {name!r}: choose {DEVICE_HELP}")


def pick_device(name: str | torch.device = "", local_rank: int = 0) -> torch.device:
    """``cpu``, ``cuda`` (this process's GPU under torchrun), ``cuda:N``; "" = CUDA when there is one, else CPU; a
    ``torch.device`` is taken as it is."""
    import torch

    if isinstance(name, torch.device):
        return name
    index = cuda_index(name or ("cuda" if torch.cuda.is_available() else "cpu"))
    if index is None:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SeqocrError(f"device {name}: this machine has no CUDA device (or this torch build has no CUDA)")
    index = local_rank if index < 0 else index
    if index >= torch.cuda.device_count():
        raise SeqocrError(f"device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return torch.device("cuda", index)


def to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host batch onto ``device``: on a GPU through pinned memory, without waiting, in channels-last order (what
    cuDNN's convolutions prefer); on the CPU as it is."""
    import torch

    if device.type != "cuda":
        return images
    return images.pin_memory().to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)


def place_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` on ``device``; on a GPU its convolution weights channels-last (see :func:`to_device`)."""
    import torch

    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def bf16_pays(device: torch.device) -> bool:
    """Whether bf16 autocast is worth asking for on ``device``: on a GPU, or on a CPU where oneDNN has bf16 kernels
    (AVX512, AMX, Arm's BF16); on an AVX2-only CPU bf16 is emulated, and training takes several times as long as
    in fp32 (BENCHMARKS.md)."""
    import torch

    return device.type != "cpu" or bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def use_bf16(wanted: bool, device: torch.device, what: str, say: bool = True) -> bool:
    """bf16 where it was asked for and pays (:func:`bf16_pays`); where it does not, fp32, with one line naming the
    setting ``what`` on stderr (``say``)."""
    if wanted and not bf16_pays(device):
        if say:
            print(f"{what}: this CPU has no bf16 arithmetic (oneDNN's bf16 kernels need AVX512, AMX or Arm BF16): "
                  "running in fp32, several times faster here", file=sys.stderr)
        return False
    return wanted
