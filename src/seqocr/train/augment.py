"""The reference's per-view training augmentation as batched tensor ops on the training device (``data.augment_on:
device``), so that DataLoader workers only draw signs.

Workers then send each sample's views resized to the tile size (:func:`seqocr.imaging.preprocess.tiles`: uint8, 5/4 of
the model's view size) and the glyph boxes in fractions of those tiles; :func:`augment_views` does, for every view
of the batch at once, what :func:`seqocr.imaging.preprocess.train_transform` does with Pillow for one view:

* attention_ocr's crop: aspect ratio in [0.8, 1.2], height uniform between the heights that keep 80 % and 100 % of
  the tile's area (a crop too large for the tile is clamped to it where Pillow's path draws again);
* the resize to the view size with an interpolation drawn per view as the reference draws cv2's (bilinear, bicubic,
  area, nearest; area is bilinear here: the crops are close to the view's size, so the two barely differ);
* colour jitter with torchvision's factors (brightness 32/255, contrast 0.5, saturation 0.5, hue 0.2), in an order
  drawn per batch (Pillow's path draws it per view), on floats (Pillow rounds to 8 bits after each op).

The random draws are seeded from the run's seed, the rank and the step (:func:`step_seed`), so a resumed run draws
what an uninterrupted one would have: the continuous ones on the device, the discrete ones (interpolations, the
order of the colour ops) on the host, so that nothing waits for the GPU. Glyph boxes follow the crops as in
:func:`seqocr.imaging.preprocess.crop_glyphs`. On a GPU this takes the augmentation's share of a sign's CPU time off the
workers (BENCHMARKS.md); on the CPU it only moves that work into the training process.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..imaging.preprocess import ImageSpec

BRIGHTNESS, CONTRAST, SATURATION, HUE = 32 / 255, 0.5, 0.5, 0.2  # as preprocess.color_jitter
MODES = ("bilinear", "bicubic", "bilinear", "nearest")  # cv2 LINEAR, CUBIC, AREA, NEAREST as the reference draws them
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as Pillow's convert("L")


def step_seed(seed: int, rank: int, step: int) -> int:
    """The seed of one training step's augmentation: a function of the run's seed, the rank and the step."""
    return ((seed * 1_000_003 + rank) * 1_000_003 + step) % 2**63


def crop_boxes(n: int, height: int, width: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """(n, 4) crops (x0, y0, w, h) in pixels of a ``height`` x ``width`` tile, drawn as attention_ocr draws them."""
    u = torch.rand(n, 4, generator=gen, device=device)
    aspect = 0.8 + 0.4 * u[:, 0]
    area = height * width
    lo, hi = torch.sqrt(0.8 * area / aspect), torch.sqrt(area / aspect)
    h = (lo + (hi - lo) * u[:, 1]).clamp(max=height - 1)
    w = (h * aspect).clamp(max=width - 1)
    x0, y0 = u[:, 2] * (width - w), u[:, 3] * (height - h)
    return torch.stack([x0, y0, w, h], 1)


def resample(x: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int], host: torch.Generator) -> torch.Tensor:
    """Views (n, 3, th, tw) cut at ``boxes`` and resized to ``size`` (h, w), each with its own interpolation (drawn
    from the ``host`` generator: the views of each are picked without asking the device)."""
    n, _, th, tw = x.shape
    x0, y0, w, h = boxes.unbind(1)
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 0, 2] = w / tw, (2 * x0 + w) / tw - 1
    theta[:, 1, 1], theta[:, 1, 2] = h / th, (2 * y0 + h) / th - 1
    grid = F.affine_grid(theta, [n, 3, *size], align_corners=False)
    pick = torch.randint(len(MODES), (n,), generator=host).tolist()
    out = x.new_empty(n, 3, *size)
    for mode in sorted(set(MODES)):
        chosen = [k for k, p in enumerate(pick) if MODES[p] == mode]
        if chosen:
            at = torch.tensor(chosen)
            at = at.pin_memory().to(x.device, non_blocking=True) if x.is_cuda else at  # a copy that does not wait
            out[at] = F.grid_sample(x[at], grid[at], mode=mode, padding_mode="border", align_corners=False)
    return out.clamp_(0, 255)


def luma(x: torch.Tensor) -> torch.Tensor:
    """(n, 3, h, w) RGB -> (n, 1, h, w) grey (Python constants: no tensor to copy to the device)."""
    return (LUMA[0] * x[:, 0:1] + LUMA[1] * x[:, 1:2] + LUMA[2] * x[:, 2:3])


def shift_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """(n, 3, h, w) RGB in [0, 255] with each view's hue turned by ``shift`` (n,) of a full turn (HSV)."""
    maxc, argmax = x.max(1)
    minc = x.min(1).values
    delta = maxc - minc
    r, g, b = x.unbind(1)
    d = delta.clamp_min(1e-6)
    hue = torch.stack([(g - b) / d, 2 + (b - r) / d, 4 + (r - g) / d], 1).gather(1, argmax.unsqueeze(1)).squeeze(1)
    hue = torch.where(delta > 0, hue / 6, torch.zeros_like(hue))
    hue = (hue + shift.view(-1, 1, 1)) % 1.0
    sat = torch.where(maxc > 0, delta / maxc.clamp_min(1e-6), torch.zeros_like(maxc))
    # HSV -> RGB: each channel is v - v·s·clamp(min(k, 4 - k), 0, 1) with k = (n + 6h) mod 6, n = 5, 3, 1
    k = torch.stack([5 + 6 * hue, 3 + 6 * hue, 1 + 6 * hue], 1) % 6
    return maxc.unsqueeze(1) * (1 - sat.unsqueeze(1) * torch.minimum(k, 4 - k).clamp(0, 1))


