"""The neck (and, optionally, the CTC head) of PP-OCRv6 rec small after :class:`.ppocr.PPOCRBackbone`, as a
PyTorch module, and their pretrained weights: a frozen feature extractor that has already learnt to read lines.

Layout (read off the ONNX graph in the rapidocr wheel, from the backbone's output ``p2o.pd_op.add.64.0``;
BatchNorm is folded into every convolution as a bias; swish is ``x * sigmoid(x)``):

* average pool, kernel (3, 2), stride (3, 2), no padding: a 48-px line's 3 feature rows -> 1, the width halved;
* ``shortcut``: 1x1 conv 384 -> 120, swish; kept for the very end;
* ``reduce``: 1x1 conv 384 -> 120, swish, then ``local``: depthwise (1, 7) conv padded (0, 3), swish; the two
  are added (``reduce``'s output + ``local``'s output, tensor ``p2o.pd_op.add.65.0``);
* flattened to (N, W', 120) tokens, two pre-norm transformer blocks: LayerNorm (eps 1e-5) -> linear 120 -> 360
  (q, k, v) -> 8 heads of 15, scale 15^-0.5, softmax -> linear 120 -> 120, residual; LayerNorm (eps 1e-5) ->
  120 -> 240 -> swish -> 120, residual; then a final LayerNorm (eps 1e-6);
* back to (N, 120, 1, W') plus ``shortcut``'s output: the features (tensor :data:`NECK_OUTPUT`);
* the CTC head: linear 120 -> 18710 at every position, softmax (output ``fetch_name_0``; index 0 is PaddleOCR's
  CTC blank).

The published graph has one row after the pool (its last reshape hard-codes it). :class:`PPOCRNeck` runs on any
number of rows: the convolutions apply to every row and each output row is its own sequence, attending only
within itself. With ``row_stride=1`` the pool slides over the rows, so every window of 3 consecutive backbone rows
is read as one text line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DataError, one_line
from .ppocr import CHANNELS, OUTPUT_TENSOR, rapidocr_model_path

NECK_OUTPUT = "p2o.pd_op.add.78.0"  # the features, (N, 120, 1, W'), in the ONNX graph; the head follows
WIDTH = 120
HEADS = 8
MLP_WIDTH = 240
CLASSES = 18710  # PP-OCRv6's CTC classes, blank first
BLOCKS = 2
POOL = (3, 2)  # (rows, columns) averaged into one feature
BLOCK_NORM_EPS, FINAL_NORM_EPS = 1e-5, 1e-6
GRAPH_ORDER = {  # parameter-bearing layers in the order the graph computes them
    "norm": [f"blocks.{i}.{n}" for i in range(BLOCKS) for n in ("norm1", "norm2")] + ["norm"],
    "linear": [f"blocks.{i}.{n}" for i in range(BLOCKS) for n in ("qkv", "proj", "fc1", "fc2")] + ["head"],
}


class TransformerBlock(nn.Module):
    """Pre-norm multi-head self-attention, then a pre-norm swish MLP, each residual. (B, L, C) -> (B, L, C)."""

    def __init__(self, dim: int = WIDTH, heads: int = HEADS, hidden: int = MLP_WIDTH):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = torch.softmax((q * (c // self.heads) ** -0.5) @ k.transpose(-1, -2), dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        return x + self.fc2(F.silu(self.fc1(self.norm2(x))))


class PPOCRNeck(nn.Module):
    """(N, 384, H, W) backbone features -> (N, 120, H', W // 2) line features, H' = (H - 3) // row_stride + 1.

    ``row_stride=3`` is the published graph (a 48-px line: 3 rows -> 1); ``row_stride=1`` reads every window of 3
    consecutive rows as one line (H' = H - 2). Each output row is an independent sequence of W // 2 tokens.
    ``with_head`` adds the CTC head (:meth:`log_probs`). Deterministic: no dropout, no batch statistics."""

    def __init__(self, row_stride: int = 3, with_head: bool = False):
        super().__init__()
        if row_stride not in (1, 2, 3):
            raise ValueError(f"row_stride must be 1, 2 or 3 (the pool covers 3 rows), got {row_stride}")
        self.row_stride = row_stride
        self.shortcut = nn.Conv2d(CHANNELS, WIDTH, 1)
        self.reduce = nn.Conv2d(CHANNELS, WIDTH, 1)
        self.local = nn.Conv2d(WIDTH, WIDTH, (1, 7), padding=(0, 3), groups=WIDTH)
        self.blocks = nn.ModuleList(TransformerBlock() for _ in range(BLOCKS))
        self.norm = nn.LayerNorm(WIDTH, eps=FINAL_NORM_EPS)
        self.head = nn.Linear(WIDTH, CLASSES) if with_head else None

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != CHANNELS or x.shape[2] < POOL[0] or x.shape[3] < POOL[1]:
            raise ValueError(f"PPOCRNeck needs (N, {CHANNELS}, H >= {POOL[0]}, W >= {POOL[1]}) backbone features "
                             f"(an image at least 33 px high), got {tuple(x.shape)}")
        x = F.avg_pool2d(x, POOL, stride=(self.row_stride, POOL[1]))
        shortcut = F.silu(self.shortcut(x))
        z = F.silu(self.reduce(x))
        z = z + F.silu(self.local(z))
        n, c, h, w = z.shape
        seq = z.permute(0, 2, 3, 1).reshape(n * h, w, c)  # every row its own sequence
        for block in self.blocks:
            seq = block(seq)
        return self.norm(seq).reshape(n, h, w, c).permute(0, 3, 1, 2) + shortcut

    def log_probs(self, features: Tensor) -> Tensor:
        """The CTC head on :meth:`forward`'s (N, 120, H', W') output: (N, H', W', 18710) log-probabilities."""
        if self.head is None:
            raise ValueError("this PPOCRNeck was built without its CTC head (with_head=False)")
        return torch.log_softmax(self.head(features.permute(0, 2, 3, 1)), dim=-1)


class _Graph:
    """The nodes after the backbone's output in PP-OCRv6 rec small's ONNX file, with what the readers below ask."""

    def __init__(self, path: str | Path):
        import onnx
        from onnx import numpy_helper

        self.path, self.to_array = path, numpy_helper.to_array
        try:
            graph = onnx.load(str(path)).graph
        except Exception as e:  # noqa: BLE001 - onnx raises several kinds for a damaged file
            raise DataError(f"{path}: not a readable ONNX model ({one_line(e)})") from None
        start = next((i for i, n in enumerate(graph.node) if OUTPUT_TENSOR in n.output), None)
        if start is None:
            raise self.unknown(f"tensor {OUTPUT_TENSOR}", "is missing")
        self.nodes = graph.node[start + 1:]
        self.inits = {i.name: i for i in graph.initializer}
        self.consumers: dict[str, list] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def unknown(self, node: str, what: str) -> DataError:
        return DataError(f"{self.path}: {node} {what}; not the PP-OCRv6 rec small graph this loader knows")

    def const(self, name: str) -> np.ndarray | None:
        return self.to_array(self.inits[name]) if name in self.inits else None

    def ops(self, op: str, with_const: bool = False) -> list:
        """Every ``op`` node (with a constant second input if ``with_const``)."""
        return [n for n in self.nodes if n.op_type == op and (not with_const or (len(n.input) > 1
                                                                                  and n.input[1] in self.inits))]

    def next_op(self, node, op: str, with_const: bool = False):
        """The one ``op`` node consuming ``node``'s output (with a constant second input if ``with_const``)."""
        found = [n for n in self.consumers.get(node.output[0], []) if n.op_type == op
                 and (not with_const or (len(n.input) > 1 and n.input[1] in self.inits))]
        if len(found) != 1:
            raise self.unknown(node.name, f"is not followed by one {op}")
        return found[0]


def _pool(g: _Graph):
    """The average pool right after the backbone, checked: kernel (3, 2), stride (3, 2), no padding."""
    import onnx

    pool = g.consumers.get(OUTPUT_TENSOR, [])
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in pool[0].attribute} if len(pool) == 1 else {}
    if len(pool) != 1 or pool[0].op_type != "AveragePool" or list(attrs.get("kernel_shape", [])) != list(POOL) \
            or list(attrs.get("strides", [])) != [3, POOL[1]] or any(attrs.get("pads", [])):
        raise g.unknown(f"the node after {OUTPUT_TENSOR}", "is not a 3x2 average pool of stride (3, 2)")
    return pool[0]


def _folded_conv(g: _Graph, conv) -> tuple[str, np.ndarray, np.ndarray]:
    """conv -> BatchNormalization -> x * sigmoid(x): the convolution with the BatchNorm folded in, and the swish's
    output tensor."""
    bn = g.next_op(conv, "BatchNormalization")
    if len(conv.input) > 2 or any(name not in g.inits for name in bn.input[1:]):
        raise g.unknown(conv.name, "is not a convolution without bias followed by a constant BatchNormalization")
    gamma, beta, mean, var = (g.const(name) for name in bn.input[1:])
    eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
    scale = gamma / np.sqrt(var + eps)
    sigmoid = g.next_op(bn, "Sigmoid")
    mul = [n for n in g.consumers.get(bn.output[0], []) if n.op_type == "Mul" and sigmoid.output[0] in n.input]
    if len(mul) != 1:
        raise g.unknown(conv.name, "is not followed by a swish")
    return mul[0].output[0], g.const(conv.input[1]) * scale.reshape(-1, 1, 1, 1), beta - mean * scale


def _conv_weights(g: _Graph, pool) -> dict[str, tuple[str, np.ndarray]]:
    """``shortcut``, ``reduce`` and ``local`` told apart by their wiring (pool -> 1x1 -> depthwise, added; pool ->
    1x1, added back at the end), BatchNorm folded."""
    convs = g.ops("Conv")
    folded = {c.name: _folded_conv(g, c) for c in convs}
    local = [c for c in convs if any(a.name == "group" and a.i > 1 for a in c.attribute)]
    reduce = [c for c in convs if local and c is not local[0] and folded[c.name][0] == local[0].input[0]]
    shortcut = [c for c in convs if reduce and c is not local[0] and c is not reduce[0]]
    if len(convs) != 3 or len(local) != 1 or len(reduce) != 1 or len(shortcut) != 1 \
            or not all(c.input[0] == pool.output[0] for c in reduce + shortcut):
        raise g.unknown("the neck", f"has {len(convs)} convolutions, not pool -> 1x1 -> depthwise and pool -> 1x1")
    adds = {frozenset(n.input) for n in g.ops("Add")}
    if frozenset((folded[reduce[0].name][0], folded[local[0].name][0])) not in adds:
        raise g.unknown(local[0].name, "is not added to its input")
    if not any(folded[shortcut[0].name][0] in a for a in adds):
        raise g.unknown(shortcut[0].name, "is not added back at the end")
    out = {}
    for name, conv in (("shortcut", shortcut[0]), ("reduce", reduce[0]), ("local", local[0])):
        _, weight, bias = folded[conv.name]
        out[f"{name}.weight"], out[f"{name}.bias"] = (conv.name, weight), (conv.name, bias)
    return out


def _norm_and_linear_weights(g: _Graph) -> dict[str, tuple[str, np.ndarray]]:
    """The LayerNorms ((x - mean) / Sqrt(var + eps) * gamma + beta, epsilons checked) and the linear layers (MatMul
    by a constant, then Add a constant; weights transposed to ``nn.Linear``'s (out, in)), in graph order."""
    norms = []
    for sqrt in g.ops("Sqrt"):
        eps_add = next((n for n in g.nodes if sqrt.input[0] in n.output and n.op_type == "Add"), None)
        gamma = g.next_op(g.next_op(sqrt, "Div"), "Mul", with_const=True)
        beta = g.next_op(gamma, "Add", with_const=True)
        eps = g.const(eps_add.input[1]) if eps_add is not None and len(eps_add.input) > 1 else None
        if eps is None or eps.size != 1:
            raise g.unknown(sqrt.name, "is not a LayerNorm's square root of variance + epsilon")
        norms.append((gamma.name, float(eps), g.const(gamma.input[1]), g.const(beta.input[1])))
    linears = []
    for matmul in g.ops("MatMul", with_const=True):
        add = g.next_op(matmul, "Add", with_const=True)
        linears.append((matmul.name, g.const(matmul.input[1]).T, g.const(add.input[1])))
    if len(norms) != len(GRAPH_ORDER["norm"]) or len(linears) != len(GRAPH_ORDER["linear"]):
        raise g.unknown("the neck", f"has {len(norms)} LayerNorms and {len(linears)} linear layers, expected "
                        f"{len(GRAPH_ORDER['norm'])} and {len(GRAPH_ORDER['linear'])}")
    out = {}
    for name, (node, eps, gamma, beta) in zip(GRAPH_ORDER["norm"], norms):
        expected = FINAL_NORM_EPS if name == "norm" else BLOCK_NORM_EPS
        if not np.isclose(eps, expected, rtol=1e-3, atol=0):
            raise g.unknown(node, f"is a LayerNorm of epsilon {eps:g}, expected {expected:g}")
        out[f"{name}.weight"], out[f"{name}.bias"] = (node, gamma), (node, beta)
    for name, (node, weight, bias) in zip(GRAPH_ORDER["linear"], linears):
        out[f"{name}.weight"], out[f"{name}.bias"] = (node, weight), (node, bias)
    return out


def _check_attention(g: _Graph) -> None:
    """q, k, v split into :data:`HEADS` heads, and q scaled by head_dim^-0.5, in each block."""
    head_dim = WIDTH // HEADS
    splits = [(n.name, g.const(n.input[1])) for n in g.ops("Reshape", with_const=True)]
    splits = [(node, [int(d) for d in shape[2:]]) for node, shape in splits if shape.size == 5]
    if len(splits) != BLOCKS:
        raise g.unknown("the attention", f"has {len(splits)} q, k, v reshapes, expected {BLOCKS}")
    for node, split in splits:
        if split != [3, HEADS, head_dim]:
            raise g.unknown(node, f"splits q, k, v as {split}, expected [3, {HEADS}, {head_dim}]")
    scales = [g.const(n.input[1]) for n in g.ops("Mul", with_const=True) if g.const(n.input[1]).size == 1]
    if len(scales) != BLOCKS or not np.allclose(scales, head_dim ** -0.5, rtol=1e-5):
        raise g.unknown("the attention", f"is scaled by {[float(s) for s in scales]}, expected {head_dim ** -0.5:.7f}")


def onnx_neck_weights(path: str | Path) -> dict[str, tuple[str, np.ndarray]]:
    """Every neck and head parameter in PP-OCRv6 rec small's ONNX file, by :class:`PPOCRNeck` state-dict name
    (``with_head=True``), each with the graph node it comes from. BatchNorm is folded into its convolution;
    MatMul weights are transposed to ``nn.Linear``'s (out, in). Checks the wiring, the pool, the LayerNorm
    epsilons and the attention heads, and raises :class:`DataError` for a graph that differs."""
    g = _Graph(path)
    out = _conv_weights(g, _pool(g))
    out.update(_norm_and_linear_weights(g))
    _check_attention(g)
    return out


@torch.no_grad()
def load_onnx_neck_weights(neck: PPOCRNeck, path: str | Path | None = None) -> Path:
    """Copy the pretrained weights from PP-OCRv6 rec small's ONNX file (the installed rapidocr wheel's by default)
    into ``neck`` (and its head, if it has one), checking every shape. Returns the file used."""
    path = Path(path) if path else rapidocr_model_path()
    found = onnx_neck_weights(path)
    for name, param in neck.state_dict().items():
        node, value = found[name]
        if tuple(value.shape) != tuple(param.shape):
            raise DataError(f"{path}: {node} has a weight of shape {tuple(value.shape)} for {name}, the neck expects "
                            f"{tuple(param.shape)}")
        param.copy_(torch.tensor(value, dtype=torch.float32))
    return path
