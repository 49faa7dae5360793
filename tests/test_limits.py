"""The service's limits at their edges: a request exactly at a limit is read, one byte, image or pixel past it is
refused with its 413, whether the body says its length or is sent chunked (``seqocr serve``'s app on a loopback
port, in this process)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from seqocr.serve import Limits, create_app
from tests.helpers import SAMPLES, in_process, tiny_checkpoint

SIGN = (SAMPLES / "sign-0000000.png").read_bytes()  # 600 x 150 = 90,000 pixels
PIXELS = 600 * 150
# a /v1/read JSON body padded with spaces (JSON allows them) to a round size: the body limit's test subject
PAYLOAD = json.dumps({"images": [base64.b64encode(SIGN).decode()]}).encode()
BODY = PAYLOAD[:-1] + b" " * (150_000 - len(PAYLOAD)) + b"}"


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    from seqocr.charset import Charset
    from seqocr.inference.predictor import Predictor

    return Predictor.from_checkpoint(tiny_checkpoint(tmp_path_factory.mktemp("limits"), "default", Charset.fsns()))


def read(reader, limits: Limits, **request) -> httpx.Response:
    with in_process(create_app(reader, limits)) as url:
        return httpx.post(f"{url}/v1/read", timeout=120, **request)


def one_piece(body: bytes):
    """The body as a generator: httpx sends it chunked, with no Content-Length to check beforehand."""
    yield body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_413(reader, chunked):
    assert len(BODY) == 150_000 and json.loads(BODY) == json.loads(PAYLOAD)
    send = (lambda b: {"content": one_piece(b)}) if chunked else (lambda b: {"content": b})
    headers = {"content-type": "application/json"}
    at = read(reader, Limits(max_body_bytes=len(BODY)), headers=headers, **send(BODY))
    assert at.status_code == 200 and len(at.json()["results"]) == 1, at.text
    past = read(reader, Limits(max_body_bytes=len(BODY) - 1), headers=headers, **send(BODY))
    assert past.status_code == 413, past.text
    refusal = ("request body over the limit of 149999 bytes" if chunked else
               "request body of 150000 bytes, over the limit of 149999")
    assert past.json() == {"error": refusal}


def test_exactly_max_images_are_read_and_one_more_is_413(reader):
    files = [("images", (f"{k}.png", SIGN, "image/png")) for k in range(3)]
    at = read(reader, Limits(max_images=3), files=files)
    assert at.status_code == 200 and len(at.json()["results"]) == 3, at.text
    past = read(reader, Limits(max_images=2), files=files)
    assert past.status_code == 413 and past.json() == {"error": "3 images, over the limit of 2 per request"}
    as_json = {"images": [base64.b64encode(SIGN).decode()] * 3}
    assert read(reader, Limits(max_images=2), json=as_json).json() == past.json()


def test_an_image_of_exactly_max_pixels_is_read_and_one_pixel_over_is_413(reader):
    files = [("images", ("sign.png", SIGN, "image/png"))]
    at = read(reader, Limits(max_pixels=PIXELS), files=files)
    assert at.status_code == 200 and len(at.json()["results"]) == 1, at.text
    past = read(reader, Limits(max_pixels=PIXELS - 1), files=files)
    assert past.status_code == 413
    assert past.json() == {"error": "image 0: 600x150 pixels, over the limit of 89999 pixels"}


# The request's parts, checked without a server: what the service answers for each is in test_serve.py.
def test_the_images_come_from_the_form_or_from_json_and_anything_else_is_415():
    from seqocr.serve.limits import BadRequest, payload_images

    assert payload_images("multipart/form-data; boundary=x", b"ignored", [b"a", b"b"]) == [b"a", b"b"]
    body = json.dumps({"images": [base64.b64encode(b"one").decode(), ""]}).encode()
    assert payload_images("application/json; charset=utf-8", body, None) == [b"one", b""]
    bad = json.dumps({"images": [base64.b64encode(b"one").decode(), "no!"]}).encode()
    with pytest.raises(BadRequest, match="^image 1: not valid base64: character '!' at 2"):
        payload_images("application/json", bad, None)
    with pytest.raises(BadRequest) as e:
        payload_images("text/plain", body, None)
    assert (e.value.status, e.value.message, str(e.value)) == (
        415, "send multipart/form-data with field 'images', or application/json",
        "send multipart/form-data with field 'images', or application/json")


@pytest.mark.parametrize("body", [b"not json", b'{"pictures": []}', b'{"images": "YWJj"}', b'{"images": [1]}',
                                  b'{"images": ["YWJj", null]}', b"[" * 100_000 + b"]" * 100_000, b'["images"]'])
def test_json_that_is_not_a_list_of_base64_strings_is_400(body):
    from seqocr.serve.limits import BadRequest, payload_images

    with pytest.raises(BadRequest) as e:
        payload_images("application/json", body, None)
    assert (e.value.status, e.value.message) == (400, 'expected JSON {"images": [base64 string, ...]}')


@pytest.mark.parametrize("text, why", [
    ("YW!j!", "character '!' at 2 is not base64"), ("éYWJj", "character 'é' at 0 is not base64"),
    ("YWJjZA", "Incorrect padding"), ("YW=Jj", "Discontinuous padding not allowed")])
def test_bad_base64_names_the_image_and_what_is_wrong(text, why):
    from seqocr.serve.limits import BadRequest, decode_base64

    assert decode_base64("YWJj", 3) == b"abc"
    with pytest.raises(BadRequest) as e:
        decode_base64(text, 3)
    assert (e.value.status, e.value.message) == (400, f"image 3: not valid base64: {why}")


def test_an_image_that_does_not_decode_is_400_and_one_over_the_pixels_is_413():
    from seqocr.serve.limits import BadRequest, decode_image

    assert decode_image(SIGN, 0, Limits(max_pixels=PIXELS)).size == (600, 150)
    for data, limits, status in ((b"not an image", Limits(), 400), (SIGN, Limits(max_pixels=PIXELS - 1), 413)):
        with pytest.raises(BadRequest) as e:
            decode_image(data, 5, limits)
        assert e.value.status == status and e.value.message.startswith("image 5: ")


def test_a_request_counts_against_its_clients_address():
    from seqocr.serve.limits import client_key

    assert client_key({"client": ("10.0.0.7", 5123)}) == "10.0.0.7"
    assert client_key({"client": None}) == client_key({}) == ""


def test_a_client_past_its_requests_in_flight_is_429_at_once_and_others_and_health_checks_pass():
    """The middleware on its own, with an app that holds each request until released: the limit counts per
    address, the 429 is sent before the app sees the request, and a finished request frees its place."""
    import asyncio

    from seqocr.serve.limits import ClientLimit

    async def scenario():
        held, seen = asyncio.Event(), []

        async def app(scope, receive, send):
            seen.append((await receive())["type"] if scope["path"] != "/healthz" else scope["path"])
            await held.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        async def call(limit, client, path="/v1/read", kind="http"):
            sent = []

            async def send(message):
                sent.append(message)

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            await limit({"type": kind, "path": path, "client": (client, 1), "method": "POST", "headers": []},
                        receive, send)
            return sent

        limit = ClientLimit(app, 2)
        first = [asyncio.create_task(call(limit, "a")) for _ in range(2)]
        other = asyncio.create_task(call(limit, "b"))
        health = asyncio.create_task(call(limit, "a", "/healthz"))
        await asyncio.sleep(0)
        assert dict(limit.in_flight) == {"a": 2, "b": 1}
        refused = await call(limit, "a")  # a third from "a": refused at once, the app never sees it
        assert refused[0]["status"] == 429 and (b"retry-after", b"1") in refused[0]["headers"]
        assert json.loads(refused[1]["body"]) == {"error": "over 2 requests in flight from a; retry later"}
        assert seen.count("http.request") == 3 and seen.count("/healthz") == 1  # each read its request
        held.set()
        for task in (*first, other, health):
            assert (await task)[0]["status"] == 200
        assert not limit.in_flight  # every place freed, no address kept
        assert (await call(limit, "a"))[0]["status"] == 200
        unlimited = ClientLimit(app, 0)
        assert [(await call(unlimited, "a"))[0]["status"] for _ in range(3)] == [200] * 3
        assert not unlimited.in_flight
        assert (await call(ClientLimit(app, 1), "a", kind="websocket")) == [
            {"type": "http.response.start", "status": 200, "headers": []},
            {"type": "http.response.body", "body": b"ok"}]

    asyncio.run(scenario())


def receiver(*bodies: bytes, wait_s: float = 0.0):
    """An ASGI ``receive`` giving ``bodies`` as the request's messages, each after ``wait_s``."""
    import asyncio

    messages = [{"type": "http.request", "body": b, "more_body": k < len(bodies) - 1} for k, b in enumerate(bodies)]

    async def receive():
        await asyncio.sleep(wait_s)
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return receive


