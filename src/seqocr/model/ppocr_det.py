"""PP-OCRv6 det small, the text detector, as a PyTorch module, and its pretrained weights.

PP-OCRv6 det small (PaddleOCR, Apache-2.0) marks, pixel by pixel, the probability that a pixel lies in a line of
text (DBNet's probability map). Its ONNX export ships in the ``rapidocr`` wheel beside the recognizer
(``rapidocr/models/PP-OCRv6_det_small.onnx``); :func:`load_onnx_detector_weights` copies its initializers into
:class:`PPOCRDetector`, convolution by convolution, as :func:`seqocr.model.ppocr.load_onnx_weights` does for the
recognizer's backbone. A model that crops its views to their text (``model.crop: text``) holds these weights
frozen, in its own file (:mod:`seqocr.model.pixels`): the wheel is read once, when a training run starts.

Layout (read off the ONNX graph; BatchNorm is folded into every convolution as a bias):

* backbone: the recognizer's (:mod:`.ppocr`) at half the width, with downsampling of stride 2 in both directions:
  a 24-wide HGNetV2 stem (48 channels at stride 4), then four stages of RepViT-style blocks, 48, 96, 192 and 384
  channels at strides 4, 8, 16 and 32 (2, 2, 4 and 2 blocks, a squeeze-excite on every other one);
* neck: each stage's output through a 1x1 convolution to 96 channels and a residual squeeze-excite (``x + x *
  hardsigmoid(...)``, PaddlePaddle's hardsigmoid: slope 0.2), summed top-down with nearest 2x upsampling; each
  level then through a depthwise 7x7, a 1x1 to 24 channels and the same residual squeeze-excite, upsampled to
  stride 4 and concatenated (96 channels, the deepest first);
* head: 3x3 convolution -> ReLU -> 2x2 transposed convolution of stride 2 -> ReLU -> the same to 1 channel ->
  sigmoid: the probability map at the input's size.

Input: BGR (PaddleOCR reads with OpenCV), ``(x / 255 - 0.5) / 0.5``; a height and width divisible by 32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DataError, one_line
from ..ppocr_files import DETECTOR, wheel_file
from .ppocr import Block, Downsample, Stem

STAGES = ((48, (True, False)), (96, (True, False)), (192, (True, False, True, False)), (384, (True, False)))
NECK = 96   # the neck's width: 4 levels of NECK // 4 channels, concatenated
SE_RATIO = 4


class DetBackbone(nn.Module):
    """(N, 3, H, W) -> the four stages' outputs, at strides 4, 8, 16 and 32."""

    def __init__(self):
        super().__init__()
        self.stem = Stem(24)
        self.stages = nn.ModuleList()
        self.downs = nn.ModuleList()
        previous = STAGES[0][0]
        for k, (width, se) in enumerate(STAGES):
            if k:
                self.downs.append(Downsample(previous, width, stride=2))
            self.stages.append(nn.Sequential(*(Block(width, s) for s in se)))
            previous = width

    def forward(self, x: Tensor) -> list[Tensor]:
        x, out = self.stem(x), []
        for k, stage in enumerate(self.stages):
            x = stage(self.downs[k - 1](x) if k else x)
            out.append(x)
        return out

    def convs(self) -> list[nn.Module]:
        """Its convolutions in the order the graph computes them: the stem, then each stage after its downsampling."""
        parts = [self.stem, *(m for k, stage in enumerate(self.stages) for m in ((self.downs[k - 1],) if k else ())
                              + (stage,))]
        return [m for part in parts for m in part.modules() if isinstance(m, nn.Conv2d)]


