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
