"""Shared fixtures: tiny models and charsets so the whole suite runs in a few minutes on 2 cores."""

from __future__ import annotations

import os

# Each pytest-xdist worker computes on its share of the cores: two workers of two threads each on 2 cores spend
# much of their CPU time in OpenMP's spin-waits (5 of the heaviest test files took 1.8x as long; the whole suite
# 1.1x). Set before torch is imported, so that the processes the tests start (the command line, torchrun, the
# service) inherit it too, and ONNX Runtime's readers take it as well.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
if _WORKERS:  # a worker: its share, whatever the controller (which loads this file too) left in the environment
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 2) // _WORKERS))
else:
    os.environ.setdefault("OMP_NUM_THREADS", "2")
THREADS = int(os.environ["OMP_NUM_THREADS"].split(",")[0])

import pytest
import torch

from seqocr.charset import Charset


@pytest.fixture
def fsns() -> Charset:
    return Charset.fsns()


@pytest.fixture
def small_charset() -> Charset:
    return Charset.parse("\n".join("abcdefgh") + "\n<space>\n")


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory):
    """A tiny default model's checkpoint and its greedy ONNX graph, exported once per test process: the tests that
    only read them share them (a test that changes a file copies it first)."""
    from seqocr.inference.export import export_onnx
    from tests.helpers import tiny_checkpoint

    root = tmp_path_factory.mktemp("tiny-onnx")
    ckpt = tiny_checkpoint(root, "default", Charset.fsns())
    return ckpt, export_onnx(ckpt, root / "m.onnx")


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(THREADS)
