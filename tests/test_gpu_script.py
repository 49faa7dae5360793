"""scripts/gpu_train.sh, the one command for a lent GPU machine, as a CPU dry run; and the device choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqocr.device import bf16_pays
from seqocr.errors import SeqocrError
from seqocr.train.distributed import pick_device

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_train_script_runs_on_cpu_continues_the_shipped_model_and_writes_weights_log_bench_and_summary(tmp_path):
    """The command docs/training.md gives, with its default config, as a short CPU dry run: the run continues the
    shipped model at its view size and trainable stages with the continuing recipe (configs/continue.yaml), not
    stage 1's 128-px views and lr 1e-3 (issue 23); it writes the weights, the log, the summary, the bench's lines (a
    batch that fails is a line with an error) and the profile, and refuses a folder that holds a run."""
    from seqocr.model import weights

    shipped = weights.read_any(weights.SHIPPED)["config"]
    out = tmp_path / "gpu"
    # minutes to spare: train.max_minutes counts the workers' start-up, and the run must reach its 3 steps
    r = subprocess.run(["bash", "scripts/gpu_train.sh", "--out", str(out), "--device", "cpu", "--minutes", "3",
                        "--set", "train.steps=3", "--set", "train.batch_size=2", "--set", "data.val=",
                        "--set", "train.log_every=1", "--bench", "default:2,default:0", "--bench-steps", "1",
                        "--profile-batch", "2", "--profile-steps", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=240,
                       env={**os.environ, "PYTHON": sys.executable}, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"] == "cpu" and summary["steps"] == 3 and summary["images"] == 3 * 2
    assert summary["init_from"] == "shipped" and summary["lr"] == 1.5e-4
    assert summary["view"] == [shipped["model"]["view_height"], shipped["model"]["view_width"]]
    trained = weights.read_any(out / "model.safetensors")["config"]
    for key in ("view_height", "view_width", "crop", "trainable_stages", "train_views", "backbone", "hidden"):
        assert trained["model"][key] == shipped["model"][key], key
    assert trained["train"]["backbone_lr_scale"] == 0.1 and trained["train"]["l2_sp"] == 0.01
    assert trained["train"]["attention_loss"] == 0.2 and trained["data"]["synth_fonts"] == 0.3
    # the weights alone (no optimizer state: the run's last.pt is about three times larger), as large as the shipped
    assert (out / "model.safetensors").stat().st_size < 1.05 * weights.SHIPPED.stat().st_size
    log = [json.loads(line) for line in (out / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and all(r["images_per_s"] > 0 for r in log)
    bench = [json.loads(line) for line in (out / "bench.jsonl").read_text().splitlines()]
    assert bench[0]["model"] == "default" and bench[0]["batch"] == 2 and bench[0]["device"] == "cpu"
    assert bench[0]["images_per_s"] > 0 and 0 < bench[0]["mfu"] < 1
    assert bench[1] == {"model": "default", "batch": 0, "error": "failed: see bench.err (out of memory?)"}
    profile = (out / "profile.txt").read_text()
    dtype = "bf16" if bf16_pays(torch.device("cpu")) else "fp32"  # fp32 where bf16 is emulated (AVX2 only)
    assert bench[0]["dtype"] == dtype and f"batch 2, {dtype}, 1 step on cpu" in profile and "Self CPU" in profile
    again = subprocess.run(["bash", "scripts/gpu_train.sh", "--out", str(out), "--device", "cpu"], cwd=ROOT,
                           capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable}, check=False)
    assert again.returncode == 2 and "already holds a run" in again.stderr


def test_gpu_train_script_takes_the_project_venv_when_python_is_not_given(tmp_path):
    """Without $PYTHON the script runs .venv/bin/python (make venv's), not the system python3 (issue 23)."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "gpu_train.sh").write_text((ROOT / "scripts" / "gpu_train.sh").read_text())
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "continue.yaml").write_text("")
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/called\nexit 1\n")
    venv_python.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    r = subprocess.run(["bash", "scripts/gpu_train.sh", "--out", "gpu", "--device", "cpu"], cwd=tmp_path,
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 1 and "missing faker lmdb google_crc32c rapidfuzz" in r.stderr
    assert "-c import faker" in (tmp_path / "called").read_text()


def test_device_names():
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(SeqocrError, match="choose cpu, cuda or cuda:N"):
        pick_device("gpu")
    if not __import__("torch").cuda.is_available():
        with pytest.raises(SeqocrError, match="no CUDA device"):
            pick_device("cuda:0")
