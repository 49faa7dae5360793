"""``seqocr serve``: an HTTP service on FastAPI + uvicorn.

* ``POST /v1/read``: images as multipart form field ``images`` (repeatable), or JSON ``{"images": [base64, ...]}``
  -> ``{"results": [{"text", "confidence", "char_probs", "rejected"}, ...]}`` in request order; a reading whose
  confidence is under ``min_confidence`` has ``"text": ""`` and ``"rejected": true``.
  With ``?attention=1`` each result also has ``"attention": {"shape": [V, R, W], "levels": 255, "encoding":
  "base64 uint8", "maps": [...]}``: for each character, where the model looked over V views, R rows and W columns
  of its memory, V·R·W bytes scaled to that character's peak, base64 (about 1.4 kB a character for the shipped
  model; :func:`~seqocr.inference.attention.attention_payload`; PyTorch greedy reading only: another reader answers
  400, and ``/healthz`` says ``"attention": false``), and ``"views": {"tiles": T, "sources": [...]}``: the upload
  was cut into T tiles (4 for a strip, 1 for a single photo) and view v of the maps shows tile ``sources[v]`` (an
  FSNS strip with noise filler tiles is read from its real tiles repeated: 0, 1, 0, 1). ``?beam=K`` reads this request's images with a beam of K
  hypotheses (1 = greedy; default: the service's ``--beam``), from 1 to 32 (1 only for an ONNX model exported
  without ``--beam``; ``/healthz`` says ``max_beam``).
* ``GET /``: a page to drop images on and see what was read and where the model looked (``seqocr/web``; plain
  HTML, CSS and JavaScript, no build step, nothing fetched from elsewhere).
* ``GET /healthz``: liveness and what model is loaded. ``GET /openapi.json``, ``/docs``: the schema.

The model is loaded once at start. Images from concurrent requests are batched together (up to ``max_batch``
images, waiting at most ``max_wait_ms`` for company) on one worker thread, so throughput grows with load; the
batch takes the clients' images in turn, so a client with a long queue does not hold the others back.
Every bad request gets a 4xx with ``{"error": ...}``: a body over ``max_body_bytes`` (413; counted as it arrives,
so a chunked upload with no Content-Length is stopped too), too many images (413), an image over ``max_pixels``
(413, from its header), an undecodable image or bad JSON (400), another content type (415). A bad image fails
only its own request, before it reaches the batcher, so bad requests never slow good ones down much. A body still
arriving after ``body_timeout_s`` gets a 408, and so does a request whose head (request line and headers) has not
arrived in full ``header_timeout_s`` after its first byte or the connection's start (slowloris); a client with
``max_client_requests`` requests in flight gets a 429
for the next. SIGTERM: the socket closes, requests in flight finish (for up to ``shutdown_grace_s``), exit 0.
"""

