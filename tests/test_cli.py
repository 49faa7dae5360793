"""The command line end to end on a tiny model, and every kind of bad input the user can give it."""

import json

import pytest

from seqocr.cli import build_parser, main
from seqocr.inference.onnx_reader import SHIPPED_ONNX
from tests.helpers import CONFIGS, SAMPLES, write_synth_folder

TINY_CONFIG = str(CONFIGS / "tiny.yaml")
SAMPLE = str(SAMPLES / "sign-0000000.png")

TINY = ["--config", TINY_CONFIG, "--set", "train.steps=3", "--set", "train.batch_size=4",
        "--set", "data.val_size=4", "--set", "train.ckpt_every=2", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    assert main(["synth", "--n", "6", "--split", "test", "--out", str(root / "test"), "--no-progress"]) == 0
    assert main(["train", *TINY, "--set", f"train.out_dir={root / 'run'}"]) == 0
    return root


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seqocr: error: "), err
    return err[0]


def test_synth_writes_images_and_labels(trained):
    lines = (trained / "test" / "labels.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    name, text = lines[0].split("\t")
    assert (trained / "test" / name).is_file() and text


def test_train_writes_checkpoint_and_tensorboard(trained):
    assert (trained / "run" / "last.pt").is_file()
    assert any((trained / "run" / "tb").iterdir())


def test_eval_prints_every_metric_and_writes_predictions(trained, capsys):
    preds = trained / "preds.tsv"
    assert main(["eval", "--checkpoint", str(trained / "run" / "last.pt"), "--data",
                 str(trained / "test" / "labels.tsv"), "--predictions", str(preds), "--json", "--no-progress",
                 "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["samples"] == 6
    for key in ("annotation_precision", "character_precision", "annotation_precision_std",
                "character_precision_std", "aocr_sequence_accuracy", "aocr_char_accuracy", "cer", "one_minus_ned"):
        assert 0.0 <= metrics[key] <= (10.0 if key == "cer" else 1.0), key
    assert len(preds.read_text(encoding="utf-8").splitlines()) == 7  # header + every sample


def test_read_json_lines(trained, capsys):
    images = sorted(str(p) for p in (trained / "test" / "images").glob("*.png"))[:3]
    single_view = trained / "single.png"
    from PIL import Image

    Image.open(images[0]).crop((0, 0, 150, 150)).save(single_view)
    assert main(["read", "--checkpoint", str(trained / "run" / "last.pt"), "--json", *images,
                 str(single_view), "--device", "cpu"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["image"] for r in rows] == [*images, str(single_view)]
    assert all(isinstance(r["text"], str) and 0.0 <= r["confidence"] <= 1.0 for r in rows)


def test_read_reports_a_bad_image_and_still_reads_the_rest(trained, capsys):
    bad = trained / "truncated.png"
    good = min((trained / "test" / "images").glob("*.png"))
    bad.write_bytes(good.read_bytes()[:200])
    status = main(["read", "--checkpoint", str(trained / "run" / "last.pt"), str(bad), str(good),
                   str(trained / "missing.png")])
    out, err = capsys.readouterr()
    assert status == 1
    assert len(out.splitlines()) == 1 and out.startswith(str(good))
    assert "truncated.png: unreadable or truncated image" in err and "missing.png: image file not found" in err


@pytest.mark.parametrize("args, message", [
    (["train", "--config", TINY_CONFIG, "--set", "train.stepz=3"], "unknown config key 'train.stepz'"),
    (["train", "--config", TINY_CONFIG, "--set", "train.steps=abc"], "train.steps must be int"),
    (["train", "--config", "{tmp}/nope.yaml"], "nope.yaml: config file not found"),
    (["eval", "--checkpoint", "{tmp}/nope.pt", "--data", "synth", "--predictions", "{tmp}/p.tsv"],
     "nope.pt: checkpoint not found"),
    (["read", "--onnx", "{tmp}/m.onnx", "--checkpoint", "{tmp}/c.pt", "{tmp}/x.png"],
     "--onnx and --checkpoint name two models"),
    (["eval", "--data", SAMPLE, "--predictions", "{tmp}/p.tsv"],
     "sign-0000000.png: not UTF-8 (invalid start byte at byte 0); expected a labels file"),
])
def test_bad_input_is_one_line_and_exit_1(args, message, capsys, tmp_path):
    assert main([a.format(tmp=tmp_path) for a in args]) == 1
    assert message in one_error_line(capsys)


def test_resume_without_checkpoint(tmp_path, capsys):
    assert main(["train", *TINY, "--set", f"train.out_dir={tmp_path}", "--resume"]) == 1
    assert "--resume: no checkpoint at" in one_error_line(capsys)


def test_corrupt_checkpoint_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["read", "--checkpoint", str(bad), "x.png"]) == 1
    assert "bad.pt: not a readable seqocr checkpoint" in one_error_line(capsys)


def test_labels_file_problems(tmp_path, trained, capsys):
    labels = write_synth_folder(tmp_path / "d", 3)
    ckpt = str(trained / "run" / "last.pt")
    labels.write_text(labels.read_text(encoding="utf-8") + "img/0.png Rue sans tabulation\n", encoding="utf-8")
    assert main(["eval", "--checkpoint", ckpt, "--data", str(labels), "--no-progress"]) == 1
    assert "labels.tsv:4: expected path<TAB>text" in one_error_line(capsys)
    labels.write_text("img/0.png\t\nimg/1.png\t" + "x" * 40 + "\nimg/2.png\tRue 中\nimg/9.png\tRue\n",
                      encoding="utf-8")
    assert main(["eval", "--checkpoint", ckpt, "--data", str(labels), "--no-progress"]) == 1
    err = one_error_line(capsys)
    assert "skipped 4 of 4 samples" in err and "empty label" in err and "longer than 37" in err
    assert "character not in charset" in err and "image file not found" in err


def test_a_few_bad_samples_are_skipped_and_reported(tmp_path, trained, capsys):
    labels = write_synth_folder(tmp_path / "d", 4)
    labels.write_text(labels.read_text(encoding="utf-8") + "img/9.png\tRue Perdue\n", encoding="utf-8")
    (tmp_path / "d" / "img" / "1.png").write_bytes(b"not a png")
    cfg = ["train", *TINY, "--set", f"train.out_dir={tmp_path / 'run'}", "--set", f"data.train={labels}",
           "--set", "data.val=", "--set", "data.max_skip_fraction=0.5", "--set", "data.workers=0"]
    assert main(cfg) == 0
    out = capsys.readouterr()
    assert "skipped 1 of 5 samples (1 image file not found)" in out.out
    assert "labels.tsv:2 (" in out.out and "1.png): unreadable or truncated image" in out.out
    assert main(cfg[:-4] + ["--set", "data.max_skip_fraction=0.0", "--set", f"train.out_dir={tmp_path / 'run2'}"]) == 1
    assert "above the limit" in one_error_line(capsys)


def test_synth_refuses_a_finished_output_and_completes_an_interrupted_one(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["synth", "--n", "3", "--out", str(out), "--no-progress"]) == 0
    assert main(["synth", "--n", "3", "--out", str(out), "--no-progress"]) == 1
    assert "already holds a finished set" in one_error_line(capsys)
    (out / "labels.tsv").unlink()                       # as if killed before the end
    (out / "images" / "0000002.png").unlink()
    (out / "images" / ".0000001.png.tmp").write_bytes(b"half")
    assert main(["synth", "--n", "3", "--out", str(out), "--seed", "7", "--no-progress"]) == 1
    assert "holds an unfinished set of seed 0 split train" in one_error_line(capsys)
    assert main(["synth", "--n", "3", "--out", str(out), "--no-progress"]) == 0
    assert sorted(p.name for p in (out / "images").glob("*.png")) == ["0000000.png", "0000001.png", "0000002.png"]
    assert len((out / "labels.tsv").read_text(encoding="utf-8").splitlines()) == 3


def test_convert_and_pack_from_tfrecords(tmp_path, capsys):
    from tests.helpers import flip_byte, record_offsets, small_samples, write_split

    shards = write_split(tmp_path / "fsns", "test", small_samples(8), shards=2)
    assert main(["convert", "fsns", "--tfrecords", str(tmp_path / "fsns"), "--split", "test", "--out",
                 str(tmp_path / "png"), "--no-progress"]) == 0
    assert main(["pack", "--tfrecords", str(tmp_path / "fsns"), "--split", "test", "--out", str(tmp_path / "db"),
                 "--no-progress"]) == 0
    assert "8 samples" in capsys.readouterr().out
    flip_byte(shards[1], record_offsets(shards[1])[1] + 20)        # corrupt record 1 of shard 1
    args = ["pack", "--tfrecords", str(tmp_path / "fsns"), "--split", "test", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "db2")]) == 1
    assert "test-00001-of-00002:record 1 (byte" in one_error_line(capsys)
    assert not (tmp_path / "db2").exists()
    assert main([*args, "--out", str(tmp_path / "db3"), "--skip-bad"]) == 0
    assert "7 samples" in capsys.readouterr().out


def test_exported_weights_read_like_the_checkpoint_and_serve_as_the_shipped_model(trained, tmp_path, capsys,
                                                                                  monkeypatch):
    import seqocr.model.weights as ckpt

    weights = ckpt.export_weights(trained / "run" / "last.pt", tmp_path / "m.safetensors", {"note": "test"})
    images = [str(p) for p in sorted((trained / "test" / "images").glob("*.png"))[:3]]
    assert main(["read", "--checkpoint", str(trained / "run" / "last.pt"), *images]) == 0
    from_ckpt = capsys.readouterr().out
    assert main(["read", "--checkpoint", str(weights), *images]) == 0
    assert capsys.readouterr().out == from_ckpt
    monkeypatch.setattr(ckpt, "SHIPPED", weights)
    assert main(["read", "--torch", *images]) == 0  # the shipped model with PyTorch: its .safetensors file
    assert capsys.readouterr().out == from_ckpt
    assert ckpt.read_weights(weights)["info"] == {"note": "test"}
    monkeypatch.setattr(ckpt, "SHIPPED", tmp_path / "none.safetensors")
    assert main(["read", "--torch", *images]) == 1
    assert "no --checkpoint given and this install has no shipped model" in one_error_line(capsys)
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    assert main(["read", "--checkpoint", str(tmp_path / "bad.safetensors"), *images]) == 1
    assert "bad.safetensors: not a readable safetensors file" in one_error_line(capsys)


def test_convert_names_an_undecodable_png_and_a_label_outside_the_charset(tmp_path, capsys):
    from seqocr.charset import Charset
    from seqocr.data.tfrecord import encode_example, fsns_example, write_records
    from tests.helpers import small_samples

    png, text = small_samples(1)[0]
    good = fsns_example(png, text, Charset.fsns())
    broken = fsns_example(png[:40] + b"\0" * 30, text, Charset.fsns())     # header intact, data garbage
    foreign = encode_example({"image/encoded": [png], "image/format": [b"PNG"], "image/width": [16],
                              "image/orig_width": [16], "image/class": [133] * 37, "image/unpadded_class": [],
                              "image/text": ["Rue 中".encode()]})
    (tmp_path / "fsns" / "test").mkdir(parents=True)
    write_records(tmp_path / "fsns" / "test" / "test-00000-of-00001", [good, broken, foreign])
    args = ["convert", "fsns", "--tfrecords", str(tmp_path / "fsns"), "--split", "test", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 1
    assert "test-00000-of-00001:record 1: unreadable image" in one_error_line(capsys)
    assert main([*args, "--out", str(tmp_path / "b"), "--skip-bad"]) == 0
    out = capsys.readouterr().out
    assert "unreadable image" in out and "not in charset" in out
    assert len((tmp_path / "b" / "test.txt").read_text(encoding="utf-8").splitlines()) == 1


NO_CUDA = "this machine has a CUDA device, so these choices are valid here"


@pytest.mark.parametrize("args", [
    ["train", "--config", TINY_CONFIG, "--device", "cuda"],
    ["eval", "--data", "synth:n=1", "--device", "cuda:1", "--predictions", "{tmp}/p.tsv"],
    ["read", "--checkpoint", "{tmp}/never-opened.pt", "--device", "cuda", SAMPLE],
    ["serve", "--port", "0", "--device", "cuda:0"],
    ["bench", "read", "--config", TINY_CONFIG, "--model", "default", "--device", "cuda"],
])
def test_a_cuda_device_on_a_machine_without_one_is_one_line_and_exit_1(args, capsys, tmp_path):
    torch = pytest.importorskip("torch", reason="the PyTorch paths check the device")
    if torch.cuda.is_available():
        pytest.skip(NO_CUDA)
    assert main([a.format(tmp=tmp_path) for a in args]) == 1
    assert "this machine has no CUDA device" in one_error_line(capsys)


def test_device_names_are_checked_for_torch_and_onnx_runtime(capsys):
    import onnxruntime

    assert main(["read", "--device", "gpu", SAMPLE]) == 1
    assert "device 'gpu': choose cpu, cuda or cuda:N" in one_error_line(capsys)
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has a CUDA provider: --onnx --device cuda is valid here")
    assert main(["read", "--onnx", str(SHIPPED_ONNX), "--device", "cuda", SAMPLE]) == 1
    assert "this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)" in one_error_line(capsys)


def test_bench_reports_throughput_and_mfu_as_json(capsys):
    assert main(["bench", "train", "--config", TINY_CONFIG, "--model", "default", "--dtype", "fp32",
                 "--steps", "1", "--warmup", "0", "--batch-size", "4", "--json", "--device", "cpu"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["dtype"] == "fp32" and row["images_per_s"] > 0 and row["peak_flops"] > 1e9
    assert row["device"] == "cpu"
    assert 0 < row["mfu"] < 1 and row["model_gflops_per_image"] > 0


def test_without_torch_read_uses_the_shipped_onnx_model_and_refuses_a_checkpoint(monkeypatch, capsys):
    import seqocr.inference.engine

    sample = SAMPLE
    assert main(["read", "--json", "--onnx", str(SHIPPED_ONNX), sample]) == 0
    with_onnx = capsys.readouterr().out
    monkeypatch.setattr(seqocr.inference.engine, "installed", lambda module: module != "torch")
    monkeypatch.setattr("seqocr.inference.predictor.Predictor.from_checkpoint", None)  # any use of torch's reader fails
    assert main(["read", "--json", sample]) == 0
    assert capsys.readouterr().out == with_onnx and json.loads(with_onnx)["text"]
    assert main(["read", "--checkpoint", "runs/x/last.pt", sample]) == 1
    assert "runs/x/last.pt: reading a PyTorch checkpoint needs torch" in one_error_line(capsys)


def test_outputs_are_never_inputs_and_existing_ones_need_force(trained, tmp_path, capsys):
    ckpt = trained / "run" / "last.pt"
    args = ["export", "--checkpoint", str(ckpt), "--out"]
    assert main([*args, str(ckpt)]) == 1
    assert "is an input of this command" in one_error_line(capsys)
    taken = tmp_path / "m.onnx"
    taken.write_bytes(b"keep me")
    assert main([*args, str(taken)]) == 1
    assert "m.onnx: exists; pass --force" in one_error_line(capsys) and taken.read_bytes() == b"keep me"
    labels = trained / "test" / "labels.tsv"
    before = labels.read_bytes()
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(labels), "--predictions", str(labels)]) == 1
    assert "is an input of this command" in one_error_line(capsys) and labels.read_bytes() == before
    blocked = tmp_path / "file"
    blocked.write_text("x")
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(labels), "--predictions",
                 str(blocked / "p.tsv")]) == 1
    assert str(blocked) in one_error_line(capsys)


def test_training_into_a_finished_run_needs_resume(trained, capsys):
    assert main(["train", *TINY, "--set", f"train.out_dir={trained / 'run'}"]) == 1
    assert one_error_line(capsys).endswith(f"{trained / 'run' / 'last.pt'}: a run is already there; continue it "
                                           "with --resume, or choose another train.out_dir (--set train.out_dir=DIR)")


@pytest.mark.parametrize("args", [["read", "--batch-size", "0", "x.png"], ["eval", "--data", "x", "--threads", "-1"],
                                  ["serve", "--port", "70000"], ["serve", "--max-images", "0"],
                                  ["export", "--out", "m.onnx", "--verify-n", "0"], ["bench", "read", "--steps", "0"]])
def test_out_of_range_numbers_are_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2 and "must be" in capsys.readouterr().err


@pytest.mark.parametrize("key, value, message", [("model.dropout", "1.5", "model.dropout must be in [0, 1)"),
                                                 ("model.hidden", "0", "model.hidden must be positive"),
                                                 ("train.lr", "-1", "train.lr must be positive"),
                                                 ("data.val_size", "-3", "data.val_size must not be negative"),
                                                 ("train.log_every", "0", "train.log_every must be positive")])
def test_config_values_out_of_range(key, value, message, tmp_path, capsys):
    assert main(["train", *TINY, "--set", f"{key}={value}", "--set", f"train.out_dir={tmp_path}"]) == 1
    assert message in one_error_line(capsys)


def test_failed_exports_and_conversions_leave_nothing_behind(trained, tmp_path, capsys):
    from seqocr.charset import Charset
    from seqocr.data.tfrecord import fsns_example, write_records
    from tests.helpers import small_samples

    out = tmp_path / "m.onnx"
    assert main(["export", "--checkpoint", str(trained / "run" / "last.pt"), "--out", str(out), "--verify",
                 "--verify-n", "2", "--tolerance", "0"]) == 1   # no runtime matches another to the last bit
    assert "the exported file(s) were removed" in capsys.readouterr().err and not out.exists()
    png, text = small_samples(1)[0]
    (tmp_path / "fsns" / "test").mkdir(parents=True)
    write_records(tmp_path / "fsns" / "test" / "test-00000-of-00001",
                  [fsns_example(png[:40] + b"\0" * 30, text, Charset.fsns())])
    assert main(["convert", "fsns", "--tfrecords", str(tmp_path / "fsns"), "--split", "test", "--skip-bad",
                 "--out", str(tmp_path / "png"), "--no-progress"]) == 1
    assert "no usable test records" in capsys.readouterr().err and not (tmp_path / "png").exists()
    assert main(["read", "--checkpoint", str(trained / "run"), "x.png"]) == 1
    assert "run: is a folder; name the checkpoint file in it" in one_error_line(capsys)


# Runs the CLI with some modules made unimportable, as in an install without the extra that provides them.
WITHOUT = "import sys; [sys.modules.__setitem__(m, None) for m in sys.argv[1].split(',')]; " \
          "from seqocr.cli import main; sys.exit(main(sys.argv[2:]))"


def run_without(modules: str, *args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", WITHOUT, modules, *args], capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("modules, args, extra", [
    ("torch", ["train", "--config", TINY_CONFIG], "torch"),
    ("torch", ["export", "--out", "{tmp}/m.onnx"], "torch"),
    ("torch", ["bench", "read"], "torch"),
    ("lmdb", ["pack", "--synth", "2", "--out", "{tmp}/db"], "data"),
    ("faker", ["synth", "--n", "2", "--out", "{tmp}/signs"], "data"),
    ("fastapi,uvicorn", ["serve", "--port", "0"], "serve"),
])
def test_a_missing_extra_is_named_in_one_line(modules, args, extra, tmp_path):
    r = run_without(modules, *[a.format(tmp=tmp_path) for a in args])
    module = modules.split(",")[0]
    from seqocr.install import install_hint

    assert r.returncode == 1 and r.stderr.splitlines() == [
        f"seqocr: error: seqocr {args[0]} needs {module}, which is not installed: {install_hint(extra)}"]