def jitter(x: torch.Tensor, gen: torch.Generator, host: torch.Generator) -> torch.Tensor:
    """torchvision's ColorJitter factors, one draw per view (``gen``, on the device), the four ops in an order drawn
    for the batch (``host``)."""
    n = len(x)
    u = torch.rand(4, n, 1, 1, 1, generator=gen, device=x.device) * 2 - 1  # in [-1, 1]

    def blend(v: torch.Tensor, grey: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        return grey + factor * (v - grey)  # Pillow's ImageEnhance: away from (or towards) a grey image

    ops = {
        0: lambda v: v * (1 + BRIGHTNESS * u[0]),
        1: lambda v: blend(v, luma(v).mean((2, 3), keepdim=True), 1 + CONTRAST * u[1]),
        2: lambda v: blend(v, luma(v), 1 + SATURATION * u[2]),
        3: lambda v: shift_hue(v, HUE * u[3].view(-1)),
    }
    for op in torch.randperm(4, generator=host).tolist():
        x = ops[op](x).clamp_(0, 255)
    return x


def augment_views(tiles: torch.Tensor, spec: ImageSpec, seed: int,
                  glyphs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """uint8 tiles (B, 3, th, V·tw) on their device -> augmented views float32 (B, 3, H, V·W) in [-1, 1] drawn from
    ``seed`` (:func:`step_seed`), and glyph boxes
    (B, T, V, 4) in fractions of each tile -> the same boxes in fractions of each augmented view (NaN where a box
    left its view or was NaN)."""
    b, _, th, width = tiles.shape
    v = spec.num_views
    tw = width // v
    x = tiles.reshape(b, 3, th, v, tw).permute(0, 3, 1, 2, 4).reshape(b * v, 3, th, tw).float()  # any layout
    gen = torch.Generator(device=tiles.device).manual_seed(seed)
    host = torch.Generator().manual_seed(seed)
    boxes = crop_boxes(b * v, th, tw, gen, tiles.device)
    x = jitter(resample(x, boxes, (spec.view_height, spec.view_width), host), gen, host)
    out = (x * (2 / 255) - 1).view(b, v, 3, spec.view_height, spec.view_width).permute(0, 2, 3, 1, 4)
    out = out.reshape(b, 3, spec.view_height, v * spec.view_width)
    if glyphs is None:
        return out, None
    x0, y0, w, h = (c.view(b, 1, v) for c in boxes.unbind(1))
    g = glyphs.float().clone()
    g[..., 0], g[..., 2] = ((g[..., 0] * tw - x0) / w).clamp(0, 1), ((g[..., 2] * tw - x0) / w).clamp(0, 1)
    g[..., 1], g[..., 3] = ((g[..., 1] * th - y0) / h).clamp(0, 1), ((g[..., 3] * th - y0) / h).clamp(0, 1)
    g[(g[..., 2] <= g[..., 0]) | (g[..., 3] <= g[..., 1])] = math.nan
    return out, g