# no `from __future__ import annotations`: FastAPI resolves the endpoint's `Request` annotation at runtime,
# and it is imported inside create_app so that fastapi stays an optional dependency.
import asyncio
import base64
import binascii
import gc
import json
import signal
import socket
import string
import sys
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from .data.labels import write_labels_zip
from .errors import ConfigError, DataError
from .fsns import MAX_LABEL
from .inference.attention import attention_payload
from .inference.beam import MAX_BEAM
from .inference.postprocess import Reading, check_min_confidence, reject_below
from .inference.reader import Reader
from .preprocess import DEFAULT_MAX_PIXELS, ImageSpec, ImageTooLarge, cut_views, eval_transform, load_image


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 20 * 1024 * 1024
    max_images: int = 64
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_client_requests: int = 32  # requests one client address may have in flight (429 past it); 0 = no limit
    body_timeout_s: float = 60.0  # a request body not received in full within this is answered 408 (slow uploads)
    header_timeout_s: float = 10.0  # a request head not received in full within this is answered 408 (slowloris)
    shutdown_grace_s: int = 30  # on SIGTERM, requests in flight get this long to finish before the process exits


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Allocator:
    """glibc's malloc, kept from holding on to memory under a long load (Linux with glibc; elsewhere nothing).

    Without this a service's resident memory crept up for its whole 10-minute soak (+13 %, BENCHMARKS.md issue 15):
    each thread that decodes images gets its own malloc arena (up to 8 per core), whose freed pages glibc keeps.
    ``settle`` (before any thread starts) caps the arenas at 2; ``trim``
    hands the arenas' free pages back: the batcher calls it after a batch when no other is waiting, and once more
    when it has been idle for ``trim_every_s``, so memory goes back after a burst too (at most every
    ``trim_every_s``, and only after work)."""

    # glibc's mallopt parameter (malloc.h). A fixed M_MMAP_THRESHOLD (-3) was tried as well: it cost a third of the
    # service's capacity (9.2 -> 5.8 requests/s: every large buffer a fresh mmap). BENCHMARKS.md, issue 15, session 7.
    M_ARENA_MAX = -8

    def __init__(self, trim_every_s: float = 10.0):
        import ctypes

        try:
            self.libc = ctypes.CDLL("libc.so.6")
            self.libc.mallopt, self.libc.malloc_trim  # noqa: B018 - glibc's, or no libc to work with
        except (OSError, AttributeError):
            self.libc = None
        self.trim_every_s, self.last_trim = trim_every_s, time.monotonic()
        self.owed = False  # work was done (memory used) since the last trim

    def settle(self) -> bool:
        """Cap the arenas; False where there is no glibc."""
        return self.libc is not None and bool(self.libc.mallopt(self.M_ARENA_MAX, 2))

    def trim(self) -> bool:
        """Give free memory back to the system if work was done since the last trim and ``trim_every_s`` has passed
        since it; whether it ran."""
        if self.libc is None or not self.owed or time.monotonic() - self.last_trim < self.trim_every_s:
            return False
        self.libc.malloc_trim(0)
        self.last_trim, self.owed = time.monotonic(), False
        return True


class Batcher:
    """One worker thread that reads preprocessed images in batches of up to ``max_batch``, taking them from the
    clients in turn (fair queuing): a client that queued many images delays another's by at most one image per
    batch, however long its own queue."""

    def __init__(self, reader: Reader, limits: Limits, allocator: Allocator | None = None):
        self.reader, self.limits, self.allocator = reader, limits, allocator
        self.queues: dict[str, deque] = {}  # client -> its jobs, in order; a client's entry goes when it empties
        self.ready = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="seqocr-batcher", daemon=True)
        self.thread.start()

    def submit(self, arrays: list[np.ndarray], attention: bool = False, beam: int | None = None, client: str = ""
               ) -> list[Future]:
        """Queue images to read for ``client``; ``beam`` None: the reader's own beam width."""
        futures: list[Future] = [Future() for _ in arrays]
        with self.ready:
            self.queues.setdefault(client, deque()).extend(
                (x, attention, beam, f) for x, f in zip(arrays, futures))
            self.ready.notify()
        return futures

    def _take(self, room: int) -> list[tuple]:
        """Up to ``room`` jobs, one per client in turn (the clients served go to the back of the rotation)."""
        batch: list[tuple] = []
        while len(batch) < room and self.queues:
            for client in list(self.queues):
                jobs = self.queues.pop(client)
                batch.append(jobs.popleft())
                if jobs:
                    self.queues[client] = jobs  # re-inserted last: next time the others come first
                if len(batch) == room:
                    break
        return batch

    def _run(self) -> None:
        idle_s = self.allocator.trim_every_s if self.allocator is not None else None
        while True:
            with self.ready:
                batch = []
                if self.ready.wait_for(lambda: self.queues, timeout=idle_s):  # else idle for idle_s: batch stays []
                    batch = self._take(self.limits.max_batch)
                    deadline = time.monotonic() + self.limits.max_wait_ms / 1000  # for the whole batch
                    while len(batch) < self.limits.max_batch and self.ready.wait_for(
                            lambda: self.queues, timeout=max(0.0, deadline - time.monotonic())):
                        batch += self._take(self.limits.max_batch - len(batch))
            for beam in dict.fromkeys(b for _, _, b, _ in batch):  # one pass per beam width asked
                self._read([job for job in batch if job[2] == beam], beam)
            if self.allocator is not None:
                if batch:
                    self.allocator.owed = True
                if not self.queues:  # nothing waiting (or idle for trim_every_s): a moment to give memory back
                    self.allocator.trim()

    def _read(self, batch: list[tuple], beam: int | None) -> None:
        attention = any(a for _, a, _, _ in batch)  # one pass for all; the maps are dropped where not asked
        options = {"attention": attention} if beam is None else {"attention": attention, "beam": beam}
        try:
            readings = self.reader.read_arrays(np.stack([x for x, _, _, _ in batch]), **options)
        except Exception as e:  # noqa: BLE001 - handed to every waiting request, never kills the thread
            for *_, f in batch:
                f.set_exception(e)
            return
        for (_, a, _, f), r in zip(batch, readings):
            f.set_result(r if a else replace(r, attention=None))


