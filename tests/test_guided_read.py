"""Reading guided by a language model or a gazetteer through the readers users call: the PyTorch and ONNX Runtime
readers agree, the early exit of a model that reads fewer views first is kept, `read`, `eval` and the Python API
take --lm / --lexicon, and a bad file is one clear line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqocr.cli import main
from seqocr.errors import DataError
from seqocr.imaging.preprocess import eval_batch, load_image
from seqocr.inference.lm_build import build
from seqocr.inference.onnx_reader import OnnxReader
from seqocr.inference.predictor import Predictor
from tests.helpers import SAMPLES, tiny_checkpoint

NAMES = ["Rue de la Gare", "Rue du Nord", "Avenue de Dinan", "Place du Commandant Turenne", "Impasse Jacquet",
         "Rue Victor Hugo", "Boulevard Voltaire", "Allée des Tilleuls"]
IMAGES = [str(p) for p in sorted(SAMPLES.glob("sign-*.png"))]


@pytest.fixture(scope="module")
def files(tmp_path_factory, fsns_module):
    """A tiny checkpoint, a small language model and a gazetteer; the ONNX export, with its step graph, is made
    for the tests that read with ONNX Runtime (``onnx_files``): the others run under mutmut, whose trampolines cannot
    be traced into a graph."""
    root = tmp_path_factory.mktemp("guided")
    ckpt = tiny_checkpoint(root, "default", fsns_module)
    lm = build(NAMES * 3, fsns_module, order=3, min_count=1).save(root / "names.lm.npz")
    lexicon = root / "streets.txt"
    lexicon.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    return {"ckpt": ckpt, "lm": lm, "lexicon": lexicon}


@pytest.fixture(scope="module")
def onnx_files(files):
    onnx = files["ckpt"].with_name("m.onnx")
    assert main(["export", "--checkpoint", str(files["ckpt"]), "--out", str(onnx), "--beam"]) == 0
    return {**files, "onnx": onnx}


@pytest.fixture(scope="module")
def fsns_module():
    from seqocr.charset import Charset

    return Charset.fsns()


def read_json(args: list[str], capsys) -> list[dict]:
    assert main(["read", "--json", *args, *IMAGES]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_pytorch_and_onnx_runtime_read_alike_with_the_language_model_and_the_gazetteer(onnx_files, capsys):
    """The same search over the same model: the same texts, confidences and gazetteer flags from both engines;
    a reading flagged as the gazetteer's is one of its names."""
    files = onnx_files
    guide = ["--lm", str(files["lm"]), "--lm-weight", "0.5", "--lexicon", str(files["lexicon"])]
    torch_rows = read_json(["--checkpoint", str(files["ckpt"]), *guide], capsys)
    onnx_rows = read_json(["--onnx", str(files["onnx"]), *guide], capsys)
    assert [r["text"] for r in onnx_rows] == [r["text"] for r in torch_rows]
    assert [r["lexicon"] for r in onnx_rows] == [r["lexicon"] for r in torch_rows]
    np.testing.assert_allclose([r["confidence"] for r in onnx_rows], [r["confidence"] for r in torch_rows],
                               rtol=1e-3, atol=1e-6)
    assert all(r["text"] in NAMES for r in torch_rows if r["lexicon"])
    plain = read_json(["--checkpoint", str(files["ckpt"])], capsys)
    assert all("lexicon" not in r for r in plain)  # said only where a gazetteer was asked for


def test_a_gazetteer_name_fits_or_the_text_is_read_as_without_it(files, fsns_module):
    """Every reading is a name of the gazetteer (flagged) or the reading of the beam without it (not flagged)."""
    reader = Predictor.from_checkpoint(files["ckpt"], engine="torch")
    named = reader.guide(lexicon=files["lexicon"]).read(IMAGES)
    free_beam = [r.text for r in Predictor.from_checkpoint(files["ckpt"], engine="torch", beam=8).read(IMAGES)]
    assert reader.beam == 8 and len(named) == len(IMAGES)
    for r, text in zip(named, free_beam):
        assert (r.lexicon and r.text in NAMES) or (r.lexicon is False and r.text == text)


def test_the_early_exit_is_kept_and_reading_again_adds_the_next_sharpest_view(files, fsns_module):
    """With ``reread_below`` 1 every sign is read again with one view more: the guided reading then equals the
    guided reading of ``read_views`` + 1 views without the early exit (views are encoded apart, and the decoder
    is blind to their order), so the extra view is the next sharpest and the memories line up."""
    images = eval_batch([load_image(p) for p in IMAGES], Predictor.from_checkpoint(files["ckpt"], engine="torch").spec)
    again = Predictor.from_checkpoint(files["ckpt"], engine="torch", reading={"read_views": 2, "reread_below": 1.0})
    three = Predictor.from_checkpoint(files["ckpt"], engine="torch", reading={"read_views": 3})
    a = again.guide(lm=files["lm"], gate=1.0).read_arrays(images)
    b = three.guide(lm=files["lm"], gate=1.0).read_arrays(images)
    assert [r.text for r in a] == [r.text for r in b]
    np.testing.assert_allclose([r.confidence for r in a], [r.confidence for r in b], rtol=1e-4, atol=1e-7)
    once = Predictor.from_checkpoint(files["ckpt"], engine="torch", reading={"read_views": 2})
    first = Predictor.from_checkpoint(files["ckpt"], engine="torch",
                                           reading={"read_views": 2, "reread_below": 1e-300})
    assert [r.text for r in first.guide(lm=files["lm"], gate=1.0).read_arrays(images)] == \
        [r.text for r in once.guide(lm=files["lm"], gate=1.0).read_arrays(images)]  # none unsure: the first stands