class ResidualSE(nn.Module):
    """``x + x * hardsigmoid(expand(relu(reduce(mean(x)))))``, PaddlePaddle's hardsigmoid (clip(0.2 x + 0.5))."""

    def __init__(self, c: int):
        super().__init__()
        self.reduce = nn.Conv2d(c, c // SE_RATIO, 1)
        self.expand = nn.Conv2d(c // SE_RATIO, c, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = self.expand(F.relu(self.reduce(x.mean((2, 3), keepdim=True))))
        return x + x * (0.2 * s + 0.5).clamp(0.0, 1.0)


class LevelIn(nn.Module):
    """A stage's output to the neck's width: 1x1 (no bias), residual squeeze-excite."""

    def __init__(self, cin: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, NECK, 1, bias=False)
        self.se = ResidualSE(NECK)

    def forward(self, x: Tensor) -> Tensor:
        return self.se(self.conv(x))


class LevelOut(nn.Module):
    """A level of the top-down sum to a quarter of the neck's width: depthwise 7x7, 1x1 (no bias), squeeze-excite."""

    def __init__(self):
        super().__init__()
        self.mixer = nn.Conv2d(NECK, NECK, 7, padding=3, groups=NECK)
        self.conv = nn.Conv2d(NECK, NECK // 4, 1, bias=False)
        self.se = ResidualSE(NECK // 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.se(self.conv(self.mixer(x)))


class PPOCRDetector(nn.Module):
    """(N, 3, H, W) BGR in [-1, 1], H and W divisible by 32 -> (N, 1, H, W): each pixel's probability of text."""

    def __init__(self):
        super().__init__()
        self.backbone = DetBackbone()
        self.ins = nn.ModuleList(LevelIn(w) for w, _ in reversed(STAGES))  # deepest first, as the graph runs them
        self.outs = nn.ModuleList(LevelOut() for _ in STAGES)
        self.head_conv = nn.Conv2d(NECK, NECK // 4, 3, padding=1)
        self.head_up1 = nn.ConvTranspose2d(NECK // 4, NECK // 4, 2, stride=2)
        self.head_up2 = nn.ConvTranspose2d(NECK // 4, 1, 2, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        levels = [f(c) for f, c in zip(self.ins, reversed(self.backbone(x)))]   # strides 32, 16, 8, 4
        for k in range(1, len(levels)):                                            # top-down: each plus the one above
            levels[k] = levels[k] + F.interpolate(levels[k - 1], scale_factor=2.0, mode="nearest")
        fused = torch.cat([F.interpolate(f(level), scale_factor=float(2 ** (3 - k)), mode="nearest") if k < 3
                           else f(level) for k, (f, level) in enumerate(zip(self.outs, levels))], 1)
        x = F.relu(self.head_up1(F.relu(self.head_conv(fused))))
        return torch.sigmoid(self.head_up2(x))

    def convs(self) -> list[nn.Module]:
        """Every convolution in the order the ONNX graph computes them (the order of :func:`onnx_detector_convs`)."""
        neck = [m for part in (self.ins, self.outs) for m in part.modules() if isinstance(m, nn.Conv2d)]
        return [*self.backbone.convs(), *neck, self.head_conv, self.head_up1, self.head_up2]


def onnx_detector_convs(path: str | Path) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """``(name, weight, bias or None)`` of every convolution (and transposed convolution) of PP-OCRv6 det small's
    ONNX file, in graph order; the bias is the constant added right after it (PaddleOCR's folded BatchNorm)."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as e:  # noqa: BLE001 - onnx raises several kinds for a damaged file
        raise DataError(f"{path}: not a readable ONNX model ({one_line(e)})") from None
    inits = {i.name: i for i in graph.initializer}
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def following_adds(tensor: str) -> list:  # through the exporter's Identity nodes
        found = []
        for n in consumers.get(tensor, []):
            if n.op_type == "Identity":
                found += following_adds(n.output[0])
            elif n.op_type == "Add" and n.input[1] in inits:
                found.append(n)
        return found

    out = []
    for node in graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            name = node.input[1]
            weight = inits.get(name) or inits.get(alias.get(name, ""))
            if weight is None or len(node.input) > 2:
                raise DataError(f"{path}: convolution {node.name} has no constant weight or an own bias; not the "
                                "PP-OCRv6 det small graph this loader knows")
            adds = following_adds(node.output[0])
            bias = numpy_helper.to_array(inits[adds[0].input[1]]).reshape(-1) if len(adds) == 1 else None
            out.append((node.name, numpy_helper.to_array(weight), bias))
    return out


@torch.no_grad()
def load_onnx_detector_weights(detector: PPOCRDetector, path: str | Path | None = None) -> Path:
    """Copy the pretrained weights from PP-OCRv6 det small's ONNX file (the installed rapidocr wheel's by default)
    into ``detector``, convolution by convolution, checking every shape and bias. Returns the file used."""
    path = Path(path) if path else wheel_file(DETECTOR, "the text detector")
    found, mine = onnx_detector_convs(path), detector.convs()
    if len(found) != len(mine):
        raise DataError(f"{path}: {len(found)} convolutions, the detector has {len(mine)}; not the PP-OCRv6 det "
                        "small graph this loader knows")
    for (name, w, b), conv in zip(found, mine):
        if tuple(w.shape) != tuple(conv.weight.shape) or (b is None) != (conv.bias is None) \
                or (b is not None and b.shape[0] != conv.bias.shape[0]):
            raise DataError(f"{path}: {name} has weight {tuple(w.shape)} and {'a' if b is not None else 'no'} bias, "
                            f"the detector expects {tuple(conv.weight.shape)} and "
                            f"{'a' if conv.bias is not None else 'no'} bias")
        conv.weight.copy_(torch.tensor(w))
        if b is not None:
            conv.bias.copy_(torch.tensor(b))
    return path
