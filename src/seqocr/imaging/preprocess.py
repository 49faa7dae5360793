"""Image preprocessing, numpy + Pillow only (no torch), shared by training, PyTorch and ONNX Runtime reading.

The model input is one float32 array (3, H, V·W) in [-1, 1]: V views of H×W side by side, as the reference's
3×128×512. Two kinds of input image are read:

* a multi-view strip (width ≈ V × height, like FSNS's 600×150): split into V square tiles;
* any other image (a single photo or crop of a sign): taken as ONE view and repeated in all V slots, so the
  model sees four identical viewpoints. Its aspect ratio is not preserved (it is resized to H×W), which is
  what the FSNS-trained model expects of a sign filling a tile.

Training augmentation is the reference's per-view recipe (its src/dataset.py, after attention_ocr's): a random crop keeping
≥ 80 % of the area with aspect in [0.8, 1.2], a resize with a random interpolation, a colour jitter
(brightness ±32/255, contrast, saturation ±50 %, hue ±0.2, in random order), then 2·x/255 − 1.
"""

from __future__ import annotations

import io
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, UnidentifiedImageError

from ..config import ModelConfig
from ..errors import DataError, one_line

INTERPOLATIONS = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.BOX,
                  Image.Resampling.NEAREST)  # cv2 LINEAR, CUBIC, AREA, NEAREST as the reference draws them


@dataclass(frozen=True)
class ImageSpec:
    """What the model expects; stored in checkpoints and ONNX metadata."""

    view_height: int = 64
    view_width: int = 64
    num_views: int = 4
    crop: str = ""  # "" = each view whole; "text" = each view cut to its detected text first (seqocr.imaging.textcrop);
    #                 "lines" = each view rebuilt from its text lines, one per 48-px slot (seqocr.imaging.textlines)

    @classmethod
    def from_config(cls, model: ModelConfig) -> ImageSpec:
        return cls(model.view_height, model.view_width, model.num_views, model.crop)

    def to_dict(self) -> dict:
        """The preprocessing as stored in an ONNX file's metadata: the sizes, the crop and how pixels are scaled."""
        return {"view_height": self.view_height, "view_width": self.view_width, "num_views": self.num_views,
                "crop": self.crop, "scale": "2*x/255-1", "resize": "bilinear",
                "layout": "NCHW, views side by side along width"}

    @classmethod
    def from_dict(cls, d: dict) -> ImageSpec:
        return cls(d["view_height"], d["view_width"], d["num_views"], d.get("crop", ""))

    @property
    def shape(self) -> tuple[int, int, int]:
        """One preprocessed image: (3, H, V·W)."""
        return 3, self.view_height, self.view_width * self.num_views


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")  # what counts as an image file
DEFAULT_MAX_PIXELS = 4096 * 4096  # what `seqocr read` and `seqocr serve` accept per image unless told otherwise


class ImageTooLarge(DataError):
    """An image with more pixels than the caller allows (found from its header, before decoding)."""


