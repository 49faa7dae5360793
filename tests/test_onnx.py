"""ONNX export -> ONNX Runtime parity for both models, and the torch-free reader."""

import json
import os
import subprocess
import sys

import pytest
import torch

from seqocr.cli import main
from seqocr.data.synth import VERIFY_SEED, sign_images
from seqocr.errors import SeqocrError
from seqocr.inference.export import export_onnx, verify_onnx
from tests.helpers import SAMPLES, samples_from_labels, tiny_checkpoint


@pytest.fixture(scope="module")
def reference_export(tmp_path_factory):
    """A tiny reference model's checkpoint and its ONNX graphs, greedy and beam (its export is slow: the 64 greedy
    steps are unrolled)."""
    from seqocr.charset import Charset

    tmp = tmp_path_factory.mktemp("reference")
    ckpt = tiny_checkpoint(tmp, "reference", Charset.fsns())
    return ckpt, export_onnx(ckpt, tmp / "reference.onnx", beam=True)


@pytest.mark.parametrize("name", ["default", "reference"])
def test_export_then_verify(fsns, name, request):
    ckpt, out = request.getfixturevalue("reference_export" if name == "reference" else "tiny_onnx")
    result = verify_onnx(ckpt, out, sign_images(VERIFY_SEED, 6 if name == "reference" else 20), batch=4)
    assert result["texts_differ"] == 0 and result["max_char_prob_gap"] <= 1e-3
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["charset"])["chars"] == fsns.chars and meta["step"] == "7"
    assert json.loads(meta["preprocess"])["view_height"] == (16 if name == "default" else 128)


def test_the_reference_models_beam_graphs_read_what_pytorch_reads(reference_export):
    """The reference model's decoder state has no per-image entry that a beam reorders, and its step returns all
    of it."""
    from seqocr.inference.onnx_reader import OnnxReader
    from seqocr.inference.predictor import Predictor

    ckpt, out = reference_export
    image = [str(SAMPLES / "sign-0000000.png")]
    got, want = OnnxReader(out, beam=2).read(image)[0], Predictor.from_checkpoint(ckpt, beam=2).read(image)[0]
    assert got.text == want.text and got.confidence == pytest.approx(want.confidence, rel=1e-3)


def test_verify_fails_on_confidences_alone(tmp_path, tiny_onnx):
    """A graph whose confidences differ while every text agrees (here: another temperature, as if the export had
    lost it) fails --verify: the confidence gap is enforced, relative to the confidence (issue 24)."""
    ckpt, out = tiny_onnx
    state = torch.load(ckpt, weights_only=True)
    state["config"]["model"]["temperature"] = 0.9
    torch.save(state, tmp_path / "warmer.pt")
    with pytest.raises(SeqocrError, match=r"on 0 of 6 texts, largest relative gap .* in a confidence"):
        verify_onnx(tmp_path / "warmer.pt", out, sign_images(VERIFY_SEED, 6), batch=3)


def test_verify_fails_on_a_model_that_disagrees(tmp_path, tiny_onnx):
    ckpt, out = tiny_onnx
    state = torch.load(ckpt, weights_only=True)
    state["model"] = {k: v + 0.5 * torch.randn_like(v) if v.is_floating_point() else v
                      for k, v in state["model"].items()}
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(SeqocrError, match="ONNX Runtime disagrees with PyTorch"):
        verify_onnx(tmp_path / "other.pt", out, sign_images(VERIFY_SEED, 8), batch=4)