def test_pack_synth_needs_no_torch(tmp_path):
    r = run_without("torch", "pack", "--synth", "2", "--out", str(tmp_path / "db"), "--no-progress")
    assert r.returncode == 0 and (tmp_path / "db" / "data.mdb").is_file(), r.stderr


def test_a_closed_stdout_ends_read_quietly(tiny_onnx):
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)   # the reader is gone before the first line, as with `| head -0`
    try:
        r = subprocess.run([sys.executable, "-m", "seqocr", "read", "--onnx", str(tiny_onnx[1]), SAMPLE, SAMPLE],
                           stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300, check=False)
    finally:
        os.close(write_end)
    assert r.stderr == "" and r.returncode == 141


def test_read_refuses_an_image_over_max_pixels_before_decoding_it(tmp_path, capsys):
    import warnings

    from tests.helpers import png_header

    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header(13000, 13000))   # 169 million pixels: Pillow warns of a decompression bomb
    model = ["--onnx", str(SHIPPED_ONNX)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["read", *model, str(huge), SAMPLE]) == 1
        out, err = capsys.readouterr()
        assert out.startswith(f"{SAMPLE}\t") and len(out.splitlines()) == 1
        limit = 4096 * 4096
        assert err.splitlines() == [f"seqocr: error: {huge}: 13000x13000 pixels, over the limit of {limit} pixels"]
        bomb = tmp_path / "bomb.png"
        bomb.write_bytes(png_header(20000, 20000))  # over Pillow's own guard, which refuses it before seqocr can
        assert main(["read", *model, str(bomb)]) == 1
        assert one_error_line(capsys) == f"seqocr: error: {bomb}: 400000000 pixels, over the limit of {limit} pixels"
        assert main(["read", *model, "--max-pixels", str(13000 * 13000), str(huge)]) == 1
        assert "huge.png: unreadable or truncated image" in one_error_line(capsys)
    assert not caught, [str(w.message) for w in caught]


