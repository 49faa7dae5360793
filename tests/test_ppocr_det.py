"""PP-OCRv6 det small rebuilt as a PyTorch module (seqocr.model.ppocr_det), checked against ONNX Runtime running the
wheel's own file on the same inputs (issue 37 item 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from seqocr.errors import DataError
from seqocr.model.ppocr_det import PPOCRDetector, load_onnx_detector_weights
from seqocr.ppocr_files import DETECTOR, wheel_file
from tests.helpers import SAMPLES, skip_or_fail


def wheel_detector():
    try:
        return wheel_file(DETECTOR, "the detector test")
    except DataError as e:
        skip_or_fail(f"the rapidocr wheel is not installed (`make` installs it): {e}")


@pytest.fixture(scope="module")
def both():
    ort = pytest.importorskip("onnxruntime")
    path = wheel_detector()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    detector = PPOCRDetector().eval()
    load_onnx_detector_weights(detector, path)
    return detector, ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def sign_views() -> np.ndarray:
    """The bundled samples' 150-px views at 96x96, prepared as rapidocr prepares the detector's input."""
    views = []
    for path in sorted(SAMPLES.glob("sign-*.png"))[:3]:
        strip = Image.open(path).convert("RGB")
        views += [strip.crop((k * 150, 0, (k + 1) * 150, 150)).resize((96, 96), Image.Resampling.BILINEAR)
                  for k in range(4)]
    x = np.stack([np.asarray(v, np.float32) for v in views])[..., ::-1] / 255.0
    return np.ascontiguousarray(((x - 0.5) / 0.5).transpose(0, 3, 1, 2), np.float32)


@pytest.mark.parametrize("shape", ["signs", (2, 3, 96, 96), (1, 3, 64, 160)])
def test_detector_matches_onnx_runtime(both, shape):
    detector, session = both
    x = sign_views() if shape == "signs" else np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    expected = session.run(None, {"x": x})[0]
    with torch.no_grad():
        got = detector(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape == (x.shape[0], 1, *x.shape[2:])
    # a probability map: its scale is 1 where there is text (the signs reach 0.99); 1e-4 of that, or of the map's
    # own peak where it finds nothing (random pixels peak near 0.01). A wrong weight or layer is off by far more.
    assert np.abs(got - expected).max() <= 1e-4 * max(float(expected.max()), 0.01)  # measured: 1.4e-5, 1.5e-7
    if shape == "signs":
        assert expected.max() > 0.9 and ((got > 0.3) == (expected > 0.3)).all()


def test_a_wrong_weight_is_seen(both):
    detector, session = both
    x = sign_views()[:2]
    expected = session.run(None, {"x": x})[0]
    broken = PPOCRDetector().eval()
    broken.load_state_dict(detector.state_dict())
    with torch.no_grad():
        broken.outs[2].mixer.bias.add_(0.05)  # one bias of one level, slightly off
        got = broken(torch.from_numpy(x)).numpy()
    assert np.abs(got - expected).max() > 1e-3


def test_loading_detector_weights_from_another_graph_is_one_clear_error(tmp_path):
    from seqocr.model.ppocr import rapidocr_model_path

    try:
        recognizer = rapidocr_model_path()
    except DataError as e:
        skip_or_fail(f"the rapidocr wheel is not installed: {e}")
    with pytest.raises(DataError, match="PP-OCRv6_rec_small.onnx: .*not the PP-OCRv6 det small graph"):
        load_onnx_detector_weights(PPOCRDetector(), recognizer)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(DataError, match="junk.onnx: not a readable ONNX model"):
        load_onnx_detector_weights(PPOCRDetector(), tmp_path / "junk.onnx")