def test_cli_export_read_and_eval_with_onnx(tmp_path, fsns, capsys):
    ckpt = tiny_checkpoint(tmp_path, "default", fsns)
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(onnx_path), "--verify", "--verify-n", "8"]) == 0
    assert "verified" in capsys.readouterr().out
    images = [f"{SAMPLES}/sign-000000{i}.png" for i in range(3)]
    assert main(["read", "--checkpoint", str(ckpt), "--json", *images]) == 0
    torch_rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["read", "--onnx", str(onnx_path), "--json", *images]) == 0
    onnx_rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.pop("engine") for r in torch_rows] == ["torch"] * 3  # the same readings, each naming its engine
    assert [r.pop("engine") for r in onnx_rows] == ["onnxruntime"] * 3
    assert onnx_rows == torch_rows
    assert main(["eval", "--onnx", str(onnx_path), "--data", f"{SAMPLES}/labels.tsv", "--json",
                 "--predictions", str(tmp_path / "p.tsv")]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 6
    assert main(["read", "--onnx", str(tmp_path / "missing.onnx"), images[0]]) == 1
    assert "missing.onnx: ONNX model not found" in capsys.readouterr().err


def test_the_onnx_reader_never_imports_torch(tmp_path, tiny_onnx):
    onnx_path = tiny_onnx[1]
    # importing torch raises ImportError in this child, so any torch import on the ONNX path fails the command
    script = ("import sys; sys.modules['torch'] = None; from seqocr.cli import main; "
              f"sys.exit(main(['read', '--onnx', {str(onnx_path)!r}, '--json', {str(SAMPLES / 'sign-0000000.png')!r}]) "
              f"or main(['eval', '--onnx', {str(onnx_path)!r}, '--data', 'synth:n=4', '--json', "
              f"'--predictions', {str(tmp_path / 'p.tsv')!r}]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert json.loads(lines[0])["image"].endswith("sign-0000000.png")
    assert json.loads(lines[-1])["samples"] == 4


def test_a_reader_opened_again_on_an_unchanged_file_shares_its_session_and_a_rewritten_file_is_opened_afresh(
        tmp_path, tiny_onnx, monkeypatch):
    import shutil

    from seqocr.inference import onnx_reader
    from seqocr.inference.onnx_reader import OnnxReader

    onnx_path = tmp_path / "m.onnx"
    shutil.copy(tiny_onnx[1], onnx_path)  # its time is changed below
    first = OnnxReader(onnx_path)
    assert OnnxReader(onnx_path).session is first.session
    other = OnnxReader(onnx_path, threads=first.threads + 1)  # other threads: a session of its own
    assert other.session is not first.session
    stat = onnx_path.stat()
    os.utime(onnx_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))  # as if rewritten, with the same size
    again = OnnxReader(onnx_path)
    assert again.session is not first.session and OnnxReader(onnx_path).session is again.session
    monkeypatch.setattr(onnx_reader, "KEPT_SESSIONS", 2)
    opened = [OnnxReader(shutil.copy(onnx_path, tmp_path / f"copy{k}.onnx")).session
              for k in range(3)]  # one more than are kept: the least recently used closed
    assert len(onnx_reader._sessions) == 2
    assert OnnxReader(tmp_path / "copy1.onnx").session is opened[1]
    assert OnnxReader(tmp_path / "copy0.onnx").session is not opened[0]


def test_int8_quantized_model_keeps_its_metadata_and_reads(tmp_path, fsns, capsys):
    ckpt = tiny_checkpoint(tmp_path, "default", fsns)
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "m.onnx"), "--int8"]) == 0
    q = tmp_path / "m.int8.onnx"
    assert "int8 convolutions" in capsys.readouterr().out
    from seqocr.inference.onnx_reader import OnnxReader

    reader = OnnxReader(q)
    assert reader.metadata["quantization"].startswith("static int8 (Conv") and reader.charset.chars == fsns.chars
    readings = reader.read([f"{SAMPLES}/sign-0000000.png", f"{SAMPLES}/sign-0000001.png"])
    assert len(readings) == 2 and all(0 <= r.confidence <= 1 for r in readings)
    import onnx

    ops = [n.op_type for n in onnx.load(str(q)).graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops          # the convolutions run quantized
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_eval_onnx_and_report_read_every_source_kind(tmp_path, fsns, tiny_onnx, capsys):
    """One source registry (data.find_source) and torch-free readers for each kind: eval --onnx and eval --report read a
    labels file, an LMDB folder and a folder of FSNS TFRecords alike (issue 25: only the first two once)."""
    from seqocr.data import find_source
    from seqocr.data.lmdb_store import pack_lmdb
    from seqocr.data.tfrecord import write_fsns

    labels = SAMPLES / "labels.tsv"
    pack_lmdb(tmp_path / "db", samples_from_labels(labels), progress=False)
    rows = [line.split("\t") for line in labels.read_text(encoding="utf-8").splitlines()]
    (tmp_path / "shards").mkdir()
    write_fsns(tmp_path / "shards" / "test-00000-of-00001", [((SAMPLES / n).read_bytes(), t) for n, t in rows], fsns)
    sources = [str(labels), str(tmp_path / "db"), str(tmp_path / "shards")]
    assert [find_source(s).kind for s in sources] == ["labels", "lmdb", "tfrecords"]
    assert find_source("synth:n=2").kind == "synth"
    onnx_path = tiny_onnx[1]
    results = []
    for k, source in enumerate(sources):
        assert main(["eval", "--onnx", str(onnx_path), "--data", source, "--json", "--no-progress",
                     "--predictions", str(tmp_path / f"p{k}.tsv"), "--report", str(tmp_path / f"r{k}")]) == 0
        results.append(json.loads(capsys.readouterr().out))
        assert (tmp_path / f"r{k}" / "report.html").is_file()
    assert [r["samples"] for r in results] == [6, 6, 6]
    assert results[0]["character_precision"] == results[1]["character_precision"] == results[2]["character_precision"]


def test_export_can_read_fewer_views_and_verifies_against_pytorch_reading_as_many(tmp_path, fsns, capsys):
    """`export --read-views K`: a graph that reads the K sharpest views (the speed route of issue 22), verified
    against PyTorch reading the same K; it reads differently from the full graph; a K beyond the views, or a model
    that cannot choose views, is one error line."""
    from seqocr.inference.onnx_reader import OnnxReader

    ckpt = tiny_checkpoint(tmp_path, "default", fsns)
    out = tmp_path / "three.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out), "--read-views", "3", "--verify",
                 "--verify-n", "8"]) == 0
    assert "verified: ONNX Runtime = PyTorch" in capsys.readouterr().out
    full = export_onnx(ckpt, tmp_path / "full.onnx")
    images = sign_images(VERIFY_SEED, 8)
    three, four = OnnxReader(out).read(images), OnnxReader(full).read(images)
    assert [r.confidence for r in three] != [r.confidence for r in four]
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "five.onnx"), "--read-views", "5"]) == 1
    assert "read_views must be at most model.num_views" in capsys.readouterr().err
    assert not (tmp_path / "five.onnx").exists()
    ref = tiny_checkpoint(tmp_path, "reference", fsns)
    assert main(["export", "--checkpoint", str(ref), "--out", str(tmp_path / "r.onnx"), "--read-views", "2"]) == 1
    assert "model.read_views: not a reading option of the reference model (its reading options: none)" \
        in capsys.readouterr().err


