"""Where a model runs: ``cpu``, ``cuda`` or ``cuda:N``, checked against what this machine has."""

from __future__ import annotations

import torch

from .errors import SeqocrError

DEVICE_HELP = "cpu, cuda or cuda:N"


def pick_device(name: str = "", local_rank: int = 0) -> torch.device:
    """``cpu``, ``cuda`` (this process's GPU under torchrun), ``cuda:N``; "" = CUDA when there is one, else CPU."""
    name = name or ("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not (name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise SeqocrError(f"device {name!r}: choose {DEVICE_HELP}")
    if not torch.cuda.is_available():
        raise SeqocrError(f"device {name}: this machine has no CUDA device (or this torch build has no CUDA)")
    index = int(name[5:]) if ":" in name else local_rank
    if index >= torch.cuda.device_count():
        raise SeqocrError(f"device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return torch.device("cuda", index)


def to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host batch onto ``device``: on a GPU through pinned memory, without waiting, in channels-last order (what
    cuDNN's convolutions prefer); on the CPU as it is."""
    if device.type != "cuda":
        return images
    return images.pin_memory().to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)


def place(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` on ``device``; on a GPU its convolution weights channels-last (see :func:`to_device`)."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model
