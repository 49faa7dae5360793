"""The requests of the soak (benchmarks/soak.py): good ones, each bad kind, slow and stalled uploads, each on a new
connection, and the log of what became of them."""

from __future__ import annotations

import base64
import http.client
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SAMPLES = sorted((Path(__file__).parents[1] / "src/seqocr/resources/samples").glob("sign-*.png"))
PNG = SAMPLES[0].read_bytes() if SAMPLES else b""


@dataclass
class Outcome:
    kind: str  # "good", "slow" or a bad kind
    t: float  # when it was sent, seconds from the start of the soak
    seconds: float
    status: int  # HTTP status, or 0 when there was no answer
    error: str = ""  # "refused" (could not connect) or the exception's name when the answer never came


@dataclass
class Log:
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, o: Outcome) -> None:
        with self.lock:
            self.outcomes.append(o)


# -- requests ---------------------------------------------------------------------------------------------------
def multipart(parts: list[tuple[str, bytes]], boundary: str = "soakBoundary7") -> tuple[str, bytes]:
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="x.png"\r\n'
                    f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n" for name, data in parts)
    return f"multipart/form-data; boundary={boundary}", body + f"--{boundary}--\r\n".encode()


def good_request(rng: random.Random) -> tuple[str, bytes]:
    png = rng.choice(SAMPLES).read_bytes()
    if rng.random() < 0.5:
        return multipart([("images", png)])
    return "application/json", json.dumps({"images": [base64.b64encode(png).decode()]}).encode()


BAD = {
    "not-an-image": lambda: multipart([("images", b"not an image at all")]),
    "cut-png": lambda: multipart([("images", PNG[: len(PNG) // 2])]),
    "bad-json": lambda: ("application/json", b'{"images": [}'),
    "bad-base64": lambda: ("application/json", b'{"images": ["iVBORw0K$$$"]}'),
    "wrong-type": lambda: ("text/plain", b"hello"),
    "no-images": lambda: ("application/json", b'{"images": []}'),
    "too-many": lambda: multipart([("images", b"x")] * 65),
    "wrong-field": lambda: multipart([("image", PNG)]),
    "stalled": lambda: multipart([("images", PNG)]),  # sent half, then nothing: the server's body timeout answers
    "stalled-head": lambda: ("", b""),  # a request line and one header, then nothing: the header timeout answers
}


def send_half_head(url: str) -> int:
    """A request line and one header on a new connection, then nothing; the HTTP status the server answers with."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=300) as sock:
        sock.sendall(b"POST /v1/read HTTP/1.1\r\nHost: seqocr\r\n")
        head = sock.makefile("rb").readline()  # b"HTTP/1.1 408 Request Timeout\r\n"
    if not head.startswith(b"HTTP/1.1 "):
        raise ConnectionError(f"no HTTP answer: {head[:40]!r}")
    return int(head.split()[1])


def send(url: str, content_type: str, body: bytes, source: str | None = None, timeout: float = 300.0) -> int:
    """POST /v1/read on a new connection; the HTTP status (exceptions for no answer)."""
    transport = httpx.HTTPTransport(local_address=source) if source else None
    with httpx.Client(transport=transport, timeout=timeout) as client:
        return client.post(f"{url}/v1/read", content=body, headers={"content-type": content_type}).status_code


def send_slowly(url: str, content_type: str, body: bytes, seconds: float, stall_after: float | None = None) -> int:
    """POST /v1/read with the body trickled in 10 pieces over ``seconds`` (or, with ``stall_after``, only that share
    of it, then nothing until the server answers)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=300)
    try:
        conn.putrequest("POST", "/v1/read")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        end = len(body) if stall_after is None else int(len(body) * stall_after)
        for k in range(10):
            conn.send(body[k * end // 10:(k + 1) * end // 10])
            time.sleep(seconds / 10)
        return conn.getresponse().status
    finally:
        conn.close()


def one(url: str, kind: str, rng: random.Random, slow_s: float) -> int:
    if kind == "good":
        return send(url, *good_request(rng))
    if kind == "slow":
        return send_slowly(url, *good_request(rng), seconds=slow_s)
    if kind == "stalled-head":
        return send_half_head(url)
    if kind == "stalled":
        return send_slowly(url, *BAD[kind](), seconds=0.5, stall_after=0.5)
    return send(url, *BAD[kind]())


def timed(log: Log, t0: float, url: str, kind: str, seed: int, slow_s: float) -> None:
    start = time.perf_counter()
    try:
        status, error = one(url, kind, random.Random(seed), slow_s), ""
    except (httpx.ConnectError, ConnectionRefusedError):  # httpx's, http.client's (slow uploads)
        status, error = 0, "refused"
    except Exception as e:  # noqa: BLE001 - any other failure is an answer that never came: recorded, judged later
        status, error = 0, type(e).__name__
    log.add(Outcome(kind, start - t0, time.perf_counter() - start, status, error))
