"""What `seqocr read` and the readers take in (folders, stdin, arrays, PIL images) and how they treat a reading
below --min-confidence, in `read`, `eval` and the Python API."""

import io
import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from seqocr.cli import main
from seqocr.inference.onnx_reader import SHIPPED_ONNX
from tests.helpers import SAMPLES, tiny_checkpoint

SAMPLE_IMAGES = sorted(str(p) for p in SAMPLES.glob("sign-*.png"))
ONNX = ["--onnx", str(SHIPPED_ONNX)]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from seqocr.charset import Charset

    return str(tiny_checkpoint(tmp_path_factory.mktemp("read"), "default", Charset.fsns()))


def read_rows(capsys) -> list[list[str]]:
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


def just_below_the_top(confidences: list[float]) -> float:
    """A threshold between the two highest distinct confidences: at least one reading kept, one rejected."""
    top = sorted(set(confidences), reverse=True)
    assert len(top) >= 2, confidences
    return (top[0] + top[1]) / 2


# --- the Python API ------------------------------------------------------------------------------------------------

def test_predictor_reads_paths_pil_images_and_numpy_arrays_alike(ckpt):
    from seqocr import Predictor

    reader = Predictor.from_checkpoint(ckpt)
    pil = [Image.open(p) for p in SAMPLE_IMAGES[:3]]
    arrays = [np.asarray(im.convert("RGB")) for im in pil]
    by_path, by_pil, by_array = (reader.read(x, batch_size=2) for x in (SAMPLE_IMAGES[:3], pil, arrays))
    assert [r.text for r in by_path] == [r.text for r in by_pil] == [r.text for r in by_array]
    assert [r.confidence for r in by_path] == pytest.approx([r.confidence for r in by_array], rel=1e-6, abs=0)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((20, 30, 3), np.float32), r"image 1: a numpy array must be \(H, W, 3\) uint8 RGB, got \(20, 30, 3\) float32"),
    (np.zeros((20, 30), np.uint8), r"image 1: .* got \(20, 30\) uint8"),
    (np.zeros((20, 30, 4), np.uint8), r"image 1: .* got \(20, 30, 4\) uint8"),
    (42, "image 1: expected a path, a PIL image or a numpy array, got int"),
])
def test_a_wrong_input_names_its_index(ckpt, bad, message):
    from seqocr import Predictor
    from seqocr.errors import DataError

    with pytest.raises(DataError, match=message):
        Predictor.from_checkpoint(ckpt).read([SAMPLE_IMAGES[0], bad])


def test_the_onnx_reader_takes_arrays_too():
    from seqocr.inference.onnx_reader import OnnxReader

    reader = OnnxReader(SHIPPED_ONNX)
    array = np.asarray(Image.open(SAMPLE_IMAGES[0]).convert("RGB"))
    assert [r.text for r in reader.read([array, Image.open(SAMPLE_IMAGES[0])])] == \
        [reader.read([SAMPLE_IMAGES[0]])[0].text] * 2


# --- read: folders and stdin ---------------------------------------------------------------------------------------

def test_read_a_folder_reads_its_images_recursively_sorted(ckpt, tmp_path, capsys):
    folder = tmp_path / "signs"
    (folder / "b" / "deeper").mkdir(parents=True)
    names = ["a.png", "b/deeper/c.JPG", "b/x.Png", "z.webp", "y.tiff"]
    for name in names:
        fmt = {".jpg": "JPEG", ".webp": "WEBP", ".tiff": "TIFF"}.get((folder / name).suffix.lower(), "PNG")
        Image.open(SAMPLE_IMAGES[0]).convert("RGB").save(folder / name, fmt)
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    (folder / "b" / "labels.tsv").write_text("a.png\tRue\n", encoding="utf-8")
    assert main(["read", "--checkpoint", ckpt, str(folder), SAMPLE_IMAGES[1]]) == 0
    rows = read_rows(capsys)
    assert [r[0] for r in rows] == [str(folder / n) for n in ("a.png", "b/deeper/c.JPG", "b/x.Png", "y.tiff",
                                                              "z.webp")] + [SAMPLE_IMAGES[1]]


