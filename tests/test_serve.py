"""`seqocr serve` started for real on a loopback port, answering good and bad requests."""

import base64
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from scripts.spawn_serve import spawn
from tests.helpers import SAMPLES, in_process, png_header, tiny_checkpoint

SAMPLE_IMAGES = [str(SAMPLES / f"sign-000000{i}.png") for i in range(3)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from seqocr.charset import Charset

    root = tmp_path_factory.mktemp("serve")
    ckpt = tiny_checkpoint(root, "default", Charset.fsns())
    try:
        proc, url = spawn(["--checkpoint", str(ckpt), "--max-images", "4", "--max-body-mb", "1",
                           "--max-pixels", "200000", "--header-timeout", "1.5"])
    except RuntimeError as e:
        pytest.fail(str(e))
    yield url, ckpt
    proc.terminate()
    proc.wait(timeout=20)


def multipart(paths):
    return [("images", (p, Path(p).read_bytes(), "image/png")) for p in paths]


def expected(ckpt):
    from seqocr.inference.predictor import Predictor

    return [r.text for r in Predictor.from_checkpoint(ckpt).read(SAMPLE_IMAGES)]


def test_health_and_schema(server):
    url, _ = server
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    assert "/v1/read" in httpx.get(f"{url}/openapi.json").json()["paths"]


def test_multipart_and_json_give_the_texts_of_seqocr_read(server):
    url, ckpt = server
    want = expected(ckpt)
    r = httpx.post(f"{url}/v1/read", files=multipart(SAMPLE_IMAGES), timeout=60)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["text"] for x in results] == want
    assert all(0 <= x["confidence"] <= 1 and len(x["char_probs"]) == len(x["text"]) for x in results)
    body = {"images": [base64.b64encode(Path(p).read_bytes()).decode() for p in SAMPLE_IMAGES]}
    assert [x["text"] for x in httpx.post(f"{url}/v1/read", json=body, timeout=60).json()["results"]] == want


def big_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1000, 1000)).save(buf, "PNG")   # 1e6 pixels > the 200,000 limit; tiny file
    return buf.getvalue()


@pytest.mark.parametrize("kwargs, status, message", [
    ({"files": [("images", ("x.png", b"not an image", "image/png"))]}, 400, "image 0: unreadable or truncated image"),
    ({"json": {"images": ["QUJD", "a*b"]}}, 400, "image 1: not valid base64: character '*' at 1 is not base64"),
    ({"json": {"images": ["QUJ"]}}, 400, "image 0: not valid base64: Incorrect padding"),
    ({"json": {"images": [3]}}, 400, "expected JSON"),
    ({"json": {"pictures": []}}, 400, "expected JSON"),
    ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "multipart/form-data"),
    ({"files": multipart(SAMPLE_IMAGES[:1] * 5)}, 413, "5 images, over the limit of 4"),
    ({"files": [("images", ("big.png", big_png(), "image/png"))]}, 413, "1000x1000 pixels"),
    ({"files": [("images", ("bomb.png", png_header(20000, 20000), "image/png"))]}, 413,
     "image 0: 400000000 pixels, over the limit of 200000 pixels"),
    ({"content": b"x" * 1_100_000, "headers": {"content-type": "application/json"}}, 413, "over the limit"),
    ({"files": [("other", ("x.png", b"", "image/png"))]}, 400, "no images"),
])
def test_bad_requests_get_4xx_json(server, kwargs, status, message):
    url, _ = server
    r = httpx.post(f"{url}/v1/read", timeout=60, **kwargs)
    assert r.status_code == status and message in r.json()["error"], r.text


def test_bad_requests_mixed_in_never_break_good_ones(server):
    url, ckpt = server
    want = expected(ckpt)

    def good(_):
        return httpx.post(f"{url}/v1/read", files=multipart(SAMPLE_IMAGES), timeout=120)

    def bad(_):
        return httpx.post(f"{url}/v1/read", files=[("images", ("x.png", b"garbage", "image/png"))], timeout=120)

    with ThreadPoolExecutor(8) as pool:
        goods = [pool.submit(good, i) for i in range(12)]
        bads = [pool.submit(bad, i) for i in range(12)]
        good_results = [f.result() for f in goods]
        bad_results = [f.result() for f in bads]
    assert all(r.status_code == 200 and [x["text"] for x in r.json()["results"]] == want for r in good_results)
    assert all(r.status_code == 400 for r in bad_results)


