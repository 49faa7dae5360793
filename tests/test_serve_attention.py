"""The service's page files and ``/v1/read?attention=1``, in process (the real server and browser: test_page.py)."""

import base64
from pathlib import Path

import pytest

from seqocr.serve import Limits, create_app
from tests.helpers import SAMPLES, tiny_checkpoint

# starlette's TestClient warns that it will want httpx2 one day
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
IMAGES = [SAMPLES / "sign-0000001.png", SAMPLES / "sign-0000002.png"]


def client(reader):
    from fastapi.testclient import TestClient

    return TestClient(create_app(reader, Limits(), {"model": "test"}))


@pytest.fixture(scope="module")
def torch_client(tmp_path_factory):
    from seqocr.charset import Charset
    from seqocr.inference.predictor import Predictor

    predictor = Predictor.from_checkpoint(tiny_checkpoint(tmp_path_factory.mktemp("s"), "default", Charset.fsns()))
    return client(predictor), predictor


def files(paths):
    return [("images", (Path(p).name, Path(p).read_bytes(), "image/png")) for p in paths]


def test_page_and_its_files_are_served(torch_client):
    c, _ = torch_client
    page = c.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css")):
        assert f"/page/{name}" in page.text
        r = c.get(f"/page/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
    assert c.get("/page/../serve.py").status_code == 404
    assert c.get("/page/secret.txt").json() == {"error": "no page file 'secret.txt'"}
    assert "//" not in page.text.replace("<!doctype", "")  # nothing fetched from elsewhere
    assert "http" not in c.get("/page/page.js").text


def test_attention_is_returned_only_when_asked(torch_client):
    c, predictor = torch_client
    plain = c.post("/v1/read", files=files(IMAGES)).json()["results"]
    shown = c.post("/v1/read?attention=1", files=files(IMAGES)).json()["results"]
    assert all("attention" not in r for r in plain)
    want = predictor.read(IMAGES, attention=True)
    for r, w in zip(shown, want):
        a = r["attention"]
        assert r["text"] == w.text and a["shape"] == list(w.attention.shape[1:]) and a["levels"] == 255
        assert len(a["maps"]) == len(r["text"]) == len(r["char_probs"])
        maps = [base64.b64decode(m) for m in a["maps"]]
        assert all(len(m) == w.attention[0].size and max(m) == 255 for m in maps)
    assert c.get("/healthz").json()["attention"] is True


@pytest.mark.parametrize("value, status", [("0", 200), ("true", 200), ("2", 400), ("maybe", 400)])
def test_attention_parameter_values(torch_client, value, status):
    c, _ = torch_client
    r = c.post(f"/v1/read?attention={value}", files=files(IMAGES[:1]))
    assert r.status_code == status
    if status == 400:
        assert r.json()["error"].startswith("attention must be 0 or 1")


def test_onnx_service_refuses_attention_in_one_line_and_still_reads(tiny_onnx):
    from seqocr.inference.onnx_reader import OnnxReader

    c = client(OnnxReader(tiny_onnx[1]))
    health = c.get("/healthz").json()
    assert health["attention"] is False and "PyTorch" in health["attention_refusal"]
    r = c.post("/v1/read?attention=1", files=files(IMAGES[:1]))
    assert r.status_code == 400 and r.json()["error"] == health["attention_refusal"]
    assert c.post("/v1/read", files=files(IMAGES[:1])).status_code == 200
