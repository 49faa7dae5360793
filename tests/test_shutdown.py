"""`seqocr serve` and SIGTERM with a request inside the model: the real command in a child process, its model held
inside ``read_arrays`` until the test releases it (a line on the child's stdin), so that the test, not the clock,
decides when the reading ends. Within ``--grace`` the request is answered 200 with its reading and the service exits
0 as soon as it is done; past the grace it is answered 503 and the service exits 0 all the same."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from scripts.spawn_serve import START_S
from tests.helpers import ROOT, SAMPLES, tiny_checkpoint

SIGN = SAMPLES / "sign-0000000.png"
# the child: `seqocr serve` whose model says "held" on stdout when a batch reaches it and reads it only once the test
# writes a line to its stdin
HELD = """import sys
from seqocr.cli import main
from seqocr.inference.predictor import Predictor

read_arrays = Predictor.read_arrays

def held(self, *args, **kwargs):
    print("held", flush=True)
    sys.stdin.readline()
    return read_arrays(self, *args, **kwargs)

Predictor.read_arrays = held
sys.exit(main(["serve", "--port", "0", *sys.argv[1:]]))
"""


class HeldServer:
    """The child process, its stderr lines as they come (a queue filled by a thread), and its address."""

    def __init__(self, checkpoint, grace: int):
        self.proc = subprocess.Popen([sys.executable, "-c", HELD, "--checkpoint", str(checkpoint), "--grace",
                                      str(grace)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = self.wait_for("seqocr serve: listening on ", START_S).split()[-1]

    def _pump(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # the child closed its stderr: it has exited

    def wait_for(self, text: str, timeout: float, refuse: str | None = None) -> str:
        """The first stderr line from now on holding ``text``; fails on a line holding ``refuse`` first, or when
        the child exits or ``timeout`` passes without it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no line with {text!r} in {timeout:g} s; stderr so far:\n" + "\n".join(self.log[-30:]))
            if line is None:
                pytest.fail(f"the service exited before saying {text!r}:\n" + "\n".join(self.log[-30:]))
            self.log.append(line)
            if refuse is not None and refuse in line:
                pytest.fail(f"{line!r} before {text!r}:\n" + "\n".join(self.log[-30:]))
            if text in line:
                return line

    def none_within(self, text: str, seconds: float) -> None:
        """No stderr line holding ``text`` for ``seconds`` from now (an observation, not a wait for something)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return
            if line is None:
                return
            self.log.append(line)
            assert text not in line, "\n".join(self.log[-30:])

    def release(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def checkpoint(tmp_path, fsns):
    return tiny_checkpoint(tmp_path, "default", fsns)


def post_sign(url: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/read", files=[("images", (SIGN.name, SIGN.read_bytes(), "image/png"))], timeout=120)


def test_sigterm_lets_a_request_inside_the_model_finish_then_exits_0_well_within_the_grace(checkpoint):
    """SIGTERM while the request's image is inside the model: the service stops listening and waits; 1 s later
    (of a 20 s grace) nothing has been cut, the model is released, the request gets its reading (200, the text the
    PyTorch reader reads) and the service exits 0 then, not at the end of the grace."""
    from seqocr.inference.predictor import Predictor

    grace = 20
    server, pool = HeldServer(checkpoint, grace), ThreadPoolExecutor(1)
    try:
        answer = pool.submit(post_sign, server.url)
        assert server.proc.stdout.readline() == "held\n"  # the image is inside the model
        server.proc.send_signal(signal.SIGTERM)
        sigterm = time.monotonic()
        server.wait_for("Waiting for connections to close", 60)  # the shutdown has begun, the request held
        server.none_within("timeout graceful shutdown exceeded", 1.0)
        server.release()
        response = answer.result(timeout=120)
        assert response.status_code == 200, response.text
        want = Predictor.from_checkpoint(checkpoint).read([str(SIGN)])[0]
        (got,) = response.json()["results"]
        assert got["text"] == want.text and got["confidence"] == pytest.approx(want.confidence, abs=1e-5)
        assert server.proc.wait(timeout=grace) == 0
        assert time.monotonic() - sigterm < grace
    finally:
        server.close()
        pool.shutdown()


def test_a_request_still_inside_the_model_when_the_grace_ends_is_answered_503_and_the_service_exits_0(checkpoint):
    """--grace 1: the request is never released; when the grace ends it is answered 503 with the reason, as
    documented (seqocr.serve), not a 500 or a dropped connection, and the service exits 0."""
    server, pool = HeldServer(checkpoint, 1), ThreadPoolExecutor(1)
    try:
        answer = pool.submit(post_sign, server.url)
        assert server.proc.stdout.readline() == "held\n"
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for("timeout graceful shutdown exceeded", 60)
        response = answer.result(timeout=120)
        assert response.status_code == 503 and response.json() == {
            "error": "the service shut down before this request was read (shutdown grace of 1 s)"}
        assert server.proc.wait(timeout=60) == 0
    finally:
        server.close()  # a failed test's request ends with the child
        pool.shutdown()