def load_image(source: str | Path | bytes, where: str | None = None, max_pixels: int | None = None
               ) -> Image.Image:
    """Decode an image file (or its bytes) to RGB, fully, so truncation is caught here. Raises DataError, or
    ImageTooLarge when it has more than ``max_pixels`` pixels (checked before the pixels are decoded)."""
    name = where or (str(source) if not isinstance(source, bytes) else "<bytes>")
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:  # the file is closed, whatever happens
            if max_pixels is not None and img.width * img.height > max_pixels:
                raise ImageTooLarge(f"{name}: {img.width}x{img.height} pixels, over the limit of {max_pixels} pixels")
            img.load()
            if img.width < 1 or img.height < 1:
                raise DataError(f"{name}: empty image")
            return img.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"{name}: image file not found") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not an image") from None
    except UnidentifiedImageError:
        raise DataError(f"{name}: unreadable or truncated image (not a format Pillow reads)") from None
    except Image.DecompressionBombError as e:  # Pillow's own limit, checked on the header before ours can be
        pillow = 2 * Image.MAX_IMAGE_PIXELS  # where Pillow's error starts
        limit = pillow if max_pixels is None else min(max_pixels, pillow)
        found = re.search(r"\((\d+) pixels\)", str(e))  # "Image size (N pixels) exceeds limit of M pixels..."
        size = f"{int(found[1])} pixels" if found else "more pixels than Pillow decodes"
        raise ImageTooLarge(f"{name}: {size}, over the limit of {limit} pixels") from None
    except (DataError, MemoryError):  # a memory error is not the file's fault: the fuzz targets must see it
        raise
    except Exception as e:  # noqa: BLE001 - Pillow's decoders raise many types for a damaged file: OSError,
        # SyntaxError, ValueError, and (found by fuzzing) TypeError from a TIFF tag, EOFError, struct.error...
        raise DataError(f"{name}: unreadable or truncated image ({one_line(e) or type(e).__name__})") from None


NOISE_ROUGHNESS = 60.0  # mean |difference| of horizontal neighbours above which a tile is FSNS's noise filler


def noise_free_views(views: list[Image.Image]) -> int | None:
    """How many leading tiles hold a real view when the others are FSNS's filler of uniform RGB noise, else None.

    Uniform noise in [0, 255] has a mean absolute difference of 85 between horizontal neighbours; photographs,
    even grainy JPEGs, stay under about 30 (generated signs: at most 31 over 300 samples). This recovers the
    view count that ``image/orig_width`` gives when an image comes without it (a PNG file)."""
    rough = [float(np.abs(np.diff(np.asarray(v.convert("RGB"), np.int16), axis=1)).mean()) for v in views]
    present = next((k for k, r in enumerate(rough) if r > NOISE_ROUGHNESS), len(views))
    if 0 < present < len(views) and all(r > NOISE_ROUGHNESS for r in rough[present:]):
        return present
    return None


def cut_views(img: Image.Image, num_views: int, present: int | None = None
              ) -> tuple[list[Image.Image], int, list[int]]:
    """The views the model reads from ``img``, how many tiles ``img`` was cut into, and the tile each view came from.

    A multi-view strip is cut into ``num_views`` tiles; a single-view image is one tile, repeated. ``present`` is
    how many tiles hold a real view. FSNS pads a sign photographed fewer than 4 times with noise tiles and says so
    in ``image/orig_width`` (views = 4 · orig_width / width, attention_ocr's ``_NumOfViewsHandler``); the noise
    tiles are replaced here by the real views, repeated in turn (so view 2 of a 2-view sign is tile 0). Without
    ``present`` trailing noise tiles are found by their look (:func:`noise_free_views`).
    """
    w, h = img.size
    if num_views > 1 and abs(w / h - num_views) < 0.5:
        tile = w / num_views
        tiles = [img.crop((round(i * tile), 0, round((i + 1) * tile), h)) for i in range(num_views)]
        if present is None:
            present = noise_free_views(tiles)
        sources = view_sources(num_views, present)
        return [tiles[i] for i in sources], num_views, sources
    return [img] * num_views, 1, [0] * num_views


def view_images(img: Image.Image, num_views: int, present: int | None = None) -> list[Image.Image]:
    """The views the model reads from ``img`` (:func:`cut_views`)."""
    return cut_views(img, num_views, present)[0]


def fsns_views(width: int, orig_width: int, num_views: int = 4) -> int | None:
    """Number of real views of an FSNS record, from its ``image/width`` and ``image/orig_width``."""
    if width <= 0 or orig_width <= 0:
        return None
    return max(1, min(num_views, int(num_views * orig_width / width)))


def to_array(views: list[Image.Image]) -> np.ndarray:
    """RGB views of equal size -> float32 (3, H, V·W) in [-1, 1]."""
    x = np.concatenate([np.asarray(v, dtype=np.float32) for v in views], axis=1)  # (H, V·W, 3)
    return (x.transpose(2, 0, 1) * (2.0 / 255.0) - 1.0).astype(np.float32)


