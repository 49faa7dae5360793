"""Beam reading: beam 1 against greedy, the hypotheses' scores against the model's own teacher-forced probabilities,
ONNX Runtime against PyTorch, and --beam on the faces."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from seqocr.charset import EOS
from seqocr.cli import main
from seqocr.errors import ConfigError, DataError
from seqocr.inference.beam import MAX_BEAM, beam_search, step_path
from seqocr.inference.export import export_onnx
from seqocr.inference.onnx_reader import OnnxReader
from seqocr.inference.predictor import Predictor, beam_read, greedy_read
from seqocr.model import build_model
from tests.helpers import SAMPLES, tiny_checkpoint, tiny_model_config

IMAGES = [str(SAMPLES / f"sign-000000{i}.png") for i in range(6)]


@pytest.fixture(scope="module")
def tiny(fsns_module):
    torch.manual_seed(3)
    model = build_model(tiny_model_config(max_len=10), len(fsns_module)).eval()
    return model, torch.randn(5, 3, 16, 64)


@pytest.fixture(scope="module")
def fsns_module():
    from seqocr.charset import Charset

    return Charset.fsns()


def test_beam_one_is_greedy(tiny, fsns_module):
    model, images = tiny
    greedy, beam = greedy_read(model, images, fsns_module), beam_read(model, images, fsns_module, 1)
    assert [r.text for r in beam] == [r.text for r in greedy]
    for a, b in zip(greedy, beam):  # the same tokens; their probabilities exponentiated by numpy, not torch
        np.testing.assert_allclose(b.char_probs, a.char_probs, rtol=1e-6)
        assert b.confidence == pytest.approx(a.confidence, rel=1e-5)
    reader = Predictor(model, fsns_module, None)
    array = images.numpy()
    assert reader.read_arrays(array, beam=1) == reader.read_arrays(array)  # the reader's beam 1 *is* greedy


@pytest.mark.parametrize("beam", [2, 4])
def test_hypotheses_score_what_the_model_gives_them(tiny, fsns_module, beam):
    """Teacher-forcing the model with the beam's tokens gives back their probabilities: the state that each
    hypothesis carried was its own (reordered right), and the confidence is the product of those probabilities."""
    model, images = tiny
    with torch.no_grad():
        from seqocr.inference.predictor import TorchSteps

        ids, probs = beam_search(TorchSteps(model, images, beam), len(images), beam, model.max_len)
        logp = model(images, torch.from_numpy(ids)).logp                   # (B, T, C), teacher-forced
    forced = logp.gather(2, torch.from_numpy(ids).unsqueeze(2)).squeeze(2).exp().numpy()
    ended = np.cumsum(ids == EOS, 1) - (ids == EOS) > 0                     # after the first EOS: PAD, prob 1
    np.testing.assert_allclose(np.where(ended, 1.0, forced), probs, rtol=1e-4)
    readings = beam_read(model, images, fsns_module, beam)
    np.testing.assert_allclose([r.confidence for r in readings], probs.astype(np.float64).prod(1), rtol=1e-5)


def test_beam_reads_each_image_as_alone(tiny, fsns_module):
    model, images = tiny
    together = beam_read(model, images, fsns_module, 3)
    alone = [beam_read(model, images[i:i + 1], fsns_module, 3)[0] for i in range(len(images))]
    assert [r.text for r in together] == [r.text for r in alone]


def test_attention_maps_need_greedy(tiny, fsns_module):
    model, images = tiny
    with pytest.raises(ConfigError, match="greedy"):
        Predictor(model, fsns_module, None, beam=2).read_arrays(images.numpy(), attention=True)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, fsns_module):
    tmp = tmp_path_factory.mktemp("beam")
    torch.manual_seed(0)
    ckpt = tiny_checkpoint(tmp, "default", fsns_module)
    return ckpt, export_onnx(ckpt, tmp / "m.onnx", beam=True)


@pytest.mark.parametrize("beam", [1, 3])
def test_onnx_runtime_beam_reads_what_pytorch_reads(exported, beam):
    ckpt, onnx_path = exported
    a = Predictor.from_checkpoint(ckpt, beam=beam).read(IMAGES, 4)
    b = OnnxReader(onnx_path, beam=beam).read(IMAGES, 4)
    assert [r.text for r in a] == [r.text for r in b]
    np.testing.assert_allclose([r.confidence for r in a], [r.confidence for r in b], rtol=1e-3, atol=0)  # relative
    np.testing.assert_allclose(np.concatenate([r.char_probs for r in a]), np.concatenate([r.char_probs for r in b]),
                               rtol=1e-3, atol=0)


def test_the_step_graph_is_the_models_and_the_search_starts_from_the_greedy_graphs_memory(exported, tmp_path):
    import onnx

    ckpt, onnx_path = exported
    reader = OnnxReader(onnx_path)
    x = np.random.default_rng(0).integers(0, 256, (3, 16, 64, 3), dtype=np.uint8)  # a request's beam on a greedy file
    got, want = reader.read_pixels(x, beam=2), Predictor.from_checkpoint(ckpt).read_pixels(x, beam=2)
    assert reader.beam_ready and [r.text for r in got] == [r.text for r in want]
    np.testing.assert_allclose([r.confidence for r in got], [r.confidence for r in want], rtol=1e-3, atol=0)
    np.testing.assert_array_equal([r.regions for r in got], [r.regions for r in want])  # the greedy graph's regions
    lonely = tmp_path / "lonely.onnx"
    shutil.copy(onnx_path, lonely)
    with pytest.raises(DataError, match="lonely.step.onnx beside it; write it with seqocr export --beam"):
        OnnxReader(lonely, beam=2)
    assert not OnnxReader(lonely).beam_ready
    step = onnx.load(str(step_path(onnx_path)))  # the step graph of another model (its metadata says so)
    next(p for p in step.metadata_props if p.key == "model").value = "reference"
    onnx.save(step, str(step_path(lonely)))
    with pytest.raises(DataError, match="lonely.step.onnx: not the step graph of lonely.onnx"):
        OnnxReader(lonely, beam=2)
    older = onnx.load(str(onnx_path))  # a greedy graph exported before it gave a search's memory
    kept = [o for o in older.graph.output if o.name in ("ids", "probs", "regions")]
    del older.graph.output[:]
    older.graph.output.extend(kept)
    onnx.save(older, str(lonely))
    shutil.copy(step_path(onnx_path), step_path(lonely))
    assert [r.text for r in OnnxReader(lonely).read_pixels(x)] == [r.text for r in reader.read_pixels(x)]
    with pytest.raises(DataError, match="lonely.onnx: beam search .*exported before it gave it; export it again"):
        OnnxReader(lonely, beam=2)


def test_the_onnx_beam_never_imports_torch(exported):
    _, onnx_path = exported
    script = ("import sys; sys.modules['torch'] = None; from seqocr.cli import main; "
              f"sys.exit(main(['read', '--onnx', {str(onnx_path)!r}, '--beam', '3', '--json', {IMAGES[0]!r}]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["image"] == IMAGES[0]


def test_cli_beam_read_eval_and_export(exported, tmp_path, capsys):
    ckpt, onnx_path = exported
    assert main(["read", "--checkpoint", str(ckpt), "--beam", "3", "--json", *IMAGES]) == 0
    torch_rows = capsys.readouterr().out
    assert main(["read", "--onnx", str(onnx_path), "--beam", "3", "--json", *IMAGES]) == 0
    onnx_rows = capsys.readouterr().out
    assert [json.loads(x)["text"] for x in torch_rows.splitlines()] == \
        [json.loads(x)["text"] for x in onnx_rows.splitlines()]
    results = []
    for model in (["--checkpoint", str(ckpt)], ["--onnx", str(onnx_path)]):
        assert main(["eval", *model, "--beam", "2", "--data", str(SAMPLES / "labels.tsv"), "--json",
                     "--predictions", str(tmp_path / "p.tsv"), "--no-progress"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0]["samples"] == results[1]["samples"] == 6
    assert results[0]["character_precision"] == pytest.approx(results[1]["character_precision"])
    out = tmp_path / "x.onnx"
    # as a user runs it: nothing on the terminal but seqocr's own lines, none of torch's exporter warnings (issue 23)
    r = subprocess.run([sys.executable, "-m", "seqocr", "export", "--checkpoint", str(ckpt), "--out", str(out),
                        "--beam", "--verify", "--verify-n", "4"], capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0 and r.stderr == ""
    text = r.stdout
    assert step_path(out).is_file() and not out.with_name("x.encoder.onnx").exists() and "x.step.onnx" in text and "with a beam of 3" in text


@pytest.mark.parametrize("value", ["0", "-2", str(MAX_BEAM + 1), "two", "1.5"])
@pytest.mark.parametrize("command", [["read", IMAGES[0]], ["eval", "--data", "synth:n=2"], ["serve"]])
def test_a_bad_beam_is_a_usage_error(command, value, capsys):
    with pytest.raises(SystemExit) as e:
        main([*command, "--beam", value])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--beam" in err and "Traceback" not in err


def test_the_service_reads_with_the_beam_a_request_asks_for(exported):
    from fastapi.testclient import TestClient

    from seqocr.serve import create_app

    ckpt, onnx_path = exported
    reader = Predictor.from_checkpoint(ckpt)
    files = [("images", (p, open(p, "rb").read(), "image/png")) for p in IMAGES[:3]]  # noqa: SIM115
    with TestClient(create_app(reader)) as client:
        assert client.get("/healthz").json()["max_beam"] == MAX_BEAM
        for beam in (1, 3):
            got = client.post(f"/v1/read?beam={beam}", files=files).json()["results"]
            assert [r["text"] for r in got] == [r.text for r in Predictor.from_checkpoint(ckpt, beam=beam).read(
                IMAGES[:3])]
        for bad in ("0", "x", str(MAX_BEAM + 1), "²", "9" * 5000):
            r = client.post(f"/v1/read?beam={bad}", files=files)
            assert r.status_code == 400 and "beam must be an integer" in r.json()["error"]
        r = client.post("/v1/read?beam=2&attention=1", files=files)
        assert r.status_code == 400 and "greedy" in r.json()["error"]
    lonely = onnx_path.with_name("greedy-only.onnx")
    shutil.copy(onnx_path, lonely)
    with TestClient(create_app(OnnxReader(lonely))) as client:
        r = client.post("/v1/read?beam=2", files=files)
        assert r.status_code == 400 and "seqocr export --beam" in r.json()["error"]


def test_a_search_takes_the_memory_of_the_rows_it_searches_in_their_order_and_never_a_missing_one():
    from seqocr.errors import SeqocrError
    from seqocr.inference.onnx_reader import SearchStart

    memory = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)  # rows 1 and 3 of a batch
    start = SearchStart(np.array([1, 3]), memory, memory[:, 0], np.zeros((2, 1), np.float32))
    taken, state = start.take(np.array([3, 1]))
    assert np.array_equal(taken, memory[[1, 0]]) and np.array_equal(state[0], memory[[1, 0], 0])
    with pytest.raises(SeqocrError, match=r"no search memory for images \[2\]"):
        start.take(np.array([1, 2]))