def decode_image(data: bytes, index: int, limits: Limits) -> Image.Image:
    """Open an uploaded image, refusing oversized ones *before* decoding their pixels."""
    try:
        return load_image(data, f"image {index}", max_pixels=limits.max_pixels)
    except ImageTooLarge as e:
        raise BadRequest(413, str(e)) from None
    except DataError as e:
        raise BadRequest(400, str(e)) from None


def limited_receive(receive, limit: int, timeout_s: float = float("inf")):
    """An ASGI ``receive`` that counts the body's bytes as they arrive and stops the request with a 413 once they
    pass ``limit``, whatever its headers say: a chunked upload has no Content-Length to check beforehand. A body
    still arriving ``timeout_s`` after this call is stopped with a 408: a client trickling its upload (slowly or
    on purpose) would otherwise hold its connection and its request open for ever."""
    seen = 0
    deadline = time.monotonic() + timeout_s

    async def receive_limited():
        nonlocal seen
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise BadRequest(408, f"request body not received within {timeout_s:g} s") from None
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BadRequest(413, f"request body over the limit of {limit} bytes")
        return message

    return receive_limited


BASE64_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/=")


def payload_images(content_type: str, body: bytes, form_images: list[bytes] | None) -> list[bytes]:
    if form_images is not None:
        return form_images
    if content_type.startswith("application/json"):
        try:
            items = json.loads(body)["images"]
            if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
                raise TypeError
        except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: [[[[...
            raise BadRequest(400, 'expected JSON {"images": [base64 string, ...]}') from None
        return [decode_base64(s, k) for k, s in enumerate(items)]
    raise BadRequest(415, "send multipart/form-data with field 'images', or application/json")


def decode_base64(text: str, index: int) -> bytes:
    """One JSON image's bytes; a 400 naming the image and what is wrong with its base64 otherwise."""
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as e:  # non-ASCII text is a ValueError, bad base64 a binascii.Error
        bad = next((c for c in text if c not in BASE64_ALPHABET), None)
        why = f"character {bad!r} at {text.index(bad)} is not base64" if bad is not None else str(e).rstrip(".")
        raise BadRequest(400, f"image {index}: not valid base64: {why}") from None


WEB = Path(__file__).parent / "web"  # the page at /: its files, by name, and their media types
WEB_FILES = {"index.html": "text/html; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
             "labels.js": "text/javascript; charset=utf-8",
             "page.css": "text/css; charset=utf-8"}


def attention_refusal(reader: Reader) -> "str | None":
    """Why ``reader`` cannot give attention maps, or None when it can: only the PyTorch reader reading greedily
    has them (the exported ONNX graph outputs ids and probabilities; a beam mixes several hypotheses' steps)."""
    from .inference.onnx_reader import OnnxReader

    if isinstance(reader, OnnxReader):
        return "attention maps need the PyTorch model; this service runs an ONNX model"
    if getattr(reader, "beam", 1) > 1:
        return "attention maps come with greedy reading only; this service reads with a beam"
    return None


def beam_limit(reader: Reader) -> int:
    """The widest beam ``reader`` can read with: :data:`~seqocr.inference.beam.MAX_BEAM`, or 1 for an ONNX model
    without its beam graphs (exported without ``--beam``)."""
    return MAX_BEAM if getattr(reader, "beam_ready", True) else 1


def wants_beam(value: "str | None", limit: int) -> "int | None":
    """The ``beam`` query parameter: an integer from 1 to ``limit``; None when absent (the reader's own)."""
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= limit):
        hint = " (this service's ONNX model has no beam graphs: seqocr export --beam)" if limit == 1 else ""
        raise BadRequest(400, f"beam must be an integer from 1 to {limit}, got {value[:20]!r}{hint}")
    return int(value)


def wants_attention(value: str) -> bool:
    """The ``attention`` query parameter: 1/true/yes or 0/false/no (or absent)."""
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("", "0", "false", "no"):
        return False
    raise BadRequest(400, f"attention must be 0 or 1, got {value[:20]!r}")


def create_app(reader: Reader, limits: Limits = Limits(), model_info: "dict | None" = None,
               min_confidence: float = 0.0, allocator: "Allocator | None" = None):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException

    check_min_confidence(min_confidence)
    app = FastAPI(title="seqocr", version="1", summary="Read street-name signs (FSNS 4-view images or photos)")
    app.add_middleware(ClientLimit, limit=limits.max_client_requests)
    batcher = Batcher(reader, limits, allocator)
    refusal = attention_refusal(reader)
    beams = beam_limit(reader)
    pages = {name: (WEB / name).read_bytes() for name in WEB_FILES}  # a few kB, read once
    charset_chars = "".join(sorted(reader.charset.aliases))  # every character a label may hold (the page checks)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(BadRequest)
    async def _bad(_: Request, e: BadRequest):
        return error(e.status, e.message)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, e: HTTPException):
        return error(e.status_code, str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError):
        return error(422, "invalid request")

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", **(model_info or {}), "attention": refusal is None, "max_beam": beams,
                "charset": charset_chars,
                **({"attention_refusal": refusal} if refusal else {})}

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(pages["index.html"], media_type=WEB_FILES["index.html"])

    @app.get("/page/{name}", include_in_schema=False)
    async def page_file(name: str) -> Response:
        if name not in WEB_FILES:
            raise BadRequest(404, f"no page file {name[:40]!r}")
        return Response(pages[name], media_type=WEB_FILES[name])

    @app.post("/v1/read", responses={400: {}, 413: {}, 415: {}})
    async def read(request: Request) -> dict:
        """Read one or more images: multipart field `images` (repeatable) or JSON `{"images": [base64]}`;
        `?attention=1` adds each character's attention map."""
        attention = wants_attention(request.query_params.get("attention", ""))
        if attention and refusal:
            raise BadRequest(400, refusal)
        beam = wants_beam(request.query_params.get("beam"), beams)
        if beam == getattr(reader, "beam", 1):
            beam = None  # the reader's own width: batched with the requests that name none
        if attention and (beam or 1) > 1:
            raise BadRequest(400, "attention maps come with greedy reading only; ask for beam=1 or no beam")
        request = limited_request(request, limits)
        content_type = request.headers.get("content-type", "")
        form_images = None
        if content_type.startswith("multipart/form-data"):
            form = await parse_form(request, limits.max_images + 1)
            form_images = await uploaded(form.getlist("images"))
            await form.close()
        body = b"" if form_images is not None else await request.body()
        images = payload_images(content_type, body, form_images)
        if not images:
            raise BadRequest(400, "no images in the request")
        if len(images) > limits.max_images:
            raise BadRequest(413, f"{len(images)} images, over the limit of {limits.max_images} per request")
        prepared = await asyncio.to_thread(
            lambda: [prepare(decode_image(data, i, limits), reader.spec, attention) for i, data in enumerate(images)])
        arrays = [array for array, _ in prepared]
        readings: list[Reading] = await asyncio.gather(
            *[asyncio.wrap_future(f) for f in batcher.submit(arrays, attention, beam, client_key(request.scope))])
        return {"results": [result(r, attention, layout)
                            for r, (_, layout) in zip(reject_below(readings, min_confidence), prepared)]}

    @app.post("/v1/dataset", responses={400: {}, 413: {}, 415: {}})
    async def dataset(request: Request) -> Response:
        """Checked readings as a training set: multipart `images` (files) and `texts` (one per image, in order)
        -> a zip of images/ and labels.tsv (paths relative to it), the layout configs/finetune.yaml reads."""
        request = limited_request(request, limits)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise BadRequest(415, "send multipart/form-data with fields 'images' and 'texts'")
        form = await parse_form(request, 2 * MAX_DATASET_IMAGES + 1)
        files, texts = form.getlist("images"), [str(t) for t in form.getlist("texts")]
        images = await uploaded(files)
        await form.close()
        if not images or len(images) != len(texts) or len(images) > MAX_DATASET_IMAGES:
            raise BadRequest(400, f"expected 1 to {MAX_DATASET_IMAGES} images, each with a text; got "
                                  f"{len(images)} images and {len(texts)} texts")
        names = [getattr(f, "filename", None) or f"image-{k}.png" for k, f in enumerate(files)]
        zipped = await asyncio.to_thread(labelled_zip, names, images, texts, reader.charset, limits)
        return Response(zipped, media_type="application/zip",
                        headers={"Content-Disposition": 'attachment; filename="seqocr-labels.zip"'})

    return app


MAX_DATASET_IMAGES = 1000  # images in one /v1/dataset request (the body limit applies as well)


def labelled_zip(names: list[str], images: list[bytes], texts: list[str], charset, limits: Limits) -> bytes:
    """The zip of :func:`~seqocr.data.labels.write_labels_zip`, each image checked to decode first (400/413
    naming it otherwise), each label checked against the model's charset (400 naming it)."""
    for k, data in enumerate(images):
        decode_image(data, k, limits)
    try:
        return write_labels_zip(list(zip(names, images, texts)), charset, MAX_LABEL)
    except DataError as e:
        raise BadRequest(400, str(e)) from None


def limited_request(request, limits: Limits):
    """``request`` refused (413) when its Content-Length is over the body limit, and otherwise read through
    :func:`limited_receive`, which counts what actually arrives."""
    from fastapi import Request

    try:
        size = int(request.headers.get("content-length") or 0)
    except ValueError:  # found by fuzzing: was a 500
        raise BadRequest(400, "Content-Length is not a number") from None
    if size > limits.max_body_bytes:  # refused before reading any of it
        raise BadRequest(413, f"request body of {size} bytes, over the limit of {limits.max_body_bytes}")
    return Request(request.scope, limited_receive(request.receive, limits.max_body_bytes, limits.body_timeout_s))


async def parse_form(request, max_parts: int):
    """The request's multipart form, at most ``max_parts`` files and fields; a 400 for a malformed body."""
    try:
        return await request.form(max_files=max_parts, max_fields=max_parts)
    except BadRequest:
        raise
    except Exception:  # noqa: BLE001 - starlette/multipart raise several types for a bad body
        raise BadRequest(400, "malformed multipart body") from None


async def uploaded(parts: list) -> list[bytes]:
    """The bytes of a form's file parts (a plain field's text, encoded, where a file was expected)."""
    return [await u.read() if hasattr(u, "read") else str(u).encode() for u in parts]


def client_key(scope: dict) -> str:
    """The client a request counts against (its address): for the per-client limit and the batcher's turns."""
    return (scope.get("client") or ("",))[0]


class ClientLimit:
    """ASGI middleware: at most ``limit`` requests in flight per client address (0: no limit); one more is answered
    429 at once, before its body is read, so one client flooding the service takes at most that share of the
    batcher's queue and the others are still served. Behind a reverse proxy every request comes from the proxy's
    address: turn this off there (``--max-client-requests 0``) and limit clients in the proxy (README)."""

    def __init__(self, app, limit: int):
        self.app, self.limit, self.in_flight = app, limit, Counter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.limit or scope["path"] == "/healthz":
            return await self.app(scope, receive, send)
        client = client_key(scope)
        if self.in_flight[client] >= self.limit:
            from starlette.responses import JSONResponse

            refusal = JSONResponse({"error": f"over {self.limit} requests in flight from {client}; retry later"},
                                   status_code=429, headers={"retry-after": "1"})
            return await refusal(scope, receive, send)
        self.in_flight[client] += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            self.in_flight[client] -= 1
            if not self.in_flight[client]:
                del self.in_flight[client]


def prepare(img: Image.Image, spec: ImageSpec, attention: bool) -> tuple[np.ndarray, dict | None]:
    """An uploaded image as the model reads it and, when its attention is asked for, which of the upload's tiles
    each view the model read came from: ``{"tiles": T, "sources": [tile of view 0, ...]}`` (preprocess.cut_views:
    an FSNS strip of 2 real views and 2 noise tiles reads tiles 0, 1, 0, 1)."""
    if not attention:
        return eval_transform(img, spec), None
    _, tiles, sources = cut_views(img, spec.num_views)
    return eval_transform(img, spec), {"tiles": tiles, "sources": sources}


def result(reading: Reading, attention: bool, layout: dict | None = None) -> dict:
    """One reading as JSON: with ``attention``, its maps and the uploaded tile of each view too (null for a
    rejected reading, which has no text)."""
    if not attention:
        return reading.as_dict()
    maps = None if reading.attention is None else {**attention_payload(reading.attention), "views": layout}
    return {**reading.as_dict(), "attention": maps}


def bind(host: str, port: int) -> socket.socket:
    """The service's socket, bound before anything else is done, so that a port in use or a bad host is one clear
    error at once, not after the model has loaded or from a server that logs "startup complete" and then exits."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None
    return sock


def header_timeout_protocol(timeout_s: float) -> type:
    """uvicorn's h11 protocol with a deadline on each request's head, which uvicorn itself does not have: a
    connection that has not sent a whole request line and headers ``timeout_s`` after it opened (or after the first
    byte of a later request on it; an idle kept-alive connection is uvicorn's keep-alive timeout's) is answered 408
    and closed. Bytes trickled in do not move the deadline, so a client cannot hold a connection by sending a header
    line every few seconds. On shutdown, a connection part-way through a request head is answered 503."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol


    def reply(status: str, message: str) -> bytes:  # written raw: h11 cannot answer a request it has not parsed
        body = json.dumps({"error": message}).encode()
        return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\n"
                f"content-length: {len(body)}\r\n\r\n").encode() + body

    too_slow = reply("408 Request Timeout", f"request header not received within {timeout_s:g} s")
    closing = reply("503 Service Unavailable", "the service is shutting down")

    class HeaderDeadline(H11Protocol):
        header_timer: "asyncio.TimerHandle | None" = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self.watch_header()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self.watch_header()

        def connection_lost(self, exc: "Exception | None") -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
            super().connection_lost(exc)

        def watch_header(self) -> None:
            """Arm the deadline while a request head is awaited, disarm it once the head is in."""
            waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
            if waiting and self.header_timer is None:
                self.header_timer = self.loop.call_later(timeout_s, self.header_timed_out)
            elif not waiting and self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def header_timed_out(self) -> None:
            self.header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.logger.warning("%s: request header not received within %g s: 408, connection closed",
                                    f"{self.client[0]}:{self.client[1]}" if self.client else "client", timeout_s)
                self.transport.write(too_slow)
                self.transport.close()

        def shutdown(self) -> None:
            """On SIGTERM uvicorn closes the connections with no request in progress; one in the middle of sending
            a request head gets a 503 first rather than a silent close."""
            if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0] and not self.transport.is_closing():
                self.transport.write(closing)
            super().shutdown()

    return HeaderDeadline


