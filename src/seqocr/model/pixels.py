"""From a sign's pixels to the model's input, as tensor operations: the views cut, each cut to its text, resized.

What :func:`seqocr.imaging.preprocess.eval_batch` does with Pillow, numpy and a second ONNX Runtime session (the text
detector, :mod:`seqocr.imaging.textcrop`), :class:`PixelFront` does inside the model's forward and its ONNX graph, so that
one graph reads a sign from its pixels and the crop that reads is the one that trains:

* the image (N, H, W, 3) uint8 is cut into tiles: ``num_views`` side by side when it is a strip (its width about
  ``num_views`` times its height, as FSNS's 600x150), else one tile, the whole image, read in every view;
* FSNS's noise tiles (a sign photographed fewer than 4 times) are found by their roughness, as
  :func:`~seqocr.imaging.preprocess.noise_free_views` does, and replaced by the real views in turn;
* with ``crop == "text"`` each tile is resized to 96x96 for PP-OCRv6's detector (:mod:`.ppocr_det`, its weights
  in the model's file), its probability map thresholded, and the box of the text grown by
  :func:`text_regions`: the union of the pixels over :data:`THRESHOLD`, widened by :data:`MARGIN`, grown to the
  view's shape, kept inside the tile, the whole tile where nothing (or a sliver) is found;
* each region is resized to the view size as Pillow resizes (:mod:`.resample`) and scaled to [-1, 1].

Every step is batched over views and signs, with no data-dependent Python branch, so the exported graph keeps the
batch and the image's size dynamic. The regions come out too, in the image's pixels, for drawing where it looked.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .resample import resize_regions

DET_SIDE = 96             # the detector's input side (a multiple of 32): as good as 128 (and 128 as 192) at half the pixels
THRESHOLD = 0.3           # rapidocr's DB threshold: a pixel of text
MIN_SIDE = 0.04           # a box under 4 % of the view in either side is a sliver, not a plate
MARGIN = (0.12, 0.08)     # widening on each side, as a share of the view (x, y): line ends are the likeliest cut
NOISE_ROUGHNESS = 60.0    # mean |difference| of horizontal neighbours above which a tile is FSNS's noise filler
NOISE_ROW_STEP = 4        # the roughness is measured on every 4th row


def tile_edges(size: Tensor, num_views: int) -> Tensor:
    """The tiles of images of ``size`` (height, width) int64: (T + 1,) float64 column edges, T = ``num_views``
    for a strip (width within half a view of ``num_views`` times the height), else 1 (the whole image)."""
    h, w = size[0].double(), size[1].double()
    strip = (w / h - num_views).abs() < 0.5 if num_views > 1 else torch.zeros_like(w, dtype=torch.bool)
    count = 1 + strip.long() * (num_views - 1)
    return torch.round(torch.arange(count + 1, device=size.device).double() * (w / count.double()))


def cut_tiles(pixels: Tensor, edges: Tensor) -> Tensor:
    """(N, H, W, C) uint8 -> (N, T, C, H, TW) float32 the tiles between ``edges``, each padded on the right (by
    repeating the image's last column) to the widest tile's width TW. The columns are gathered from the pixels as
    they come, a pixel's C bytes at a time (one Gather), then laid out channels first and made float: gathering
    single float32 values from an (N, C, H, W) copy cost ONNX Runtime about three times as much."""
    widths = (edges[1:] - edges[:-1]).long()                                   # (T,)
    columns = edges[:-1].long().unsqueeze(1) + torch.arange(widths.max(), device=pixels.device)   # (T, TW)
    columns = columns.clamp(max=torch._shape_as_tensor(pixels)[2] - 1)
    tiles = pixels[:, :, columns].transpose(1, 2)                               # (N, H, T, TW, C) -> (N, T, H, TW, C)
    n, t, h, tw, c = tiles.shape  # traced from the input: dynamic in a graph
    # then the channels apart, as the last two axes of (N·T, H·TW, C) swapped: two of ONNX Runtime's fast paths
    # (the reshape between them keeps its optimizer from making them one 5-D permutation of single bytes, which
    # cost 3x the Gather)
    return tiles.reshape(n * t, h * tw, c).transpose(1, 2).reshape(n, t, c, h, tw).float()   # (N, T, C, H, TW)


def tile_sources(tiles: Tensor, widths: Tensor, num_views: int) -> Tensor:
    """(N, V) the tile each view is read from: view ``i`` of a strip from tile ``i``, or from tile ``i % k`` where
    only the first ``k`` tiles hold a real view and the others are FSNS's noise filler (uniform noise: mean
    |difference| of horizontal neighbours about 85, photographs under about 30); every view of a single-view image
    from its one tile. ``tiles`` (N, T, C, H, TW) 8-bit values, ``widths`` (T,) each tile's own width. (Sizes are
    taken from tensors, never from Python ints, so that a trace keeps the number of tiles dynamic.)

    The roughness is measured on every :data:`NOISE_ROW_STEP`-th row only (a quarter of the work): still about
    17,000 differences in a 150-px tile's 38 rows and 3 channels, which put noise at 85 give or take 0.5, far
    above :data:`NOISE_ROUGHNESS`, and a photograph's every 4th row is no rougher than its others (generated signs:
    under 40 on the rows read; tests/test_pixels.py). :func:`seqocr.imaging.preprocess.noise_free_views`, which reads
    every row, could only disagree on a tile whose roughness lies near the threshold, which neither kind does."""
    rows = tiles[..., ::NOISE_ROW_STEP, :]                                      # (N, T, C, ceil(H / step), TW)
    steps = (rows[..., 1:] - rows[..., :-1]).abs().sum((2, 3))                  # (N, T, TW - 1) per column
    inside = torch.arange(steps.shape[-1], device=tiles.device) < (widths - 1).unsqueeze(1)   # (T, TW - 1)
    count = (widths - 1).clamp(min=1).double() * torch._shape_as_tensor(rows)[2:4].prod().double()
    rough = (steps * inside).sum(2).double() / count                           # (N, T)
    noisy = rough > NOISE_ROUGHNESS
    index = torch.ones_like(widths).long().cumsum(0) - 1                       # (T,): 0 .. T - 1
    t = index[-1] + 1
    present = torch.where(noisy, index, t).min(1).values                       # (N,): the first noise tile, or T
    filler = (noisy == (index >= present.unsqueeze(1))).all(1) & (present > 0) & (present < t)
    views = torch.arange(num_views, device=tiles.device)
    return torch.where(filler.unsqueeze(1), views % present.clamp(min=1).unsqueeze(1), views % t)


def found_box(mask: Tensor) -> tuple[Tensor, Tensor]:
    """(M, S, S) bool -> the box of the true pixels (M, 4) float64 in fractions of the side (x0, y0, x1, y1), as
    :func:`seqocr.imaging.textcrop.mask_box`, and whether any was true (M,)."""
    side = mask.shape[-1]
    rows, cols = mask.any(2).int(), mask.any(1).int()                           # (M, S)
    first = lambda a: a.argmax(1)
    last = lambda a: side - a.flip(1).argmax(1)
    box = torch.stack([first(cols), first(rows), last(cols), last(rows)], 1).double() / side
    return box, rows.amax(1) > 0


def grow(box: Tensor, size: Tensor, aspect: float) -> Tensor:
    """:func:`seqocr.imaging.textcrop.grow` on (M, 4) boxes (fractions, float64) in tiles of ``size`` (M, 2) (w, h)
    pixels: widened by :data:`MARGIN`, grown about the centre to ``aspect``, kept inside the tile (clipped where it
    cannot hold it), rounded to whole pixels; the whole tile where that leaves nothing. The same float64
    operations in the same order, so the same pixels."""
    w, h = size[:, 0].double(), size[:, 1].double()
    x0, x1 = box[:, 0].sub(MARGIN[0]).clamp(min=0.0) * w, box[:, 2].add(MARGIN[0]).clamp(max=1.0) * w
    y0, y1 = box[:, 1].sub(MARGIN[1]).clamp(min=0.0) * h, box[:, 3].add(MARGIN[1]).clamp(max=1.0) * h
    tw, th = x1 - x0, y1 - y0                                                   # the text with its margins
    bw, bh = torch.maximum(tw, th * aspect), torch.maximum(th, tw / aspect)     # the short side grows
    wide = bw > w                                                               # as wide as the tile
    bw, bh = torch.where(wide, w, bw), torch.where(wide, torch.minimum(h, torch.maximum(th, w / aspect)), bh)
    high = bh > h
    bw, bh = torch.where(high, torch.minimum(w, torch.maximum(tw, h * aspect)), bw), torch.where(high, h, bh)
    left = torch.minimum(((x0 + x1) / 2 - bw / 2).clamp(min=0.0), w - bw)
    top = torch.minimum(((y0 + y1) / 2 - bh / 2).clamp(min=0.0), h - bh)
    out = torch.stack([torch.round(left), torch.round(top), torch.round(left + bw), torch.round(top + bh)], 1)
    empty = (out[:, 2] <= out[:, 0]) | (out[:, 3] <= out[:, 1])
    return torch.where(empty.unsqueeze(1), whole(size), out)


def whole(size: Tensor) -> Tensor:
    """(M, 2) tile sizes (w, h) -> (M, 4) float64 boxes of the whole tiles."""
    zeros = torch.zeros_like(size[:, 0]).double()
    return torch.stack([zeros, zeros, size[:, 0].double(), size[:, 1].double()], 1)


def text_regions(probability: Tensor, size: Tensor, aspect: float) -> Tensor:
    """Each tile's crop (M, 4) float64 in its pixels, from the detector's map (M, S, S): the text found, grown
    (:func:`grow`), or the whole tile where no text, or only a sliver, was found."""
    box, found = found_box(probability > THRESHOLD)
    sliver = torch.minimum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]) < MIN_SIDE
    return torch.where((found & ~sliver).unsqueeze(1), grow(box, size, aspect), whole(size))


class PixelFront(nn.Module):
    """(N, H, W, 3) uint8 RGB -> the model's input (N, 3, view_height, V·view_width) float32 in [-1, 1] and each
    view's region (N, V, 4) float32, (x0, y0, x1, y1) in the image's pixels. ``detector``: PP-OCRv6's
    (:class:`~.ppocr_det.PPOCRDetector`, frozen, the model's own) for ``crop == "text"``; None reads whole views."""

    def __init__(self, view_height: int, view_width: int, num_views: int, detector: nn.Module | None = None):
        super().__init__()
        self.view_size, self.num_views, self.detector = (view_width, view_height), num_views, detector

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        views, boxes = self.views(pixels)                                       # (V·N, 3, vh, vw), (N, V, 4)
        v, n, (vw, vh) = self.num_views, pixels.shape[0], self.view_size  # n from the input: the batch stays dynamic
        x = views.reshape(v, n, 3, vh, vw).permute(1, 2, 3, 0, 4).reshape(n, 3, vh, v * vw)   # (N, 3, vh, V·vw)
        return x, boxes

    def views(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`forward`'s views apart, view-major (V·N, 3, view_height, view_width), as the model cuts its input
        (:func:`~.base.split_views`), and the regions (N, V, 4)."""
        shape = torch._shape_as_tensor(pixels)                                  # (N, H, W, 3)
        edges = tile_edges(shape[1:3], self.num_views)                          # (T + 1,)
        tiles = cut_tiles(pixels, edges)                                        # (N, T, 3, H, TW)
        widths = edges[1:] - edges[:-1]                                         # (T,)
        size = torch.stack([widths, shape[1].double().expand_as(widths)], 1)    # (T, 2) (w, h)
        flat = tiles.flatten(0, 1)                                              # (N·T, 3, H, TW)
        regions = self.find_text(tiles, size) if self.detector is not None else None
        size = size.unsqueeze(0).expand(pixels.shape[0], -1, -1).reshape(-1, 2)   # (N·T, 2)
        regions = whole(size) if regions is None else regions
        views = resize_regions(flat, regions, self.view_size)                   # (N·T, 3, vh, vw)
        sources = tile_sources(tiles, widths, self.num_views)                   # (N, V)
        first = torch.arange(pixels.shape[0], device=pixels.device).unsqueeze(1) * widths.shape[0]
        pick = sources + first                                                  # (N, V): rows of the N·T tiles
        views = views.index_select(0, pick.t().reshape(-1)) * (2.0 / 255.0) - 1.0   # (V·N, 3, vh, vw)
        shift = torch.stack([edges[:-1], torch.zeros_like(widths)] * 2, 1)      # (T, 4): tile -> image pixels
        shift = shift.unsqueeze(0).expand(pixels.shape[0], -1, -1).reshape(-1, 4)
        boxes = (regions + shift).index_select(0, pick.reshape(-1)).reshape(pixels.shape[0], self.num_views, 4)
        return views, boxes.float()

    def find_text(self, tiles: Tensor, size: Tensor) -> Tensor:
        """Each tile's text region (N·T, 4) float64, in its pixels (:func:`text_regions`), from ``tiles`` (N, T, 3,
        H, TW) of sizes ``size`` (T, 2): every image's tile ``t`` is resized whole, with the same weights."""
        small = resize_regions(tiles, whole(size), (DET_SIDE, DET_SIDE), exact=True, height_first=False)
        x = (small.flatten(0, 1).flip(1) / 255.0 - 0.5) / 0.5                   # RGB -> BGR, as rapidocr feeds it
        probability = self.detector(x)[:, 0]                                    # (N·T, S, S)
        size = size.unsqueeze(0).expand(tiles.shape[0], -1, -1).reshape(-1, 2)  # (N·T, 2)
        return text_regions(probability, size, self.view_size[0] / self.view_size[1])


def pixel_front(model: nn.Module, view_height: int, view_width: int, num_views: int, crop: str) -> PixelFront | None:
    """The front that reads ``model``'s input from pixels: the model's own detector with ``crop == "text"``, none
    with ``""`` (whole views); None for ``"lines"`` (its layout of lines is computed outside the model)."""
    if crop not in ("", "text"):
        return None
    detector = getattr(model, "detector", None) if crop == "text" else None
    if crop == "text" and detector is None:
        raise ValueError("a model with model.crop: text has its detector (seqocr.model.build_model)")
    return PixelFront(view_height, view_width, num_views, detector)


class PixelReader(nn.Module):
    """pixels (N, H, W, 3) uint8 [, memory_below] -> (ids (N, T), probs (N, T), regions (N, V, 4), rows (N',),
    memory (N', S, d), the decoder's initial state for those rows): the whole greedy reading of a sign from its
    pixels, and the memory a search starts from (:meth:`~.base.Seq2SeqOCR.greedy_memory`), for tracing into one
    ONNX graph (:mod:`seqocr.inference.export`)."""

    def __init__(self, model: nn.Module, front: PixelFront):
        super().__init__()
        self.model, self.front = model, front

    def forward(self, pixels: Tensor, *memory_below: Tensor) -> tuple[Tensor, ...]:
        if hasattr(self.model, "greedy_views_memory"):  # the views as the front cuts them, not side by side and back
            views, regions = self.front.views(pixels)
            found = self.model.greedy_views_memory(views, pixels.shape[0], *memory_below)
        else:
            images, regions = self.front(pixels)
            found = self.model.greedy_memory(images, *memory_below)
        return found.ids, found.probs, regions, *found.search_outputs(self.model)


