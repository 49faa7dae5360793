"""Pillow's bilinear resize as tensor operations: regions of images resized to a fixed size, many at once, in a graph.

The readers used to cut and resize views with Pillow (``view.crop(box).resize(size, BILINEAR)``); the model now does
it inside its own forward and ONNX graph, on the image's pixels, with the same arithmetic, so that it reads the same
pixels. Output pixel ``i`` of a region ``[lo, hi)`` resized to ``out`` is the normalised triangle-weighted sum of the
source pixels within ``support = max(1, scale)`` of its centre ``lo + (i + 0.5) * scale`` (``scale = (hi - lo) /
out``): interpolation when enlarging, an average over the pixels it covers when shrinking. The weights are Pillow's
fixed-point ones (22 bits) and each pass rounds to 8 bits as Pillow's does, in Pillow's order: the width first,
unless the height shrinks while the width grows (a whole 150-px view read at 128x256: Pillow 13 then starts with
the height; where both shrink it picks by a measure of its own, which this does not follow, and the other order of
the two roundings moves about a quarter of the pixels by one level). With ``exact`` the sums are float64, where
Pillow's integer sums are exact too: the same values. In float32 about one value in 500 of a shrinking pass lies
close enough to a rounding tie to come out one level off (tests/test_resample.py).

Each pass is one batched matrix product by a dense weight matrix (MatMul in ONNX), several times the multiply-adds
of Pillow's sparse loop but in one kernel call; gathering the taps (GatherElements, then a weighted sum) ran about
2x slower in ONNX Runtime (BENCHMARKS, "one graph from pixels"). The dense matrices themselves are built from each
output pixel's few taps, worked out in float64 and added into zeros (:func:`weights`). No data-dependent Python
branch: a trace keeps the batch, the image size and the regions dynamic.
"""

from __future__ import annotations

import torch
from torch import Tensor

PRECISION = float(1 << 22)  # Pillow's fixed-point weights for 8-bit images (PRECISION_BITS = 32 - 8 - 2)


def weights(lo: Tensor, hi: Tensor, out: int, size: Tensor, transposed: bool = False) -> Tensor:
    """The resampling matrix of regions ``[lo, hi)`` (float64, shape S, whole pixels) of an axis of ``size``
    pixels, each resized to ``out``: (S..., out, size) float32, row ``i`` the weights of output pixel ``i``;
    ``transposed``: (S..., size, out). The weights are Pillow's 22-bit values, exactly (at most 22 significant
    bits: float32 holds them).

    Only each output pixel's taps are computed, in float64 (K of them, ``K = ceil(2 support) + 2``, taps outside
    the triangle or the region weigh 0), and then added into a matrix of zeros (ScatterElements): the dense
    matrix's own arithmetic is one write, where working out every entry cost a dozen float64 passes over it."""
    lo, hi = lo.double().unsqueeze(-1), hi.double().unsqueeze(-1)              # (S..., 1)
    scale = (hi - lo) / out
    support = scale.clamp(min=1.0)
    center = (torch.arange(out, dtype=torch.float64, device=lo.device) + 0.5) * scale   # (S..., out), from lo
    first = torch.floor(center - support - 0.5)                                 # (S..., out): the first tap, from lo
    count = torch.ceil(2.0 * support.max()).long() + 2                          # K: enough taps for every row
    x = (first.unsqueeze(-1) + torch.arange(count, device=lo.device).double())  # (S..., out, K), from lo
    w = (1.0 - ((x - center.unsqueeze(-1) + 0.5) / support.unsqueeze(-1)).abs()).clamp(min=0.0)
    w = w * ((x >= 0) & (x < (hi - lo).unsqueeze(-1))).double()                # the region's pixels only
    w = w / w.sum(-1, keepdim=True)
    w = (torch.floor(w * PRECISION + 0.5) / PRECISION).float()                  # Pillow's rounded weights
    column = (x + lo.unsqueeze(-1)).long().clamp(min=0)                        # taps outside weigh 0: any column
    column = torch.minimum(column, (size - 1).long())
    zeros = torch.arange(size, device=lo.device).float() * 0.0                 # (size,): a traced size stays dynamic
    if transposed:
        w, column = w.transpose(-1, -2), column.transpose(-1, -2)               # (S..., K, out)
        return (zeros.unsqueeze(-1) + w[..., :1, :] * 0.0).scatter_add(-2, column, w)   # (S..., size, out)
    return (zeros + w[..., :1] * 0.0).scatter_add(-1, column, w)                # (S..., out, size)


def to_8bit(x: Tensor) -> Tensor:
    """Pillow's rounding of a pass's sums to 8 bits (values stay float). The weights are non-negative and sum to 1,
    so the sums stay within [0, 255] (up to 255 * 2^-20): no clip is needed."""
    return torch.floor(x + 0.5)


def resize_regions(tiles: Tensor, regions: Tensor, size: tuple[int, int], exact: bool = False,
                   height_first: bool = True) -> Tensor:
    """Regions of images resized as Pillow's ``image.crop(region).resize(size, BILINEAR)`` would.

    ``tiles`` (M..., C, H, W) float32 of 8-bit values; ``regions`` (S..., 4) float64 whole-pixel boxes (x0, y0, x1,
    y1) inside each, S broadcast against M (the same region for every image: S = (T,) where M = (N, T)); ``size``
    (width, height) -> (M..., C, height, width) float32 of 8-bit values. ``exact``: sums in float64 (Pillow's
    values; slower); else float32 sums, where about one value in 500 of a shrinking pass lies close enough to a
    rounding tie to come out one level off. ``height_first`` (regions (M, 4) only): a region whose width grows
    while its height shrinks is resized height first, as Pillow 13 does (those regions are resized twice); without
    it every region is resized width first."""
    shape = torch._shape_as_tensor(tiles)  # traced: the tile size stays dynamic in the graph
    ow, oh = size
    across = weights(regions[..., 0], regions[..., 2], ow, shape[-1], transposed=True).unsqueeze(-3)  # (S,1,W,ow)
    down = weights(regions[..., 1], regions[..., 3], oh, shape[-2]).unsqueeze(-3)                     # (S,1,oh,H)
    dtype = torch.float64 if exact else torch.float32
    across, down, x = across.to(dtype), down.to(dtype), tiles.to(dtype)
    out = to_8bit(down @ to_8bit(x @ across))                                  # (M..., C, oh, ow)
    if height_first:  # only the regions that need it, and one more (tile 0, kept as it is unless it is one of
        # them): ONNX Runtime's kernels are not all safe on an empty batch
        flip = (regions[:, 2] - regions[:, 0] < ow) & (regions[:, 3] - regions[:, 1] > oh)
        some = torch.cat([flip.nonzero()[:, 0], torch.zeros_like(flip[:1], dtype=torch.long)])
        again = to_8bit(to_8bit(down.index_select(0, some) @ x.index_select(0, some)) @ across.index_select(0, some))
        keep = torch.where(flip.index_select(0, some).reshape(-1, 1, 1, 1), again, out.index_select(0, some))
        out = out.index_put((some,), keep)
    return out.float()
