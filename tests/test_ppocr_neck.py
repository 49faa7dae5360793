"""PP-OCRv6 rec small's neck and CTC head (from the rapidocr wheel) against ONNX Runtime, the sliding-row mode,
and the loader's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqocr.errors import DataError
from seqocr.model.ppocr import PPOCRBackbone, load_onnx_weights, rapidocr_model_path
from seqocr.model.ppocr_neck import NECK_OUTPUT, PPOCRNeck, load_onnx_neck_weights
from tests.helpers import skip_or_fail

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def wheel_model():
    try:
        return rapidocr_model_path()
    except DataError as e:
        skip_or_fail(f"the rapidocr wheel is not installed (`make` installs it): {e}")


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def onnx_neck(wheel_model, tmp_path_factory):
    """The graph from input ``x`` to the neck's features, batch and width left free (the height is 48)."""
    out = tmp_path_factory.mktemp("neck") / "neck.onnx"
    onnx.utils.extract_model(str(wheel_model), str(out), ["x"], [NECK_OUTPUT])
    model = onnx.load(str(out))
    for k in (0, 3):
        dim = model.graph.input[0].type.tensor_type.shape.dim[k]
        dim.ClearField("dim_value")
        dim.dim_param = "nchw"[k]
    model.graph.output[0].type.tensor_type.ClearField("shape")
    onnx.save(model, str(out))
    return out


@pytest.fixture(scope="module")
def pretrained(wheel_model):
    backbone, neck = PPOCRBackbone().eval(), PPOCRNeck(row_stride=3, with_head=True).eval()
    load_onnx_weights(backbone)
    assert load_onnx_neck_weights(neck) == wheel_model
    return backbone, neck


@pytest.mark.parametrize("width", [320, 160])
def test_neck_and_head_match_onnx_runtime(wheel_model, onnx_neck, pretrained, width):
    backbone, neck = pretrained
    x = np.random.default_rng(width).uniform(-1, 1, (2, 3, 48, width)).astype(np.float32)
    expected = session(onnx_neck).run(None, {"x": x})[0]
    probs = session(wheel_model).run(None, {"x": x})[0]  # the full graph's softmax, fetch_name_0
    with torch.no_grad():
        features = neck(backbone(torch.from_numpy(x)))
        got = neck.log_probs(features).exp()
    assert features.shape == expected.shape == (2, 120, 1, width // 8)
    assert got.shape == (2, 1, width // 8, 18710) and probs.shape == (2, width // 8, 18710)
    # measured on CPU: 2.6e-4 (width 320) and 4.8e-5 (160) for the features (values of order 1-10),
    # 6e-6 and 4e-6 for the probabilities
    assert np.abs(features.numpy() - expected).max() <= 1e-3
    assert np.abs(got[:, 0].numpy() - probs).max() <= 1e-4


def test_sliding_rows_read_every_window_of_three_rows_as_one_line(pretrained):
    _, line_neck = pretrained
    neck = PPOCRNeck(row_stride=1).eval()
    neck.load_state_dict({k: v for k, v in line_neck.state_dict().items() if not k.startswith("head.")})
    assert neck.head is None
    x = torch.randn(2, 384, 8, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = neck(x)
        assert out.shape == (2, 120, 6, 32)
        for r in range(6):
            torch.testing.assert_close(out[:, :, r:r + 1], line_neck(x[:, :, r:r + 3]), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"H >= 3.*got \(2, 384, 2, 64\)"):
        neck(x[:, :, :2])
    with pytest.raises(ValueError, match="without its CTC head"):
        neck.log_probs(out)


def test_loading_neck_weights_from_another_graph_is_one_clear_error(tmp_path, onnx_neck):
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "conv",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    onnx.save(helper.make_model(graph), str(tmp_path / "conv.onnx"))
    with pytest.raises(DataError, match=r"conv.onnx: tensor p2o.pd_op.add.64.0 is missing; not the PP-OCRv6"):
        load_onnx_neck_weights(PPOCRNeck(), tmp_path / "conv.onnx")
    with pytest.raises(DataError, match=r"neck.onnx: the neck has 5 LayerNorms and 8 linear layers, expected 5 and 9; "
                                        "not the PP-OCRv6 rec small graph"):
        load_onnx_neck_weights(PPOCRNeck(), onnx_neck)  # cut before the head
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(DataError, match="junk.onnx: not a readable ONNX model") as e:
        load_onnx_neck_weights(PPOCRNeck(), tmp_path / "junk.onnx")
    assert "\n" not in str(e.value)


def test_the_default_model_reads_through_the_published_neck_frozen_and_exports(tmp_path, wheel_model):
    """Issue 22 item 2: ``model.neck: ppocrv6`` puts the neck, with its published weights and frozen, between the
    backbone and our encoder: every backbone row is read as the middle of a 3-row line (the edge rows repeated), the
    width halved; it trains, keeps its weights, and exports to ONNX Runtime with the same readings."""
    from seqocr.data.synth import VERIFY_SEED, sign_images
    from seqocr.errors import ConfigError
    from seqocr.inference.export import export_onnx, verify_onnx
    from seqocr.model import build_model
    from seqocr.train.loop import train
    from tests.helpers import tiny_config, tiny_model_config

    model_cfg = tiny_model_config(max_len=38, backbone="ppocrv6", view_height=32, view_width=64,
                                  backbone_weights="rapidocr", neck="ppocrv6")
    cfg = tiny_config(tmp_path, model=model_cfg.to_dict(), data={"val": ""})
    cfg.train.steps = 2
    train(cfg, progress=False)
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    published = PPOCRNeck(row_stride=1)
    load_onnx_neck_weights(published, wheel_model)
    for name, value in published.state_dict().items():
        assert torch.equal(state[f"neck.{name}"], value), name  # loaded at the start, then never trained
    model = build_model(model_cfg, 136).eval()
    model.load_state_dict(state)
    images = torch.randn(2, 3, 32, 256)
    assert model.encode(images).shape == (2, 4 * 2 * 8, 16)  # 4 views x 2 rows x 8 columns (64 / 8)
    with torch.no_grad():
        backbone = model.backbone(images[..., :64].flip(1))
        padded = torch.cat([backbone[:, :, :1], backbone, backbone[:, :, -1:]], 2)
        assert torch.allclose(model.features(images[..., :64])[0], model.cnn(published(padded)), atol=1e-5)
    onnx_path = export_onnx(tmp_path / "run" / "last.pt", tmp_path / "neck.onnx")
    result = verify_onnx(tmp_path / "run" / "last.pt", onnx_path, sign_images(VERIFY_SEED, 6), batch=3)
    assert result["images"] == 6 and result["texts_differ"] == 0
    with pytest.raises(ConfigError, match="model.neck: ppocrv6 needs"):
        from seqocr.model import check_config

        bad = tiny_config(tmp_path, model=tiny_model_config(max_len=38, neck="ppocrv6").to_dict())
        check_config(bad)