def test_export_refuses_a_folder_that_does_not_exist(tmp_path, capsys):
    out = tmp_path / "no" / "such" / "m.onnx"
    assert main(["export", "--out", str(out)]) == 1
    assert f"{out}: the folder {out.parent} does not exist" in one_error_line(capsys)
    assert not (tmp_path / "no").exists()


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"seqocr {version('seqocr')}\n"


@pytest.mark.parametrize("command", [["train", "--config", TINY_CONFIG], ["bench", "train"]])
def test_a_set_without_equals_is_a_usage_error(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([*command, "--set", "train.steps"])
    assert e.value.code == 2 and "expected KEY=VALUE" in capsys.readouterr().err


def test_eval_json_counts_samples_as_an_integer(tiny_onnx, tmp_path, capsys):
    assert main(["eval", "--onnx", str(tiny_onnx[1]), "--data", str(SAMPLES / "labels.tsv"),
                 "--predictions", str(tmp_path / "p.tsv"), "--json"]) == 0
    samples = json.loads(capsys.readouterr().out)["samples"]
    assert samples == 6 and isinstance(samples, int)


def subcommands() -> dict:
    import argparse

    return next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_option_has_help_and_shows_its_default(command, capsys):
    import argparse

    parser = subcommands()[command]
    for action in parser._actions:
        assert action.help, f"{command} {action.option_strings or action.dest}: no help text"
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())   # argparse wraps lines
    for action in parser._actions:
        if action.default not in (None, False, argparse.SUPPRESS):
            assert f"default: {action.default})" in text or "default" in action.help, (command, action.dest)