def test_read_and_eval_read_fewer_views_of_a_checkpoint_and_an_onnx_model_keeps_its_own(tmp_path, fsns, capsys):
    """`read/eval --read-views K` with a PyTorch checkpoint read as its `export --read-views K` graph does; an
    exported graph reads the views it was exported with, so --read-views beside --onnx is one error line."""
    from seqocr.inference.onnx_reader import OnnxReader

    ckpt = tiny_checkpoint(tmp_path, "default", fsns)
    images = [str(SAMPLES / f"sign-000000{i}.png") for i in range(3)]
    assert main(["read", "--checkpoint", str(ckpt), "--read-views", "2", "--json", *images]) == 0
    two = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    graph = OnnxReader(export_onnx(ckpt, tmp_path / "two.onnx", reading={"read_views": 2})).read(images)
    assert [r["text"] for r in two] == [r.text for r in graph]
    for cli, exported in zip(two, graph):
        assert cli["char_probs"] == pytest.approx(exported.char_probs, rel=1e-3, abs=1e-5)
    assert main(["read", "--checkpoint", str(ckpt), "--json", *images]) == 0
    four = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["char_probs"] for r in four] != [r["char_probs"] for r in two]
    data = ["--data", f"{SAMPLES}/labels.tsv", "--json", "--no-progress", "--predictions", str(tmp_path / "p.tsv")]
    assert main(["eval", *data, "--checkpoint", str(ckpt), "--read-views", "2"]) == 0
    pytorch = json.loads(capsys.readouterr().out)
    assert main(["eval", *data, "--onnx", str(tmp_path / "two.onnx")]) == 0
    onnx = json.loads(capsys.readouterr().out)
    assert pytorch["samples"] == onnx["samples"] == 6
    assert pytorch["character_precision"] == pytest.approx(onnx["character_precision"])
    assert main(["read", "--onnx", str(tmp_path / "two.onnx"), "--read-views", "3", images[0]]) == 1
    assert "--read-views: " in capsys.readouterr().err


def test_a_graph_that_reads_pixels_refuses_preprocessed_arrays_in_one_line(tiny_onnx):
    import numpy as np

    from seqocr.errors import ConfigError
    from seqocr.inference.onnx_reader import OnnxReader

    reader = OnnxReader(tiny_onnx[1])
    assert reader.reads_pixels
    with pytest.raises(ConfigError) as refused:
        reader.read_arrays(np.zeros((1, *reader.spec.shape), np.float32))
    assert str(refused.value) == (f"{tiny_onnx[1]}: this graph reads the images' pixels and crops them itself; read "
                                  "it with read() or read_pixels() (N, H, W, 3) uint8")