@pytest.mark.parametrize("engine", ["torch", "onnx_runtime"])
def test_the_gate_keeps_confident_greedy_readings_and_searches_the_others(files, engine, request):
    """A gate of 0 keeps every greedy reading as it is; under a gate above every confidence each sign is searched
    as without a gate; a gazetteer searches every reading it does not hold, whatever the gate (a confident
    reading of what is painted may be a name the map writes otherwise); both engines alike."""
    if engine == "torch":
        reader = Predictor.from_checkpoint(files["ckpt"], engine="torch")
    else:
        reader = OnnxReader(request.getfixturevalue("onnx_files")["onnx"])
    greedy = reader.read(IMAGES)
    kept = reader.guide(lm=files["lm"], gate=0.0).read(IMAGES)
    assert [r.text for r in kept] == [r.text for r in greedy] and all(r.lexicon is None for r in kept)
    np.testing.assert_allclose([r.confidence for r in kept], [r.confidence for r in greedy], rtol=1e-5)
    under = reader.guide(lm=files["lm"], gate=0.5).read(IMAGES)  # an untrained model is never that sure
    every = reader.guide(lm=files["lm"], gate=1.0).read(IMAGES)
    assert [r.text for r in under] == [r.text for r in every] != [r.text for r in greedy]
    named = reader.guide(lexicon=files["lexicon"], gate=0.0).read(IMAGES)
    assert not any(r.text in NAMES for r in greedy) and all(r.lexicon and r.text in NAMES for r in named)


def test_the_language_model_steers_the_search_where_a_plain_beam_of_its_width_would_not(files):
    """The guided search is the plain beam search plus the language model's scores: without them it would read
    what a plain beam of the same width reads."""
    from seqocr.inference.decoding import LM_BEAM

    plain = [r.text for r in Predictor.from_checkpoint(files["ckpt"], engine="torch", beam=LM_BEAM).read(IMAGES)]
    reader = Predictor.from_checkpoint(files["ckpt"], engine="torch")
    assert [r.text for r in reader.guide(lm=files["lm"], gate=1.0).read(IMAGES)] != plain
    assert [r.text for r in reader.guide(lm=files["lm"], lm_weight=0.0, gate=1.0).read(IMAGES)] == plain


