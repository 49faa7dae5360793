"""Model files that would run code or mislead the reader are refused with one line, before anything is read:
a ``.pt`` carrying a pickle payload (``weights_only``), and an ONNX file whose metadata contradicts its graph."""

import json
import pathlib

import pytest
import torch

from seqocr.cli import main
from seqocr.errors import DataError
from seqocr.model.weights import load_model
from tests.helpers import SAMPLES, tiny_checkpoint


class Payload:
    """Unpickling this creates ``marker``: proof that loading ran code."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_a_checkpoint_carrying_a_pickle_payload_is_refused_and_runs_nothing(tmp_path, fsns, capsys):
    good = torch.load(tiny_checkpoint(tmp_path, "default", fsns), weights_only=True)
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "evil.pt"
    torch.save({**good, "extra": Payload(marker)}, evil)
    with pytest.raises(DataError, match="refused: it holds Python objects, not just weights"):
        load_model(evil)
    assert main(["read", "--checkpoint", str(evil), str(SAMPLES / "sign-0000000.png")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "refused" in captured.err
    assert not marker.exists()


@pytest.fixture(scope="module")
def exported(tiny_onnx):
    return tiny_onnx[1]


def with_metadata(source, out, **changes):
    """A copy of the ONNX file ``source`` with metadata entries changed (values: JSON-able or str)."""
    import onnx

    proto = onnx.load(str(source))
    meta = {p.key: p.value for p in proto.metadata_props}
    for key, value in changes.items():
        meta[key] = value if isinstance(value, str) else json.dumps(value)
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(out))
    return out


def test_an_honest_onnx_file_reads_what_its_checkpoint_reads(exported):
    from seqocr.inference.onnx_reader import OnnxReader
    from seqocr.inference.predictor import Predictor

    images = [str(SAMPLES / f"sign-000000{i}.png") for i in range(3)]
    got = OnnxReader(exported).read(images)
    want = Predictor.from_checkpoint(exported.with_name("default.pt")).read(images)  # what it was exported from
    assert [r.text for r in got] == [r.text for r in want]
    assert [r.confidence for r in got] == pytest.approx([r.confidence for r in want], abs=1e-4)


@pytest.mark.parametrize("changes, message", [
    ({"charset": {"name": "abc", "chars": list("abc"), "aliases": {}}},
     "metadata has a charset of 6 tokens, the graph's output layer 136 classes"),
    ({"preprocess": {"view_height": 32, "view_width": 16, "num_views": 4}},  # the graph reads pixels (export.py)
     "metadata says the graph takes preprocessed images of (3, 32, 64), the graph takes the images' pixels"),
    ({"preprocess": {"view_height": 16, "view_width": 16, "num_views": 3, "input": "pixels"}},
     "metadata says 3 views, the graph's regions have 4"),
    ({"max_len": "12"}, "metadata says 12 decoder steps, the graph's ids has 38"),
    ({"charset": "{not json"}, "damaged metadata (JSONDecodeError"),
])
def test_an_onnx_file_whose_metadata_contradicts_its_graph_is_refused_before_reading(exported, tmp_path, capsys,
                                                                                     changes, message):
    from seqocr.inference.onnx_reader import OnnxReader

    lying = with_metadata(exported, tmp_path / "lying.onnx", **changes)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OnnxReader(lying)
    assert main(["read", "--onnx", str(lying), str(SAMPLES / "sign-0000000.png")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err
