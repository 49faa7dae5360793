"""The convolutional backbone of PP-OCRv6 rec small, as a named PyTorch module, and its pretrained weights.

PP-OCRv6 rec small (PaddleOCR, Apache-2.0) is trained on millions of real text lines. Its ONNX export ships inside
the ``rapidocr`` wheel (3.10, ``rapidocr/models/PP-OCRv6_rec_small.onnx``); :func:`load_onnx_weights` copies the
backbone's initializers from that file into :class:`PPOCRBackbone`. The backbone ends at tensor
``p2o.pd_op.add.64.0`` (384 channels at stride 16 in height and 4 in width); the SVTR neck and CTC head after it
are not used. It has no reshape, so it runs at any input size (128x128 -> 384x8x32).

Layout (read off the ONNX graph; BatchNorm is folded into every convolution as a bias):

* stem (HGNetV2's): 3x3/2 conv -> ReLU, then two branches: 2x2 conv -> ReLU -> 2x2 conv -> ReLU, and a 2x2
  stride-1 max-pool, both padded SAME_UPPER (one row and column at the end); concatenated, 3x3/2 conv -> ReLU,
  1x1 conv -> ReLU: 96 channels at stride 4;
* three stages of RepViT-style blocks, 96 -> 192 -> 384 channels (3, 6 and 2 blocks): a depthwise 3x3 token
  mixer (its identity branch folded in), a squeeze-excite on every other block, and a residual 1x1 -> GELU -> 1x1
  feed-forward at twice the width; between stages a depthwise 3x3 conv of stride (2, 1), then 1x1 -> GELU -> 1x1
  to the new width.

Input: BGR (PaddleOCR reads with OpenCV), normalised to [-1, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DataError
from ..ppocr_files import RECOGNIZER, wheel_file

OUTPUT_TENSOR = "p2o.pd_op.add.64.0"  # the backbone's last tensor in the ONNX graph
CHANNELS = 384
STRIDE = (16, 4)  # (height, width)
STAGES = ((96, (True, False, False)), (192, (True, False) * 3), (384, (True, False)))  # (width, SE per block)


class SqueezeExcite(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.reduce = nn.Conv2d(c, c // 4, 1)
        self.expand = nn.Conv2d(c // 4, c, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = F.relu(self.reduce(x.mean((2, 3), keepdim=True)))
        return x * F.hardsigmoid(self.expand(s))


class Block(nn.Module):
    """Depthwise 3x3 token mixer (+ squeeze-excite), then a residual feed-forward 1x1 -> GELU -> 1x1."""

    def __init__(self, c: int, se: bool):
        super().__init__()
        self.mixer = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.se = SqueezeExcite(c) if se else None
        self.ffn_in = nn.Conv2d(c, 2 * c, 1)
        self.ffn_out = nn.Conv2d(2 * c, c, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.mixer(x)
        if self.se is not None:
            x = self.se(x)
        return x + self.ffn_out(F.gelu(self.ffn_in(x)))


class Downsample(nn.Module):
    """Depthwise 3x3 of stride ``stride`` ((2, 1) in the recognizer, 2 in the detector), then 1x1 -> GELU -> 1x1 to
    the next stage's width."""

    def __init__(self, cin: int, cout: int, stride: int | tuple[int, int] = (2, 1)):
        super().__init__()
        self.mixer = nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin)
        self.ffn_in = nn.Conv2d(cin, cout, 1)
        self.ffn_out = nn.Conv2d(cout, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.ffn_out(F.gelu(self.ffn_in(self.mixer(x))))


def pad_end(x: Tensor, value: float = 0.0) -> Tensor:
    """ONNX's SAME_UPPER for a 2x2 window of stride 1: one row and one column after the input."""
    return F.pad(x, (0, 1, 0, 1), value=value)


class Stem(nn.Module):
    """HGNetV2's stem, ``width`` channels wide (48 in the recognizer, 24 in the detector): 2 * width out, stride 4."""

    def __init__(self, width: int = 48):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(3, w, 3, stride=2, padding=1)
        self.conv2a = nn.Conv2d(w, w // 2, 2)
        self.conv2b = nn.Conv2d(w // 2, w, 2)
        self.conv3 = nn.Conv2d(2 * w, w, 3, stride=2, padding=1)
        self.conv4 = nn.Conv2d(w, 2 * w, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.conv1(x))
        branch = F.relu(self.conv2b(pad_end(F.relu(self.conv2a(pad_end(x))))))
        pooled = F.max_pool2d(pad_end(x, float("-inf")), 2, stride=1)
        x = F.relu(self.conv3(torch.cat([pooled, branch], 1)))
        return F.relu(self.conv4(x))


class PPOCRBackbone(nn.Module):
    """(N, 3, H, W) BGR in [-1, 1] -> (N, 384, ceil(H/16), ceil(W/4)). ``stages`` lists the module names in
    order (``stem``, ``stage1``, ``down1``, ``stage2``, ``down2``, ``stage3``) for partial unfreezing."""

    def __init__(self):
        super().__init__()
        self.stem = Stem()
        (c1, se1), (c2, se2), (c3, se3) = STAGES
        self.stage1 = nn.Sequential(*(Block(c1, s) for s in se1))
        self.down1 = Downsample(c1, c2)
        self.stage2 = nn.Sequential(*(Block(c2, s) for s in se2))
        self.down2 = Downsample(c2, c3)
        self.stage3 = nn.Sequential(*(Block(c3, s) for s in se3))
        self.stages = ("stem", "stage1", "down1", "stage2", "down2", "stage3")

    def forward(self, x: Tensor) -> Tensor:
        for name in self.stages:
            x = getattr(self, name)(x)
        return x

    def convs(self) -> list[nn.Conv2d]:
        """Every convolution in the order the ONNX graph computes them (the order of :func:`onnx_convs`)."""
        return [m for m in self.modules() if isinstance(m, nn.Conv2d)]


def rapidocr_model_path() -> Path:
    """The PP-OCRv6 rec small ONNX file of the installed rapidocr wheel."""
    return wheel_file(RECOGNIZER, "the pretrained backbone")


def onnx_convs(path: str | Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, weight, bias)`` of every convolution up to the backbone's output, in graph order. The bias is the
    constant added right after the convolution (PaddleOCR's folded BatchNorm)."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as e:  # noqa: BLE001 - onnx raises several kinds for a damaged file
        raise DataError(f"{path}: not a readable ONNX model ({e})") from None
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    out = []
    for node in graph.node:
        if node.op_type == "Conv":
            weight = numpy_helper.to_array(inits[node.input[1]])
            adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add" and n.input[1] in inits]
            if len(node.input) > 2 or len(adds) != 1:
                raise DataError(f"{path}: convolution {node.name} is not followed by one bias add; "
                                "not the PP-OCRv6 rec small graph this loader knows")
            out.append((node.name, weight, numpy_helper.to_array(inits[adds[0].input[1]]).reshape(-1)))
        if OUTPUT_TENSOR in node.output:
            return out
    raise DataError(f"{path}: no tensor {OUTPUT_TENSOR}; not the PP-OCRv6 rec small graph this loader knows")


@torch.no_grad()
def load_onnx_weights(backbone: PPOCRBackbone, path: str | Path | None = None) -> Path:
    """Copy the pretrained weights from PP-OCRv6 rec small's ONNX file (the installed rapidocr wheel's by default)
    into ``backbone``, convolution by convolution, checking every shape. Returns the file used."""
    path = Path(path) if path else rapidocr_model_path()
    found, mine = onnx_convs(path), backbone.convs()
    if len(found) != len(mine):
        raise DataError(f"{path}: {len(found)} convolutions before {OUTPUT_TENSOR}, the backbone has {len(mine)}")
    for (name, w, b), conv in zip(found, mine):
        if tuple(w.shape) != tuple(conv.weight.shape) or b.shape[0] != conv.out_channels:
            raise DataError(f"{path}: {name} has weight {tuple(w.shape)}, the backbone expects "
                            f"{tuple(conv.weight.shape)}")
        conv.weight.copy_(torch.tensor(w))
        conv.bias.copy_(torch.tensor(b))
    return path


def extract_onnx_backbone(path: str | Path, out: str | Path) -> Path:
    """Cut the backbone out of PP-OCRv6 rec small's ONNX file (input ``x`` to :data:`OUTPUT_TENSOR`), with the
    batch, height and width left free: the reference against which :class:`PPOCRBackbone` is checked."""
    import onnx

    onnx.utils.extract_model(str(path), str(out), ["x"], [OUTPUT_TENSOR])
    model = onnx.load(str(out))
    for k, dim in enumerate(model.graph.input[0].type.tensor_type.shape.dim):
        if k != 1:
            dim.ClearField("dim_value")
            dim.dim_param = "nchw"[k]
    model.graph.output[0].type.tensor_type.ClearField("shape")
    onnx.save(model, str(out))
    return Path(out)
