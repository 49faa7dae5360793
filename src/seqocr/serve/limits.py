"""The service's limits and how a request is read within them: body size and time, images per request, pixels per
image, requests in flight per client, the time a request head may take (:mod:`seqocr.serve`)."""

import asyncio
import base64
import binascii
import json
import string
import time
from collections import Counter
from dataclasses import dataclass

from PIL import Image

from ..errors import DataError
from ..imaging.preprocess import DEFAULT_MAX_PIXELS, ImageTooLarge, load_image


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


def client_key(scope: dict) -> str:
    """The client a request counts against (its address): for the per-client limit and the batcher's turns."""
    return (scope.get("client") or ("",))[0]


class ClientLimit:
    """ASGI middleware: at most ``limit`` requests in flight per client address (0: no limit); one more is answered
    429 at once, before its body is read, so one client flooding the service takes at most that share of the
    batcher's queue and the others are still served. Behind a reverse proxy every request comes from the proxy's
    address: turn this off there (``--max-client-requests 0``) and limit clients in the proxy (docs/service.md)."""

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


def _raw_reply(status: str, message: str) -> bytes:
    """A whole HTTP answer with a JSON error body that closes the connection, written raw: h11 cannot answer a
    request it has not parsed."""
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


def header_timeout_protocol(timeout_s: float) -> type:
    """uvicorn's h11 protocol with a deadline on each request's head, which uvicorn itself does not have: a
    connection that has not sent a whole request line and headers ``timeout_s`` after it opened (or after the first
    byte of a later request on it; an idle kept-alive connection is uvicorn's keep-alive timeout's) is answered 408
    and closed. Bytes trickled in do not move the deadline, so a client cannot hold a connection by sending a header
    line every few seconds."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    too_slow = _raw_reply("408 Request Timeout", f"request header not received within {timeout_s:g} s")

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

    return HeaderDeadline


def service_protocol(header_timeout_s: float) -> type:
    """The service's HTTP protocol: :func:`header_timeout_protocol`'s, which on shutdown also answers what uvicorn
    would close unanswered. uvicorn closes every connection with no request in progress; here one part-way through
    a request head gets a 503 first, and one accepted that has sent nothing yet (its client between connecting and
    sending) is kept open for its request, answered, then closed: the header deadline bounds the wait."""
    import h11

    closing = _raw_reply("503 Service Unavailable", "the service is shutting down")

    class AnswerAtShutdown(header_timeout_protocol(header_timeout_s)):
        last_call = False  # shut down before anything came: the request on its way is answered, then it closes

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.last_call and self.cycle is not None:
                self.cycle.keep_alive = False

        def shutdown(self) -> None:
            # nothing received yet: no request parsed (a cycle) and no bytes of one waiting in h11's buffer
            if self.cycle is None and not self.conn.trailing_data[0] and not self.transport.is_closing():
                self.last_call = True
                return
            if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0] and not self.transport.is_closing():
                self.transport.write(closing)
            super().shutdown()

    return AnswerAtShutdown


ACCEPT_DRAIN_S = 0.1  # on SIGTERM, the event loop's time to accept the connections queued before the socket closes


def draining_server(config):
    """A uvicorn server that on SIGTERM first lets its event loop accept the connections the kernel has already
    queued (for :data:`ACCEPT_DRAIN_S`), then shuts down as uvicorn does: closing a listening socket resets the
    connections still queued on it, whose clients had connected and sent their requests. Each one accepted is
    answered (:func:`service_protocol`); one that connects after the socket closed is refused."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:
            await asyncio.sleep(ACCEPT_DRAIN_S)
            await super().shutdown(sockets)

    return DrainingServer(config)
