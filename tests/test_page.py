"""The service's page in a real browser: headless Chromium (Debian's package, installed by
scripts/install_chromium.sh when missing; the test is skipped with the reason where it cannot be) loads the page
of a real ``seqocr serve`` on loopback, uploads a bundled sample and two bad files, and the test reads what the
page shows: the text the API returned, one box per character, an attention overlay actually drawn on the canvas
(and redrawn when stepping to the next character), and the API's own error messages for the bad files."""

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from scripts.headless import Browser, BrowserError, find_chromium
from scripts.spawn_serve import spawn
from tests.helpers import SAMPLES, skip_or_fail, tiny_checkpoint

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = SAMPLES / "sign-0000001.png"
CARD = "document.querySelector('.card[data-name=\"{}\"]')"
OVERLAY_ALPHA = """(() => {{
  const c = {}.querySelector('.overlay'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = 0; for (let i = 3; i < d.length; i += 4) s += d[i]; return s; }})()"""


@pytest.fixture(scope="module")
def chromium():
    try:
        return find_chromium()  # make test installs it (scripts/install_chromium.sh)
    except BrowserError as e:
        skip_or_fail(str(e))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from seqocr.charset import Charset

    ckpt = tiny_checkpoint(tmp_path_factory.mktemp("page"), "default", Charset.fsns())
    try:  # a loaded machine can take a while to import torch
        proc, url = spawn(["--checkpoint", str(ckpt), "--max-body-mb", "0.5"])
    except RuntimeError as e:
        pytest.fail(str(e))
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def noise_png() -> bytes:
    """A PNG of about 700 kB, over the server's 0.5 MB body limit."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_page_reads_a_sign_draws_attention_and_shows_api_errors(chromium, server, tmp_path):
    big, bad = tmp_path / "big.png", tmp_path / "bad.png"
    big.write_bytes(noise_png())
    bad.write_bytes(b"this is not an image")
    want = httpx.post(f"{server}/v1/read?attention=1", timeout=120,
                      files=[("images", (SAMPLE.name, SAMPLE.read_bytes(), "image/png"))]).json()["results"][0]
    assert want["text"] and len(want["attention"]["maps"]) == len(want["text"])

    with Browser.start(chromium) as browser:
        page = browser.new_page(1000, 800)
        page.goto(f"{server}/")
        page.set_files("#files", [str(SAMPLE), str(bad), str(big)])
        page.wait_for("document.querySelectorAll('.card[data-state=done], .card[data-state=error]').length === 3",
                      timeout=120)
        card = CARD.format(SAMPLE.name)
        assert page.evaluate(f"{card}.dataset.state") == "done"
        assert page.evaluate(f"{card}.querySelector('.text').textContent") == want["text"]
        assert page.evaluate(f"{card}.querySelectorAll('.char').length") == len(want["text"])
        assert page.evaluate(f"{card}.querySelector('.overlay').dataset.char") == "0"
        assert page.evaluate(OVERLAY_ALPHA.format(card)) > 0  # the first character's map is drawn

        page.evaluate(f"{card}.dispatchEvent(new KeyboardEvent('keydown', {{key: 'ArrowRight'}}))")
        assert page.evaluate(f"{card}.querySelector('.overlay').dataset.char") == "1"
        assert page.evaluate(f"{card}.querySelector('.char.on') === {card}.querySelectorAll('.char')[1]")

        for name, message in [(bad.name, "400: bad.png: unreadable or truncated image"),  # the file, not "image 0"
                              (big.name, "413: request body")]:
            assert page.evaluate(f"{CARD.format(name)}.dataset.state") == "error"
            assert page.evaluate(f"{CARD.format(name)}.querySelector('.error').textContent").startswith(message)


VIEW_PIXELS = """(() => {{
  const c = {}.querySelector('.base'), ctx = c.getContext('2d');
  return [0, 1, 2, 3].map((v) => Array.from(ctx.getImageData(v * 153 + 20, 20, 110, 110).data)
    .reduce((a, b, i) => (a + b * ((i % 97) + 1)) % 1000003, 0)); }})()"""


def two_view_strip(path):
    """A bundled sample's first two tiles, then two tiles of FSNS's uniform noise filler (samples 005 and 007)."""
    strip = np.asarray(Image.open(SAMPLE).convert("RGB")).copy()
    w = strip.shape[1] // 4
    strip[:, 2 * w:] = np.random.default_rng(1).integers(0, 256, strip[:, 2 * w:].shape, dtype=np.uint8)
    Image.fromarray(strip).save(path)


def test_page_draws_attention_over_the_tiles_the_model_read_and_error_cards_are_compact(chromium, server, tmp_path):
    """Issue 23: on a sign with noise filler tiles the page draws the real tiles the model read (0, 1, 0, 1), as
    the API says, not the noise; an error card has no blank canvas space under its message."""
    strip, bad = tmp_path / "two-views.png", tmp_path / "bad.png"
    two_view_strip(strip)
    bad.write_bytes(b"this is not an image")
    got = httpx.post(f"{server}/v1/read?attention=1", timeout=120,
                     files=[("images", (strip.name, strip.read_bytes(), "image/png"))]).json()["results"][0]
    assert got["attention"]["views"] == {"tiles": 4, "sources": [0, 1, 0, 1]}

    with Browser.start(chromium) as browser:
        page = browser.new_page(1000, 800)
        page.goto(f"{server}/")
        page.set_files("#files", [str(strip), str(bad)])
        page.wait_for("document.querySelectorAll('.card[data-state=done], .card[data-state=error]').length === 2",
                      timeout=120)
        card = CARD.format(strip.name)
        views = page.evaluate(VIEW_PIXELS.format(card))
        assert views[2] == views[0] and views[3] == views[1] and views[0] != views[1]  # tiles 0, 1, 0, 1
        focus = page.evaluate(f"{card}.querySelector('.focus').textContent")
        assert "of 4 of the image" in focus and ("view 1 of 4" in focus or "view 2 of 4" in focus), focus
        # both edges in one evaluation: the labelling bar above the cards appears once the read card is attached to
        # it (asynchronously, after its state is "done") and moves every card down between two evaluations
        below = page.evaluate(f"(() => {{ const c = {CARD.format(bad.name)}; return c.getBoundingClientRect().bottom - "
                              "c.querySelector('.error').getBoundingClientRect().bottom; })()")
        assert below < 30, below  # the card ends under its message (was ~170 px of canvas)


def type_into(page, card: str, text: str) -> None:
    page.evaluate(f"(() => {{ const i = {card}.querySelector('.truth'); i.value = {text!r}; "
                  "i.dispatchEvent(new Event('input')); })()")


def test_page_corrects_readings_keeps_them_over_a_reload_and_downloads_a_set_that_trains(chromium, server, tmp_path):
    """Issue 23, the page as a labelling tool: edit a reading in place, mark it checked (a character the charset
    lacks is named and blocks checking), reload (kept in the browser), download the checked ones as a zip, and
    fine-tune the shipped model on it with configs/finetune.yaml."""
    import json
    import subprocess
    import sys
    import time
    import zipfile

    other = SAMPLES / "sign-0000002.png"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with Browser.start(chromium) as browser:
        page = browser.new_page(1000, 900)
        page.goto(f"{server}/")
        page.wait_for("document.getElementById('model').textContent.startsWith('model:')", timeout=60)
        page.set_files("#files", [str(SAMPLE), str(other)])
        page.wait_for("document.querySelectorAll('.card[data-state=done] .label:not([hidden])').length === 2",
                      timeout=120)
        first, second = CARD.format(SAMPLE.name), CARD.format(other.name)
        read = page.evaluate(f"{first}.querySelector('.text').textContent")
        assert page.evaluate(f"{first}.querySelector('.truth').value") == read  # the reading, ready to correct
        type_into(page, first, "Rue du 中 Nord")
        assert page.evaluate(f"{first}.querySelector('.why').textContent") == "not in the model's charset: “中”"
        assert page.evaluate(f"{first}.querySelector('.checked').disabled") is True
        type_into(page, first, "Rue du Nord")
        page.evaluate(f"{first}.querySelector('.checked').click()")
        type_into(page, second, "Avenue de Dinan")
        page.evaluate(f"{second}.querySelector('.checked').click()")
        page.wait_for("document.getElementById('label-count').textContent.startsWith('2 checked')", timeout=30)

        page.goto(f"{server}/")  # a reload: what was corrected is still there
        page.wait_for("document.querySelectorAll('.card.restored').length === 2 && "
                      "document.getElementById('label-count').textContent.startsWith('2 checked') && "
                      "!document.getElementById('download').disabled", timeout=60)
        assert page.evaluate(f"{first}.querySelector('.truth').value") == "Rue du Nord"
        assert page.evaluate(f"{first}.querySelector('.checked').checked") is True
        assert page.evaluate(f"{first}.querySelector('.text').textContent") == read

        browser.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        page.evaluate("document.getElementById('download').click()")
        deadline = time.monotonic() + 60
        while not (downloads / "seqocr-labels.zip").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
    with zipfile.ZipFile(downloads / "seqocr-labels.zip") as z:
        z.extractall(tmp_path / "set")
    labels = (tmp_path / "set" / "labels.tsv").read_text().splitlines()
    assert sorted(labels) == sorted([f"images/{SAMPLE.name}\tRue du Nord", f"images/{other.name}\tAvenue de Dinan"])
    assert (tmp_path / "set" / "images" / SAMPLE.name).read_bytes() == SAMPLE.read_bytes()

    run = tmp_path / "finetune"
    r = subprocess.run([sys.executable, "-m", "seqocr", "train", "--config", "configs/finetune.yaml", "--no-progress",
                        "--set", f"data.train={tmp_path / 'set' / 'labels.tsv'}", "--set", "data.val=",
                        "--set", "train.steps=2", "--set", "train.batch_size=2", "--set", "train.log_every=1",
                        "--set", f"train.out_dir={run}"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    assert [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()] == [1, 2]