def view_crops(views: list[Image.Image], spec: ImageSpec, threads: int = 1) -> list:
    """What of each view the model reads, in that view's pixels (x0, y0, x1, y1): all of it, or with
    ``spec.crop == "text"`` its text region grown to the view shape (:func:`seqocr.imaging.textcrop.text_boxes`); with
    ``"lines"``, each view's layout of lines instead (:func:`seqocr.imaging.textlines.line_layouts`). The detector runs on
    ``threads`` (1 in training's workers; a reader's own)."""
    if spec.crop == "lines":
        from .textlines import line_layouts  # ONNX Runtime and the detector, only when asked for

        return line_layouts(views, (spec.view_width, spec.view_height), threads)
    if spec.crop != "text":
        return [(0, 0, *v.size) for v in views]
    from .textcrop import text_boxes

    return text_boxes(views, spec.view_width / spec.view_height, threads)


def cut_region(view: Image.Image, box, spec: ImageSpec) -> Image.Image:
    """``view`` cut to ``box``, or with ``spec.crop == "lines"`` composed from its layout ``box``."""
    if spec.crop == "lines":
        from .textlines import compose

        return compose(view, box, (spec.view_width, spec.view_height))
    return view if box == (0, 0, *view.size) else view.crop(box)


def crop_regions(views: list[Image.Image], crops: list, spec: ImageSpec) -> list[list[float]]:
    """Each view's region the model read, [x0, y0, x1, y1] in fractions of the view (for a layout of lines, the box
    around its lines)."""
    if spec.crop == "lines":
        from .textlines import around

        crops = [around(c) for c in crops]
    return [[round(c / size, 4) for c, size in zip(box, (*v.size, *v.size))] for v, box in zip(views, crops)]


def region_layout(regions: np.ndarray, size: tuple[int, int], num_views: int) -> dict:
    """The layout of :func:`crop_regions`' callers (the page: ``tiles``, the tile of each view, each view's region
    in fractions of its tile) from the regions a model that cuts its views itself read, (V, 4) x0, y0, x1, y1 in
    the pixels of an image of ``size`` (w, h): tiles cut as :func:`cut_views` cuts them, each region in the tile it
    starts in; no ``crops`` where every view is a whole tile."""
    w, h = size
    count = num_views if num_views > 1 and abs(w / h - num_views) < 0.5 else 1
    edges = [round(k * (w / count)) for k in range(count + 1)]
    sources, crops = [], []
    for x0, y0, x1, y1 in np.asarray(regions, dtype=np.float64).tolist():
        t = max(k for k in range(count) if edges[k] <= x0 + 0.5)
        left, width = edges[t], edges[t + 1] - edges[t]
        sources.append(t)
        crops.append([round((x0 - left) / width, 4), round(y0 / h, 4), round((x1 - left) / width, 4),
                      round(y1 / h, 4)])
    layout = {"tiles": count, "sources": sources}
    if any(c != [0.0, 0.0, 1.0, 1.0] for c in crops):  # whole tiles need no crops (the page's default)
        layout["crops"] = crops
    return layout


def _tile(img: Image.Image, spec: ImageSpec) -> tuple[int, int]:
    """(width, height) of one tile of a strip: what glyph boxes are fractions of."""
    return round(img.width / spec.num_views), img.height


def _glyphs_in_crops(glyphs: np.ndarray, crops: list[tuple[int, int, int, int]], img: Image.Image, spec: ImageSpec,
                     present: int | None) -> np.ndarray:
    """Glyph boxes per tile (L, V, 4) -> per view read: those of each view's tile, moved into its crop."""
    sources = view_sources(spec.num_views, present)
    if spec.crop == "lines":  # moved with the line each is in, into the composed views
        from .textlines import layout_glyphs

        size = (spec.view_width, spec.view_height)
        return np.stack([layout_glyphs(glyphs[:, t], c, _tile(img, spec), size) for t, c in zip(sources, crops)], 1)
    if spec.crop != "text":  # whole views: the tile's own boxes
        return glyphs[:, sources]
    return crop_glyphs(glyphs, crops, _tile(img, spec), sources)


