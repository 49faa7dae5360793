"""Which engine reads the shipped model: ONNX Runtime or PyTorch (torch-free).

The shipped model comes as two files of the same weights: ``seqocr-default.onnx`` for ONNX Runtime and
``seqocr-default.safetensors`` for PyTorch. ONNX Runtime reads the same texts several times as fast on a CPU and
needs no torch (BENCHMARKS.md), so a reader given no model reads with it wherever onnxruntime is
installed, unless what was asked for only the PyTorch reader gives (:func:`torch_only`). A checkpoint (``.pt``)
or weights file (``.safetensors``) always reads with PyTorch; ``engine="torch"`` (``--torch``) asks for PyTorch
by name.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..device import cuda_index
from ..errors import ConfigError
from .beam import step_path
from .onnx_reader import SHIPPED_ONNX

ONNXRUNTIME, TORCH = "onnxruntime", "torch"
ENGINES = ("auto", ONNXRUNTIME, TORCH)


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here (without importing it: torch alone takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules (an install without it, in a test)
        return False


def torch_only(attention: bool = False, bf16: bool = False, reading: Mapping[str, Any] | None = None,
               device: str = "cpu", beam: int = 1) -> str | None:
    """What of these options only the PyTorch reader gives with the shipped model, or None if ONNX Runtime reads
    them alike: attention maps (the exported graph outputs ids and probabilities), bf16 autocast, any reading
    option of the model (``reading``: the .onnx file reads as it was exported to read), a CUDA device (ONNX
    Runtime's CUDA provider comes with another package, onnxruntime-gpu) and a beam where the shipped .onnx file
    has no step graph beside it."""
    if attention:
        return "attention maps"
    if bf16:
        return "bf16"
    if reading:
        return f"a reading option ({', '.join(reading)})"
    if cuda_index(str(device)) is not None:
        return "a CUDA device"
    if beam > 1 and not step_path(SHIPPED_ONNX).is_file():
        return "beam search"
    return None


def check_checkpoint(path: str | Path | None) -> None:
    """A checkpoint path that names an ONNX model is pointed to the ONNX reader, not unpickled."""
    if path is not None and Path(path).suffix.lower() == ".onnx":
        raise ConfigError(f"{path}: an ONNX model, not a checkpoint; read it with --onnx {path} "
                          f"(in Python: OnnxReader({str(path)!r}))")


def choose(path: str | Path | None = None, engine: str = "auto", **options) -> str:
    """The engine that reads ``path`` (None: the shipped model) with ``options`` (:func:`torch_only`'s):
    ``engine`` when named; PyTorch for a checkpoint; else ONNX Runtime where it is installed and reads the options
    alike, or where torch is not installed (the option that needs torch is then refused where it is used)."""
    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r}: choose {', '.join(ENGINES)}")
    check_checkpoint(path)
    if engine != "auto":
        return engine
    if path is not None:
        return TORCH
    if installed("onnxruntime") and SHIPPED_ONNX.is_file() and (torch_only(**options) is None
                                                                  or not installed("torch")):
        return ONNXRUNTIME
    return TORCH
