"""The shipped model, whatever file is shipped: its ONNX and safetensors forms read the bundled sample signs alike,
and read at least the share of them that its model card states."""

from __future__ import annotations

import pytest

from seqocr import Predictor
from seqocr.inference.onnx_reader import OnnxReader
from tests.helpers import ROOT, SAMPLES

MODEL = ROOT / "src" / "seqocr" / "resources" / "model"


def stated_exact_share(card: str) -> float:
    """The exact-match share (annotation precision) a model card's metrics table states for the bundled samples,
    or, if it has no such row, for the real samples."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in card.splitlines()
            if line.lstrip().startswith("|")]
    header = next((r for r in rows if "annotation precision" in r), None)
    if header is None:
        raise ValueError("the model card has no table with an annotation precision column")
    column = header.index("annotation precision")
    table = [r for r in rows[rows.index(header) + 1:] if len(r) == len(header)]
    for wanted in ("bundled", "real"):
        row = next((r for r in table if wanted in r[0].lower()), None)
        if row is not None:
            return float(row[column])
    raise ValueError("the model card states no annotation precision for the bundled or the real samples")


CARD = """| set | samples | annotation precision | CER |
|---|---:|---:|---:|
| generated held-out | 1000 | 0.2500 | 0.29 |
| real FSNS samples | 8 | 0.1250 | 0.51 |
"""


def test_the_card_parser_prefers_the_bundled_samples_and_refuses_a_card_without_the_figure():
    assert stated_exact_share(CARD) == 0.125
    assert stated_exact_share(CARD + "| bundled samples | 6 | 0.5000 | 0.1 |\n") == 0.5
    with pytest.raises(ValueError, match="no annotation precision"):
        stated_exact_share(CARD.replace("real FSNS", "other"))
    with pytest.raises(ValueError, match="no table"):
        stated_exact_share("# a card without figures\n")


def test_the_shipped_model_reads_the_samples_alike_in_both_formats_and_as_well_as_its_card_says(monkeypatch):
    """... with nothing from the rapidocr wheel: its text detector is inside both files (the import of rapidocr,
    or a look for its files, fails here), and both cut the same regions of each image."""
    import sys

    monkeypatch.setitem(sys.modules, "rapidocr", None)
    labels = [line.split("\t") for line in (SAMPLES / "labels.tsv").read_text(encoding="utf-8").splitlines() if line]
    images = [str(SAMPLES / name) for name, _ in labels]
    torch_readings = Predictor.from_checkpoint(MODEL / "seqocr-default.safetensors").read(images)
    onnx_readings = OnnxReader(MODEL / "seqocr-default.onnx").read(images)
    from_weights = [r.text for r in torch_readings]
    assert from_weights == [r.text for r in onnx_readings]
    # the confidences too, relative to their size: a graph that lost the temperature changes them all, no text
    for a, b in zip(torch_readings, onnx_readings):
        assert b.confidence == pytest.approx(a.confidence, rel=1e-3)
        assert b.char_probs == pytest.approx(a.char_probs, rel=1e-3)
        assert a.regions is not None and abs(b.regions - a.regions).max() <= 1  # pixels of the image
    exact = sum(read == text for read, (_, text) in zip(from_weights, labels)) / len(labels)
    assert exact >= stated_exact_share((MODEL / "MODEL_CARD.md").read_text(encoding="utf-8")) - 5e-5  # 4 decimals


def test_the_shipped_onnx_file_reads_alone_with_onnxruntime_numpy_and_pillow():
    """examples/read_onnx.py imports nothing from seqocr (seqocr cannot be imported in its process here) and reads
    the samples as the ONNX Runtime reader does without the language model (greedy): the file is all a deployment
    needs."""
    import subprocess
    import sys

    images = sorted(str(p) for p in SAMPLES.glob("sign-*.png"))
    script = ("import sys, runpy; sys.modules['seqocr'] = None; sys.argv = sys.argv[1:]; "
              "runpy.run_path(sys.argv[0], run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT / "examples" / "read_onnx.py"),
                           str(MODEL / "seqocr-default.onnx"), *images], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    want = [f"{p}\t{r.text}" for p, r in zip(images, OnnxReader(MODEL / "seqocr-default.onnx", lm=False).read(images))]
    assert proc.stdout.splitlines() == want
