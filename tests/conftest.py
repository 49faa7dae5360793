"""Shared fixtures: tiny models and charsets so the whole suite runs in a few minutes on 2 cores."""

from __future__ import annotations

import pytest
import torch

from seqocr.charset import Charset


@pytest.fixture
def fsns() -> Charset:
    return Charset.fsns()


@pytest.fixture
def small_charset() -> Charset:
    return Charset.parse("\n".join("abcdefgh") + "\n<space>\n")


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(2)