def eval_transform(img: Image.Image, spec: ImageSpec, present: int | None = None,
                   glyphs: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The reference's evaluation resize (bilinear, no random crop), view by view, after ``spec.crop``. With
    ``glyphs`` (L, V, 4 per tile, as :func:`train_transform`), also the boxes in the views read."""
    views = view_images(img, spec.num_views, present)
    x, crops = prepare_views(views, spec)
    return x if glyphs is None else (x, _glyphs_in_crops(glyphs, crops, img, spec, present))


def prepare_views(views: list[Image.Image], spec: ImageSpec, crops: list[tuple[int, int, int, int]] | None = None
                  ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Views already cut (:func:`cut_views`) cropped (``spec.crop``, or ``crops`` already found) and resized as
    :func:`eval_transform` does, into one array; and the crop of each view, in its pixels."""
    size, crops = (spec.view_width, spec.view_height), crops or view_crops(views, spec)
    return to_array([cut_region(v, c, spec).resize(size, Image.Resampling.BILINEAR) for v, c in zip(views, crops)]), crops


def eval_batch(images: list[Image.Image], spec: ImageSpec, threads: int = 1) -> np.ndarray:
    """:func:`eval_transform` of each image, stacked (N, 3, H, V·W); the text detector (``spec.crop``) reads all
    their views in one batch, on ``threads``."""
    cut = [view_images(im, spec.num_views) for im in images]
    crops = view_crops([v for views in cut for v in views], spec, threads)
    v = spec.num_views
    return np.stack([prepare_views(views, spec, crops[k * v:(k + 1) * v])[0] for k, views in enumerate(cut)])


def tile_size(spec: ImageSpec) -> tuple[int, int]:
    """(height, width) of the tiles workers send for augmentation on the training device: 5/4 of the view size,
    so that a crop of 80-100 % of a tile is resized to the view size, as a crop of an FSNS tile (150 px) is to
    the default model's 128."""
    return round(spec.view_height * 5 / 4), round(spec.view_width * 5 / 4)


def tiles(img: Image.Image, spec: ImageSpec, present: int | None = None, glyphs: np.ndarray | None = None
          ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """A sample's views, after ``spec.crop``, resized to :func:`tile_size`, uint8 (3, th, V·tw): what a worker sends
    when the training augmentation runs on the device (``data.augment_on: device``, :mod:`seqocr.train.augment`).
    With ``glyphs`` (L, V, 4 per tile), also the boxes in those tiles."""
    th, tw = tile_size(spec)
    views = [v.convert("RGB") for v in view_images(img, spec.num_views, present)]
    crops = view_crops(views, spec)
    views = [cut_region(v, c, spec) for v, c in zip(views, crops)]
    views = [v if v.size == (tw, th) else v.resize((tw, th), Image.Resampling.BILINEAR) for v in views]
    x = np.ascontiguousarray(np.concatenate([np.asarray(v) for v in views], axis=1).transpose(2, 0, 1))
    return x if glyphs is None else (x, _glyphs_in_crops(glyphs, crops, img, spec, present))


def _random_crop(view: Image.Image, rng: random.Random) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """attention_ocr's crop: ≥ 80 % of the area, aspect in [0.8, 1.2] (the reference's augmentation, step 2); the crop
    and its box (x0, y0, x1, y1) in the view."""
    w0, h0 = view.size
    for _ in range(100):
        ar = rng.uniform(0.8, 1.2)
        lo, hi = math.ceil(math.sqrt(0.8 * w0 * h0 / ar)), math.floor(math.sqrt(w0 * h0 / ar))
        if hi <= lo:
            continue
        h = rng.randrange(lo, hi)
        w = int(h * ar)
        if w < w0 and h < h0:
            x, y = rng.randrange(w0 - w), rng.randrange(h0 - h)
            return view.crop((x, y, x + w, y + h)), (x, y, x + w, y + h)
    return view, (0, 0, w0, h0)


def view_sources(num_views: int, present: int | None) -> list[int]:
    """Which tile each view comes from (:func:`view_images` repeats the real ones over noise tiles)."""
    if present is not None and 0 < present < num_views:
        return [i % present for i in range(num_views)]
    return list(range(num_views))


def crop_glyphs(glyphs: np.ndarray, crops: list[tuple[int, int, int, int]], size: tuple[int, int],
                sources: list[int]) -> np.ndarray:
    """Glyph boxes (L, V, 4) in fractions of each tile (``size`` pixels) -> the same boxes in fractions of each
    view after view ``i`` was cut from tile ``sources[i]`` at ``crops[i]``; NaN where a box left the view."""
    w0, h0 = size
    out = glyphs[:, sources].astype(np.float32, copy=True)
    for i, (x0, y0, x1, y1) in enumerate(crops):
        b = out[:, i]
        b[:, [0, 2]] = ((b[:, [0, 2]] * w0 - x0) / (x1 - x0)).clip(0, 1)
        b[:, [1, 3]] = ((b[:, [1, 3]] * h0 - y0) / (y1 - y0)).clip(0, 1)
        b[(b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])] = np.nan
    return out


def _hue(img: Image.Image, shift: float) -> Image.Image:
    h, s, v = img.convert("HSV").split()
    h = h.point(lambda p: (p + int(shift * 255)) % 256)
    return Image.merge("HSV", (h, s, v)).convert("RGB")


def color_jitter(img: Image.Image, rng: random.Random, brightness: float = 32 / 255, contrast: float = 0.5,
                 saturation: float = 0.5, hue: float = 0.2) -> Image.Image:
    """torchvision/MindSpore ColorJitter semantics: multiplicative factors, the four ops in random order."""
    ops = [
        lambda im: ImageEnhance.Brightness(im).enhance(rng.uniform(1 - brightness, 1 + brightness)),
        lambda im: ImageEnhance.Contrast(im).enhance(rng.uniform(1 - contrast, 1 + contrast)),
        lambda im: ImageEnhance.Color(im).enhance(rng.uniform(1 - saturation, 1 + saturation)),
        lambda im: _hue(im, rng.uniform(-hue, hue)),
    ]
    rng.shuffle(ops)
    for op in ops:
        img = op(img)
    return img


def train_transform(img: Image.Image, spec: ImageSpec, rng: random.Random, present: int | None = None,
                    glyphs: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The reference's training augmentation, drawn independently for every view. With ``glyphs``, each label
    character's box per tile (L, V, 4), also those boxes in the augmented views (:func:`crop_glyphs`)."""
    size = (spec.view_width, spec.view_height)
    views, crops = [], []
    whole = view_images(img, spec.num_views, present)
    found = view_crops(whole, spec)
    for v, box in zip(whole, found):
        cut, (x0, y0, x1, y1) = _random_crop(cut_region(v, box, spec), rng)
        views.append(color_jitter(cut.resize(size, rng.choice(INTERPOLATIONS)), rng))
        if spec.crop == "lines":  # in the composed view's pixels
            box = (0, 0)
        crops.append((box[0] + x0, box[1] + y0, box[0] + x1, box[1] + y1))  # in the tile's pixels
    if glyphs is None:
        return to_array(views)
    if spec.crop == "lines":  # into the composed views first, then their random crops
        composed = _glyphs_in_crops(glyphs, found, img, spec, present)
        return to_array(views), crop_glyphs(composed, crops, size, list(range(spec.num_views)))
    return to_array(views), crop_glyphs(glyphs, crops, _tile(img, spec), view_sources(spec.num_views, present))