@pytest.mark.parametrize("command", [[], *([c] for c in sorted(subcommands()))])
def test_help_is_plain_text_without_rest_markup(command, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":class:" not in text and ":func:" not in text
    if not command:
        assert "The seqocr command line: train, eval, read" in text


@pytest.mark.parametrize("model", [["--onnx", str(SHIPPED_ONNX)], []], ids=["onnx", "pytorch"])
def test_eval_names_each_sample_by_its_image_and_line(model, tmp_path, capsys):
    """The predictions file and the report say ``sign-0000002.png (…/labels.tsv:3)``, not only the line (issue 23)."""
    import shutil

    labels = tmp_path / "signs" / "labels.tsv"  # the bundled samples, one labelled wrong: the report shows a reading
    shutil.copytree(SAMPLES, labels.parent)
    lines = (SAMPLES / "labels.tsv").read_text().splitlines()
    lines[2] = "sign-0000002.png\tRue Fausse"
    labels.write_text("\n".join(lines) + "\n")
    assert main(["eval", *model, "--data", str(labels), "--predictions", str(tmp_path / "p.tsv"), "--no-progress",
                 "--report", str(tmp_path / "report")]) == 0
    rows = [line.split("\t") for line in (tmp_path / "p.tsv").read_text().splitlines()[1:]]
    assert [r[0] for r in rows] == [f"sign-000000{k}.png ({labels}:{k + 1})" for k in range(6)]
    report = (tmp_path / "report" / "report.html").read_text()  # its worst readings, named the same way
    named = [f"sign-000000{k}.png ({labels}:{k + 1})" for k in range(6)]
    assert named[2] in report and "labels.tsv:1 ·" not in report