def test_the_body_is_counted_as_it_arrives_up_to_exactly_its_limit_and_stopped_when_it_trickles():
    import asyncio

    from seqocr.serve.limits import BadRequest, limited_receive

    async def drain(receive):
        return [await receive() for _ in range(3)]

    got = asyncio.run(drain(limited_receive(receiver(b"abcd", b"efghij"), 10)))
    assert [m.get("body") for m in got] == [b"abcd", b"efghij", None]  # 10 bytes: at the limit; a disconnect
    for bodies, limit in (((b"abcd", b"efghijk"), 10), ((b"x" * 11,), 10)):
        with pytest.raises(BadRequest) as e:
            asyncio.run(drain(limited_receive(receiver(*bodies), limit)))
        assert (e.value.status, e.value.message) == (413, f"request body over the limit of {limit} bytes")
    with pytest.raises(BadRequest) as e:
        asyncio.run(drain(limited_receive(receiver(b"a", b"b", wait_s=0.04), 10, timeout_s=0.06)))
    assert (e.value.status, e.value.message) == (408, "request body not received within 0.06 s")
    assert len(asyncio.run(drain(limited_receive(receiver(b"a", b"b", wait_s=0.01), 10, timeout_s=1)))) == 3


def request_of(body: bytes, headers: dict[str, str], receive=None):
    from starlette.requests import Request

    scope = {"type": "http", "method": "POST", "path": "/v1/read", "query_string": b"",
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    return Request(scope, receive or receiver(body))


@pytest.mark.parametrize("length, status, message", [
    ("abc", 400, "Content-Length is not a number"),
    ("11", 413, "request body of 11 bytes, over the limit of 10")])
def test_a_content_length_over_the_limit_or_not_a_number_is_refused_before_the_body_is_read(length, status, message):
    from seqocr.serve.limits import BadRequest, limited_request

    with pytest.raises(BadRequest) as e:
        limited_request(request_of(b"", {"content-length": length}, receive=lambda: pytest.fail("read")),
                        Limits(max_body_bytes=10))
    assert (e.value.status, e.value.message) == (status, message)


def test_a_body_within_the_limit_is_read_and_one_that_lies_about_its_length_is_stopped():
    import asyncio

    from seqocr.serve.limits import BadRequest, limited_request

    for headers in ({"content-length": "10"}, {}):
        assert asyncio.run(limited_request(request_of(b"x" * 10, headers), Limits(max_body_bytes=10)).body()) == \
            b"x" * 10
    slow = request_of(b"", {}, receive=receiver(b"a", b"b", wait_s=0.04))
    with pytest.raises(BadRequest, match="^request body not received within 0.06 s$"):
        asyncio.run(limited_request(slow, Limits(body_timeout_s=0.06)).body())
    with pytest.raises(BadRequest) as e:  # says 5 bytes, sends 11
        asyncio.run(limited_request(request_of(b"x" * 11, {"content-length": "5"}), Limits(max_body_bytes=10)).body())
    assert (e.value.status, e.value.message) == (413, "request body over the limit of 10 bytes")


def multipart(*names: str) -> tuple[bytes, dict[str, str]]:
    parts = b"".join(b"--b\r\nContent-Disposition: form-data; name=\"images\"; filename=\"" + n.encode() +
                     b"\"\r\nContent-Type: image/png\r\n\r\n" + n.encode() + b"\r\n" for n in names)
    return parts + b"--b--\r\n", {"content-type": "multipart/form-data; boundary=b"}


def test_a_form_gives_its_files_bytes_and_a_malformed_or_overfull_one_is_400():
    import asyncio

    from seqocr.serve.limits import BadRequest, limited_request, parse_form, uploaded

    async def files(body, headers, max_parts=4, limit=10_000):
        form = await parse_form(limited_request(request_of(body, headers), Limits(max_body_bytes=limit)), max_parts)
        return await uploaded(form.getlist("images"))

    assert asyncio.run(files(*multipart("a.png", "b.png"))) == [b"a.png", b"b.png"]
    part = b'--b\r\nContent-Disposition: form-data; name="images"\r\n\r\ntext\r\n'
    field, fields = part + b"--b--\r\n", part * 3 + b"--b--\r\n"
    assert asyncio.run(files(field, multipart()[1])) == [b"text"]  # a plain field where a file was expected
    assert asyncio.run(files(fields, multipart()[1], max_parts=3)) == [b"text"] * 3
    for body, headers, max_parts, limit, status, message in (
            (b"junk", {"content-type": "multipart/form-data"}, 4, 10_000, 400, "malformed multipart body"),  # no boundary
            (*multipart("a.png", "b.png", "c.png"), 2, 10_000, 400, "malformed multipart body"),
            (fields, multipart()[1], 2, 10_000, 400, "malformed multipart body"),
            (*multipart("a.png", "b.png"), 4, 50, 413, "request body over the limit of 50 bytes")):
        with pytest.raises(BadRequest) as e:
            asyncio.run(files(body, headers, max_parts, limit))
        assert (e.value.status, e.value.message) == (status, message)