def test_read_dash_reads_image_paths_from_stdin(ckpt, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{SAMPLE_IMAGES[2]}\n\n{SAMPLE_IMAGES[0]}\r\n"))
    assert main(["read", "--checkpoint", ckpt, "-", SAMPLE_IMAGES[1], "--json"]) == 0
    assert [json.loads(line)["image"] for line in capsys.readouterr().out.splitlines()] == \
        [SAMPLE_IMAGES[2], SAMPLE_IMAGES[0], SAMPLE_IMAGES[1]]


def test_an_empty_folder_or_stdin_is_an_error_and_the_rest_is_still_read(ckpt, tmp_path, monkeypatch, capsys):
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert main(["read", "--checkpoint", ckpt, str(tmp_path / "empty"), "-", SAMPLE_IMAGES[0]]) == 1
    out, err = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.splitlines()] == [SAMPLE_IMAGES[0]]
    assert err.splitlines() == [
        f"seqocr: error: {tmp_path / 'empty'}: a folder with no image files (png, jpg, jpeg, bmp, gif, tif, tiff, webp)",
        "seqocr: error: -: no image paths on stdin"]
    assert main(["read", "--checkpoint", ckpt, str(tmp_path / "empty")]) == 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("n, tty, bar", [(51, True, True), (50, True, False), (51, False, False)])
def test_a_progress_bar_only_for_many_images_on_a_terminal(ckpt, tmp_path, monkeypatch, capsys, n, tty, bar):
    for i in range(n):
        shutil.copy(SAMPLE_IMAGES[0], tmp_path / f"{i:03d}.png")
    err = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["read", "--checkpoint", ckpt, str(tmp_path), "--batch-size", "16"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == n
    assert (f"/{n}" in err.getvalue() and "image" in err.getvalue()) == bar, err.getvalue()


# --- --min-confidence ----------------------------------------------------------------------------------------------

def test_read_json_carries_char_probs_and_rejects_below_min_confidence(capsys):
    assert main(["read", *ONNX, "--json", *SAMPLE_IMAGES]) == 0
    plain = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(len(r["char_probs"]) == len(r["text"]) and r["rejected"] is False for r in plain)
    threshold = just_below_the_top([r["confidence"] for r in plain])
    assert main(["read", *ONNX, "--json", "--min-confidence", str(threshold), *SAMPLE_IMAGES]) == 0
    for before, after in zip(plain, (json.loads(line) for line in capsys.readouterr().out.splitlines())):
        low = before["confidence"] < threshold
        assert after == ({**before, "text": "", "char_probs": [], "rejected": True} if low else before)
    assert main(["read", *ONNX, "--min-confidence", str(threshold), *SAMPLE_IMAGES]) == 0
    rows = read_rows(capsys)
    assert [r[1] for r in rows] == ["" if b["confidence"] < threshold else b["text"] for b in plain]
    assert [float(r[2]) for r in rows] == pytest.approx([b["confidence"] for b in plain], abs=1e-4)


def test_eval_scores_a_rejected_reading_as_empty_and_reports_coverage(tmp_path, capsys):
    from seqocr.metrics import compute_metrics

    labels, preds = str(SAMPLES / "labels.tsv"), tmp_path / "p.tsv"
    assert main(["eval", *ONNX, "--data", labels, "--predictions", str(preds), "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert "rejected" not in before
    rows = [line.split("\t") for line in preds.read_text(encoding="utf-8").splitlines()[1:]]
    threshold = just_below_the_top([float(r[3]) for r in rows])
    kept = [r for r in rows if float(r[3]) >= threshold]
    assert main(["eval", *ONNX, "--data", labels, "--predictions", str(preds), "--json",
                 "--min-confidence", str(threshold)]) == 0
    after = json.loads(capsys.readouterr().out)
    scored = compute_metrics([r[1] for r in rows], [r[2] if float(r[3]) >= threshold else "" for r in rows])
    assert {k: after[k] for k in scored} == pytest.approx({**scored, "samples": 6})
    assert after["rejected"] == 6 - len(kept) and after["coverage"] == pytest.approx(len(kept) / 6)
    assert after["kept_accuracy"] == pytest.approx(sum(r[1] == r[2] for r in kept) / len(kept))
    assert after["ece"] == before["ece"] and after["min_confidence"] == threshold
    assert [r.split("\t")[2] for r in preds.read_text(encoding="utf-8").splitlines()[1:]] == [r[2] for r in rows]
    assert main(["eval", *ONNX, "--data", labels, "--predictions", str(preds), "--min-confidence", "1"]) == 0
    assert "rejected: 6 of 6 (confidence < 1.0), scored as empty; coverage 0.0000, exact match of the kept n/a" \
        in capsys.readouterr().out


@pytest.mark.parametrize("command", [["read", "x.png"], ["eval", "--data", "x.tsv"], ["serve"]])
def test_min_confidence_out_of_range_is_a_usage_error(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([*command, "--min-confidence", "1.5"])
    assert e.value.code == 2 and "--min-confidence: must be from 0.0 to 1.0, got 1.5" in capsys.readouterr().err
