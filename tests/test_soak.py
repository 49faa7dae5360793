"""A few seconds of benchmarks/soak.py against a tiny model: the same harness as the 10-minute soak in BENCHMARKS.md
(good, bad and slow requests, a flooding client, SIGTERM under load), with the same checks."""

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys

from benchmarks.soak import BAD, arrival_kinds
from tests.helpers import ROOT, tiny_checkpoint


def test_a_short_soak_passes_every_check(tmp_path, fsns):
    ckpt = tiny_checkpoint(tmp_path, "default", fsns)
    out = tmp_path / "soak.json"
    # A session of its own: however the test ends (a timeout, a failure, ^C), the soak and the server it started
    # are killed together; killing the soak alone would leave its server running.
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.soak", "--checkpoint", str(ckpt), "--seconds", "3",
         "--capacity-seconds", "1", "--clients", "2", "--flood-seconds", "4", "--flood-clients", "24",
         "--grace", "10", "--body-timeout", "4", "--header-timeout", "2", "--slow-upload-s", "1",
         "--json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT)
    try:
        _, stderr = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert out.exists(), stderr[-3000:]
    summary = json.loads(out.read_text())
    # what failed first, with the figures that tell why (the whole summary is cut short in a failure report)
    assert summary["failed"] == [], {k: summary[k] for k in ("failed", "sigterm", "soak", "fds", "rss_mb")}
    soak, term = summary["soak"], summary["sigterm"]
    assert soak["good"] > 0 and soak["bad"] > 0 and soak["good_not_200"] == soak["bad_not_4xx"] == 0
    flood = summary["flood"]["statuses"]
    assert flood.get("429", 0) > 0 or sum(flood.values()) <= summary["flood"]["client_limit"]  # too few to test
    assert term["exit_code"] == 0 and term["dropped"] == 0
    assert proc.returncode == 0


def test_arrivals_carry_each_share_evenly_from_the_first():
    kinds = list(itertools.islice(arrival_kinds(0.2, 0.05), 200))
    assert kinds[0] in BAD and kinds[1] == "good"  # two arrivals are enough to check both answers
    bad = [k for k in kinds if k in BAD]
    assert len(bad) == 40 and kinds.count("slow") == 10 and kinds.count("good") == 150
    assert set(bad) == set(BAD)  # every bad kind in turn
    assert all(k in BAD for k in itertools.islice(arrival_kinds(1.0, 0.0), 5))
    assert set(itertools.islice(arrival_kinds(0.0, 0.0), 5)) == {"good"}