def test_spawn_reports_a_server_that_does_not_start(tmp_path):
    with pytest.raises(RuntimeError, match=r"did not start.*missing\.pt"):
        spawn(["--checkpoint", str(tmp_path / "missing.pt")])


def test_a_port_in_use_is_one_error_line(server):
    import socket
    import subprocess
    import sys

    _, ckpt = server
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for model in (str(ckpt), "missing.pt"):   # the port is tried before the model is loaded
            r = subprocess.run([sys.executable, "-m", "seqocr", "serve", "--port", str(port), "--checkpoint", model],
                               check=False, capture_output=True, text=True, timeout=120)
            assert r.returncode == 1 and r.stderr.strip().splitlines() == [
                f"seqocr: error: --host 127.0.0.1 --port {port}: cannot listen there (Address already in use)"]


def multipart_body(images: list[bytes], boundary: str) -> bytes:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="images"; filename="{i}.png"\r\n'
             f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n" for i, data in enumerate(images)]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def chunked(body: bytes, size: int = 64 * 1024):
    """A generator body: httpx sends it with Transfer-Encoding: chunked and no Content-Length."""
    for i in range(0, len(body), size):
        yield body[i:i + size]


def test_a_chunked_body_is_counted_as_it_arrives(server):
    url, _ = server
    boundary = "seqocr-test-boundary"
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    small = multipart_body([Path(p).read_bytes() for p in SAMPLE_IMAGES], boundary)
    r = httpx.post(f"{url}/v1/read", content=chunked(small), headers=headers, timeout=60)
    assert r.status_code == 200 and len(r.json()["results"]) == 3, r.text
    # a valid PNG followed by 1.2 MB that Pillow ignores: readable, but over the 1 MB limit
    padded = Path(SAMPLE_IMAGES[0]).read_bytes() + b"\0" * 1_200_000
    for body, content_type in [(multipart_body([padded], boundary), headers["content-type"]),
                               (b'{"images": ["' + b"A" * 1_200_000 + b'"]}', "application/json")]:
        r = httpx.post(f"{url}/v1/read", content=chunked(body), headers={"content-type": content_type}, timeout=60)
        assert r.status_code == 413 and "over the limit of 1048576 bytes" in r.json()["error"], r.text