def serve(reader: Reader, sock: socket.socket, limits: Limits, model_info: dict, min_confidence: float = 0.0,
          allocator: "Allocator | None" = None) -> None:
    """Serve on a socket from :func:`bind` until interrupted, after saying on stderr where (the port chosen by the
    system for port 0 included)."""
    import uvicorn

    config = uvicorn.Config(create_app(reader, limits, model_info, min_confidence, allocator), log_level="info",
                            http=header_timeout_protocol(limits.header_timeout_s),
                            timeout_graceful_shutdown=limits.shutdown_grace_s)
    if threading.current_thread() is threading.main_thread():
        # uvicorn answers SIGTERM by closing the socket and finishing the requests in flight (for up to the grace
        # period), then raises SIGTERM again under the handler it found: Python's default would kill the process
        # (status 143) after a clean shutdown. This one lets it return, and `seqocr serve` exit 0.
        signal.signal(signal.SIGTERM, lambda *_: None)
    # The model and the libraries are loaded for good: frozen out of the collector's reach, they cost no pause while
    # serving, and no collection at exit (which took 25 s after a SIGTERM on a machine busy with training).
    gc.freeze()
    sock.listen()  # connections are queued from here; uvicorn accepts them as it starts
    host, port = sock.getsockname()[:2]
    print(f"seqocr serve: listening on http://{f'[{host}]' if ':' in host else host}:{port}", file=sys.stderr,
          flush=True)
    uvicorn.Server(config).run(sockets=[sock])
