"""Attention maps: the reader's ``attention=True``, their pictures (``read --show``) and their JSON form."""

import base64
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seqocr.cli import main
from seqocr.errors import ConfigError
from seqocr.inference.attention import attention_payload, attention_strip, normalise, render_reading, show_names
from seqocr.inference.onnx_reader import OnnxReader
from seqocr.inference.postprocess import Reading, reject_below
from tests.helpers import SAMPLES, tiny_checkpoint

IMAGES = [str(SAMPLES / f"sign-000000{i}.png") for i in range(3)]


@pytest.fixture(scope="module")
def predictors(tmp_path_factory):
    from seqocr.charset import Charset
    from seqocr.inference.predictor import Predictor

    root = tmp_path_factory.mktemp("attention")
    return {name: Predictor.from_checkpoint(tiny_checkpoint(root, name, Charset.fsns()))
            for name in ("default", "reference")}


@pytest.mark.parametrize("name", ["default", "reference"])
def test_reading_with_attention_gives_the_same_text_and_one_map_per_character(predictors, name):
    p = predictors[name]
    plain, shown = p.read(IMAGES), p.read(IMAGES, attention=True)
    assert [r.text for r in shown] == [r.text for r in plain]
    for a, b in zip(shown, plain):
        assert a.char_probs == pytest.approx(b.char_probs)
    for r in shown:
        assert r.attention.shape[:2] == (len(r.text), p.spec.num_views) and r.attention.ndim == 4
        # default: one distribution over every cell; reference: the same column weights in every view
        total = r.attention.reshape(len(r.text), -1).sum(1) / (p.spec.num_views if name == "reference" else 1)
        assert total == pytest.approx(np.ones(len(r.text)), abs=1e-4)
    assert all(r.attention is None for r in plain)


def test_rejection_drops_the_maps_with_the_text():
    r = Reading("ab", 0.2, [0.5, 0.4], attention=np.ones((2, 4, 1, 3), np.float32))
    (out,) = reject_below([r], 0.5)
    assert out.rejected and out.text == "" and out.attention is None


def test_onnx_reader_says_in_one_line_that_it_has_no_attention(tiny_onnx):
    reader = OnnxReader(tiny_onnx[1])
    with pytest.raises(ConfigError, match="PyTorch reader only"):
        reader.read(IMAGES[:1], attention=True)


@pytest.mark.parametrize("inputs, names", [
    (["a/x.png", "b/x.png", "x.jpg"], ["x", "x-2", "x-3"]),
    (["x.png", "x-2.png", "b/x.png"], ["x", "x-2", "x-3"]),   # an input called x-2 is not overwritten
    (["A.png", "a.png"], ["A", "a-2"]),                        # case-insensitive file systems
    ([".png", "dir/", ".."], ["png", "dir", "image"]),
])
def test_picture_names_never_collide(inputs, names):
    assert show_names(inputs, Path("out")) == [Path("out") / f"{n}.attention.png" for n in names]


def test_payload_is_small_integers_scaled_to_each_peak():
    maps = np.zeros((2, 4, 2, 3), np.float32)
    maps[0, 1, 0, 2], maps[0, 0, 1, 1] = 0.8, 0.2
    maps[1] = 1 / maps[1].size
    out = attention_payload(maps)
    assert out["shape"] == [4, 2, 3] and out["levels"] == 255 and out["encoding"] == "base64 uint8"
    decoded = [list(base64.b64decode(m)) for m in out["maps"]]
    assert len(decoded) == 2 and all(len(m) == 24 for m in decoded)
    assert decoded[0][1 * 6 + 0 * 3 + 2] == 255 and decoded[0][0 * 6 + 1 * 3 + 1] == 64
    assert set(decoded[1]) == {255}
    assert attention_payload(np.zeros((0, 4, 2, 3)))["maps"] == []
    assert normalise(np.zeros((1, 2, 2))).max() == 0  # an all-zero map stays zero


def test_pictures_have_a_panel_per_character(predictors):
    p = predictors["default"]
    image = Image.open(IMAGES[0]).convert("RGB")
    (r,) = p.read([image], attention=True)
    strip = attention_strip(image, r, p.spec, view_px=20, columns=4)
    assert strip.height == -(-len(r.text) // 4) * (20 + 20 // 3 + 10)
    picture = render_reading(image, r, p.spec, title="x")
    assert picture.width >= 600 and picture.height > strip.height
    assert attention_strip(image, Reading("", 0.1, [], attention=np.zeros((0, 4, 1, 4))), p.spec) is None
    assert render_reading(image, Reading("ab", 0.5, [0.5, 1.0]), p.spec).height > 150  # no maps: still drawn


def test_read_show_writes_one_picture_per_image(tmp_path, capsys):
    from seqocr.charset import Charset

    ckpt = tiny_checkpoint(tmp_path, "default", Charset.fsns())
    out = tmp_path / "new" / "pictures"
    assert main(["read", "--checkpoint", str(ckpt), "--show", str(out), IMAGES[0], IMAGES[0], IMAGES[1]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert sorted(p.name for p in out.iterdir()) == ["sign-0000000-2.attention.png", "sign-0000000.attention.png",
                                                      "sign-0000001.attention.png"]
    assert Image.open(out / "sign-0000001.attention.png").width >= 600


def test_read_show_errors_are_one_line(tmp_path, capsys):
    afile = tmp_path / "file"
    afile.write_text("x")
    for args, message in [
        (["--show", str(tmp_path / "out"), "--onnx", "model.onnx"], "model.onnx: ONNX model not found"),
        (["--show", str(afile)], "exists and is not a folder"),
    ]:
        assert main(["read", *args, IMAGES[0]]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