def test_a_request_head_not_in_after_the_header_timeout_gets_408_however_it_trickles(server):
    """Slowloris: a head sent in part, or a header line every 0.45 s for as long as the server lets it, is answered
    408 and closed 1.5 s or more after the connection opened (--header-timeout 1.5), while the trickle still goes
    on: a deadline that each line moved would never fall, since no gap reaches 1.5 s. No upper bound on the clock
    (a loaded machine answers late, not never); a head sent in time is read as ever."""
    import select
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(server[0])
    lines = [b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", *[b"X-Pad-%d: 1\r\n" % i for i in range(200)]]
    for trickle in (lines[:1], lines):
        start = time.monotonic()  # before connecting: the server's clock starts at or after this
        with socket.create_connection((address.hostname, address.port), timeout=90) as sock:
            sent = 0
            for line in trickle:  # 200 lines at 0.45 s: 90 s, the server must answer long before
                sock.sendall(line)
                sent += 1
                if select.select([sock], [], [], 0.45 if len(trickle) > 1 else 90)[0]:
                    break
            reply = b""
            while chunk := sock.recv(4096):  # the server closes the connection after its answer
                reply += chunk
            waited = time.monotonic() - start
        assert reply.startswith(b"HTTP/1.1 408 ") and b"request header not received within 1.5 s" in reply, reply
        assert waited >= 1.5, waited
        assert len(trickle) == 1 or sent < len(trickle), f"the trickle ran out ({sent} lines) before the 408"
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(lines[0])
        time.sleep(0.8)
        sock.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 "), reply


def test_sigterm_answers_a_connection_part_way_through_its_head_with_503_and_one_not_yet_sent(tmp_path):
    """At SIGTERM a connection part-way through its head gets a 503; one accepted that has sent nothing yet (a
    client between connecting and sending) is answered when its request comes, and closed: uvicorn alone closed
    it unanswered (the soak's "requests dropped at SIGTERM")."""
    import signal
    import socket
    from urllib.parse import urlsplit

    from seqocr.charset import Charset

    proc, url = spawn(["--checkpoint", str(tiny_checkpoint(tmp_path, "default", Charset.fsns())), "--grace", "5"])

    def answer(sock) -> bytes:
        reply = b""
        while chunk := sock.recv(4096):  # the server closes the connection after its answer
            reply += chunk
        return reply

    try:
        address = urlsplit(url)
        with socket.create_connection((address.hostname, address.port), timeout=20) as sock, \
                socket.create_connection((address.hostname, address.port), timeout=20) as fresh:
            sock.sendall(b"POST /v1/read HTTP/1.1\r\nHost: x\r\n")
            # the server has read those bytes, and accepted both, once it has answered a request sent after them:
            # its one event loop saw the sockets no later than the third (no sleep, issue 24)
            assert httpx.get(f"{url}/healthz", timeout=60).status_code == 200
            proc.send_signal(signal.SIGTERM)
            reply = answer(sock)  # the shutdown has reached the connections
            fresh.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            late = answer(fresh)
        assert reply.startswith(b"HTTP/1.1 503 ") and b"shutting down" in reply, reply
        assert late.startswith(b"HTTP/1.1 200 ") and b'"status"' in late, late
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_the_allocator_is_settled_and_trimmed_at_most_every_few_seconds():
    import platform

    from seqocr.serve import Allocator

    now = [100.0]  # the allocator's clock, moved by the test (no sleeps)
    allocator = Allocator(trim_every_s=10.0, clock=lambda: now[0])
    if allocator.libc is None:
        pytest.skip(f"no glibc here ({platform.libc_ver()}): the service leaves malloc as it is")
    assert allocator.settle()
    now[0] += 11
    assert not allocator.trim()  # no work done since the start: nothing owed
    allocator.owed = True
    assert allocator.trim() and not allocator.trim()  # once, then not again until more work
    allocator.owed = True
    now[0] += 9.9
    assert not allocator.trim()  # work, but within trim_every_s of the last trim
    now[0] += 0.2
    assert allocator.trim()


def test_spawn_learns_the_address_from_the_line_the_server_prints(server):
    url, _ = server   # spawn started it with --port 0 and read the port from "seqocr serve: listening on URL"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")


def test_min_confidence_rejects_low_readings_and_keeps_their_confidence():
    from seqocr.inference.onnx_reader import SHIPPED_ONNX, OnnxReader

    onnx_path = SHIPPED_ONNX  # a model whose confidences the service's 6 decimals do not round to 0
    readings = OnnxReader(onnx_path).read(SAMPLE_IMAGES)
    top = sorted({r.confidence for r in readings}, reverse=True)
    threshold = (top[0] + top[1]) / 2   # between the two most confident: one kept at least, one rejected
    try:
        proc, url = spawn(["--onnx", str(onnx_path), "--min-confidence", str(threshold)])
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        assert httpx.get(f"{url}/healthz").json()["min_confidence"] == threshold
        r = httpx.post(f"{url}/v1/read", files=multipart(SAMPLE_IMAGES), timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert r.status_code == 200, r.text
    for want, got in zip(readings, r.json()["results"]):
        low = want.confidence < threshold
        assert got["rejected"] is low and got["text"] == ("" if low else want.text)
        assert got["confidence"] == pytest.approx(want.confidence, abs=1e-5)
        assert len(got["char_probs"]) == len(got["text"])
    assert any(x["rejected"] for x in r.json()["results"]) and not all(x["rejected"] for x in r.json()["results"])


def test_the_batcher_takes_the_clients_in_turn(tmp_path):
    """Client a queues 10 images, then client b 2: b's are read in the next batch, not after all of a's."""
    import threading

    import numpy as np

    from seqocr.charset import Charset
    from seqocr.inference.predictor import Predictor
    from seqocr.serve import Batcher, Limits

    class Recording(Predictor):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.batches, self.go, self.entered = [], threading.Event(), threading.Event()

        def read_pixels(self, batch, **options):  # the model cuts its views itself: the batcher hands it pixels
            self.entered.set()
            self.go.wait(30)  # the first batch holds the batcher until both clients have queued
            self.batches.append([int(x[0, 0, 0]) for x in batch])
            return super().read_pixels(batch, **options)

    ckpt = tiny_checkpoint(tmp_path, "default", Charset.fsns())
    plain = Predictor.from_checkpoint(ckpt)
    reader = Recording(plain.model, plain.charset, plain.spec)
    batcher = Batcher(reader, Limits(max_batch=4, max_wait_ms=50))
    image = lambda tag: np.full((16, 64, 3), tag, np.uint8)  # a 4-view strip, as Reader.prepare gives it
    a = batcher.submit([image(i) for i in range(10)], client="a")
    assert reader.entered.wait(30)  # the first batch (a's first 4) is taken and waits in read_arrays
    b = batcher.submit([image(100), image(101)], client="b")
    reader.go.set()
    for f in a + b:
        assert isinstance(f.result(timeout=60).text, str)
    assert reader.batches[0] == [0, 1, 2, 3]
    assert reader.batches[1] == [4, 100, 5, 101]          # in turn: b waited one batch, not three
    assert reader.batches[2:] == [[6, 7, 8, 9]]


def dataset_form(items):
    return {"files": [("images", (name, data, "image/png")) for name, data, _ in items],
            "data": {"texts": [text for _, _, text in items]}}


def test_dataset_zips_checked_images_and_labels_for_finetuning(server, tmp_path):
    """POST /v1/dataset (the page's "Download checked"): images/ and labels.tsv, paths relative to it; every image
    read back by the labels-file reader the training uses."""
    import zipfile

    from seqocr.charset import Charset
    from seqocr.data.labels import read_labels

    url, _ = server
    sample = Path(SAMPLE_IMAGES[0]).read_bytes()
    items = [("sign.png", sample, "Rue du Nord"), ("../sign.png", sample, "Rue d‘Orbey"), ("x y.JPG", sample, "Ré")]
    r = httpx.post(f"{url}/v1/dataset", timeout=60, **dataset_form(items))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert 'filename="seqocr-labels.zip"' in r.headers["content-disposition"]
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path)
    assert (tmp_path / "labels.tsv").read_text().splitlines() == [
        "images/sign.png\tRue du Nord", "images/sign-2.png\tRue d‘Orbey", "images/x_y.jpg\tRé"]
    samples, report = read_labels(tmp_path / "labels.tsv", Charset.fsns(), 37)
    assert [s.text for s in samples] == ["Rue du Nord", "Rue d‘Orbey", "Ré"] and report.skipped == 0
    assert all(s.path.read_bytes() == sample for s in samples)


@pytest.mark.parametrize("items, texts, status, message", [
    ([("a.png", "Rue 中")], None, 400, "label 0 (a.png): characters ['中'] of 'Rue 中' are not in charset fsns"),
    ([("a.png", "Rue"), ("b.png", " ")], None, 400, "label 1 (b.png): empty label"),
    ([("a.png", "R" * 38)], None, 400, "label 0 (a.png): label longer than 37 characters"),
    ([("a.png", "Rue\tdu Nord")], None, 400, "label 0 (a.png): a label holds no tab or line break"),
    ([("a.png", "Rue")], ["Rue", "Nord"], 400, "expected 1 to 1000 images, each with a text; got 1 images and 2"),
    ([("bad.png", "Rue")], None, 400, "image 0: unreadable or truncated image"),
])
def test_dataset_refuses_bad_labels_and_images_naming_them(server, items, texts, status, message):
    url, _ = server
    sample = Path(SAMPLE_IMAGES[0]).read_bytes()
    form = dataset_form([(name, b"not an image" if name == "bad.png" else sample, text) for name, text in items])
    if texts is not None:
        form["data"] = {"texts": texts}
    r = httpx.post(f"{url}/v1/dataset", timeout=60, **form)
    assert r.status_code == status and r.json()["error"].startswith(message), r.text


def test_healthz_gives_the_characters_a_label_may_hold(server):
    from seqocr.charset import Charset

    url, _ = server
    chars = httpx.get(f"{url}/healthz", timeout=30).json()["charset"]
    assert set(chars) == set(Charset.fsns().aliases) and "é" in chars and "中" not in chars


def test_a_client_over_its_in_flight_limit_gets_429_at_once_without_timing(tmp_path):
    """Two requests held in the model (the reader waits for an event) are in flight from one client: a third from
    it is answered 429 at once, another client's is not refused, and the held ones then answer 200 (issue 24: told
    to wait by an event, not by the clock)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from seqocr.charset import Charset
    from seqocr.inference.predictor import Predictor
    from seqocr.serve import Limits, create_app

    class Held(Predictor):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.go, self.seen, self.both = threading.Event(), 0, threading.Event()

        def read_arrays(self, batch, **options):
            self.seen += len(batch)
            if self.seen >= 2:
                self.both.set()
            self.go.wait(60)
            return super().read_arrays(batch, **options)

    plain = Predictor.from_checkpoint(tiny_checkpoint(tmp_path, "default", Charset.fsns()))
    reader = Held(plain.model, plain.charset, plain.spec)
    app = create_app(reader, Limits(max_client_requests=2, max_batch=1, max_wait_ms=0))
    files = multipart(SAMPLE_IMAGES[:1])
    with in_process(app) as base:
        url = f"{base}/v1/read"
        with ThreadPoolExecutor(3) as pool:
            held = [pool.submit(httpx.post, url, files=files, timeout=120) for _ in range(2)]
            # both in flight: the first in the model, the second queued behind it (the middleware counts them)
            limit, deadline = None, time.monotonic() + 60
            while time.monotonic() < deadline and not (limit and sum(limit.in_flight.values()) == 2):
                limit = next((m for m in iter_middleware(app) if type(m).__name__ == "ClientLimit"), None)
                reader.both.wait(0.02)
            assert limit and limit.in_flight == {"127.0.0.1": 2}
            third = httpx.post(url, files=files, timeout=30)
            assert third.status_code == 429 and "over 2 requests in flight from 127.0.0.1" in third.json()["error"]
            assert third.headers["retry-after"] == "1"
            other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=120)
            another = pool.submit(other.post, url, files=files)  # another client: queued, not refused
            while limit.in_flight.get("127.0.0.2", 0) < 1 and not another.done():
                reader.both.wait(0.02)
            reader.go.set()
            assert [f.result(timeout=120).status_code for f in [*held, another]] == [200, 200, 200]
            other.close()


def test_a_body_not_received_in_full_within_the_body_timeout_gets_408(tmp_path):
    """A request that sends its head and part of its body, then nothing, is answered 408 with the service's message
    (the soak meets this only when it happens to draw a stalled upload; issue 24)."""
    import socket

    from seqocr.charset import Charset
    from seqocr.inference.predictor import Predictor
    from seqocr.serve import Limits, create_app

    reader = Predictor.from_checkpoint(tiny_checkpoint(tmp_path, "default", Charset.fsns()))
    with in_process(create_app(reader, Limits(body_timeout_s=1.0))) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST /v1/read HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n" + b'{"images": ["' + b"A" * 100)
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert b"request body not received within 1 s" in reply, reply


def iter_middleware(app):
    """The ASGI middleware instances of a started Starlette app, outermost first."""
    node = app.middleware_stack
    while node is not None:
        yield node
        node = getattr(node, "app", None)