def test_eval_takes_the_language_model_and_bad_files_are_one_line(files, tmp_path, capsys):
    preds = tmp_path / "p.tsv"
    assert main(["eval", "--checkpoint", str(files["ckpt"]), "--data", str(SAMPLES / "labels.tsv"), "--json",
                 "--lm", str(files["lm"]), "--lexicon", str(files["lexicon"]), "--predictions", str(preds)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["samples"] == 6
    missing, latin1 = tmp_path / "none.npz", tmp_path / "latin1.txt"
    latin1.write_bytes("Allée\n".encode("latin-1"))
    for args, message in ((["--lm", str(missing)], f"{missing}: language model not found"),
                          (["--lexicon", str(latin1)], f"{latin1}: the lexicon is not UTF-8 text"),
                          (["--lm", str(files["lexicon"])], str(files["lexicon"]))):
        assert main(["read", "--checkpoint", str(files["ckpt"]), *args, IMAGES[0]]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert main(["read", "--checkpoint", str(files["ckpt"]), "--lm", str(files["lm"]), "--show",
                 str(tmp_path / "shows"), IMAGES[0]]) == 1
    assert "attention maps come with plain greedy reading" in capsys.readouterr().err
    assert not (tmp_path / "shows").exists()


def test_a_language_model_beside_the_model_file_guides_its_reading_unless_told_not_to(onnx_files, tmp_path, capsys):
    """``NAME.lm.npz`` beside ``NAME.onnx`` (or a checkpoint) is read with by default, as the shipped model's is:
    the same readings as ``--lm`` that file, named in --json; ``--no-lm`` / ``lm=False`` read without it;
    ``read --show`` reads greedily for its attention maps; without the step graph it is one clear line."""
    files = onnx_files
    import shutil

    from seqocr.inference.beam import step_path

    folder = tmp_path / "model"
    folder.mkdir()
    onnx, ckpt = folder / "m.onnx", folder / "m.pt"
    for source, target in zip((files["onnx"], step_path(files["onnx"]), files["ckpt"]),
                              (onnx, step_path(onnx), ckpt)):
        shutil.copy(source, target)
    shutil.copy(files["lm"], folder / "m.lm.npz")
    asked = [r.text for r in OnnxReader(files["onnx"]).guide(lm=files["lm"]).read(IMAGES)]
    plain = [r.text for r in OnnxReader(files["onnx"]).read(IMAGES)]
    assert asked != plain  # an untrained model is unsure of every sign: the language model moves some readings
    beside = OnnxReader(onnx)
    assert beside.lm_name == "m.lm.npz" and [r.text for r in beside.read(IMAGES)] == asked
    without = OnnxReader(onnx, lm=False)
    assert without.lm_name is None and [r.text for r in without.read(IMAGES)] == plain
    torch_reader = Predictor.from_checkpoint(ckpt)
    assert torch_reader.lm_name == "m.lm.npz" and [r.text for r in torch_reader.read(IMAGES)] == asked
    assert [r.text for r in Predictor.from_checkpoint(ckpt, lm=False).read(IMAGES)] == plain

    rows = read_json(["--onnx", str(onnx)], capsys)
    assert [r["text"] for r in rows] == asked and {r["lm"] for r in rows} == {"m.lm.npz"}
    rows = read_json(["--onnx", str(onnx), "--no-lm"], capsys)
    assert [r["text"] for r in rows] == plain and {r["lm"] for r in rows} == {None}
    assert main(["read", "--checkpoint", str(ckpt), "--show", str(tmp_path / "shows"), IMAGES[0]]) == 0
    assert capsys.readouterr().out.split("\t")[1] == plain[0] and (tmp_path / "shows").is_dir()
    assert main(["read", "--onnx", str(onnx), "--no-lm", "--lm", str(files["lm"]), IMAGES[0]]) == 1
    assert "--no-lm" in capsys.readouterr().err

    step_path(onnx).unlink()
    with pytest.raises(DataError) as guided:
        OnnxReader(onnx)
    assert str(guided.value) == (f"{onnx}: guided reading with ONNX Runtime needs m.step.onnx beside it; write it "
                                 "with seqocr export --beam (or read without m.lm.npz: --no-lm, lm=False)")
    with pytest.raises(DataError) as beam:
        OnnxReader(onnx, lm=False, beam=2).read(IMAGES)
    assert str(beam.value) == f"{onnx}: beam search with ONNX Runtime needs m.step.onnx beside it; write it with " \
                              "seqocr export --beam"
    assert [r.text for r in OnnxReader(onnx, lm=False).read(IMAGES)] == plain
    assert main(["read", "--onnx", str(onnx), IMAGES[0]]) == 1
    err = capsys.readouterr().err.strip()
    assert "m.step.onnx" in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_both_readers_take_the_language_models_accents_alike(onnx_files, fsns_module, tmp_path, capsys):
    """The accents are restored in the code both readers share (``decoding.readings``): with a language model that
    writes every vowel accented (fused at a weight too small to steer the search), both read the same texts, and
    not those they read as painted."""
    accented = build(["Plâ Gârd Vôltâïrê", "Împâssê Dînândând", "Rûê dê lâ Gârê"] * 5, fsns_module, order=4, min_count=1)
    lm = accented.save(tmp_path / "accented.lm.npz")
    texts = {}
    for accents in (True, False):
        got = []
        for reader in (OnnxReader(onnx_files["onnx"]), Predictor.from_checkpoint(onnx_files["ckpt"], engine="torch")):
            reader.guide(lm=lm, lm_weight=1e-6, lm_bonus=0.0, gate=1.0, accents=accents)  # the image's search
            got.append([r.text for r in reader.read(IMAGES)])
        assert got[0] == got[1]
        texts[accents] = got[0]
    assert texts[True] != texts[False] and any(set(t) & set("âêîôû") for t in texts[True])
    # the command line: the same, and --as-painted keeps the accents as read (an untrained model is unsure of every
    # sign, so the gate sends each to the search, as gate 1 did above)
    flags = ["--onnx", str(onnx_files["onnx"]), "--lm", str(lm), "--lm-weight", "1e-6", "--lm-bonus", "0"]
    assert [r["text"] for r in read_json(flags, capsys)] == texts[True]
    assert [r["text"] for r in read_json([*flags, "--as-painted"], capsys)] == texts[False]


def test_a_guided_reading_takes_the_width_asked_with_each_batch(onnx_files):
    """The service asks a width with each request (``read_pixels(..., beam=N)``): both readers' guided search reads
    at that width, not the one they were made with (here a width of 1 reads otherwise than the default)."""
    from PIL import Image

    pixels = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in IMAGES[:4]])
    texts = {}
    for name, reader in (("torch", Predictor.from_checkpoint(onnx_files["ckpt"], engine="torch")),
                         ("onnx", OnnxReader(onnx_files["onnx"]))):
        guided = reader.guide(lm=onnx_files["lm"], gate=1.0)
        texts[name] = [[r.text for r in guided.read_pixels(pixels, beam=b)] for b in (1, 8)]
    assert texts["torch"] == texts["onnx"] and texts["torch"][0] != texts["torch"][1]
