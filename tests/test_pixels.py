"""The crop as tensor operations inside the model (seqocr.model.pixels, issue 37 item 2): from a sign's pixels to the
model's input, checked against the crop the readers made with Pillow, numpy and the wheel's detector session
(seqocr.imaging.preprocess.eval_batch and seqocr.imaging.textcrop) on generated signs and at the edges (text at each border and
corner, no text, a sliver, a full-view box, noise tiles, a photo, odd strip sizes), and exported to ONNX."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from seqocr.data.synth import synth_sample
from seqocr.errors import DataError
from seqocr.imaging import textcrop
from seqocr.imaging.preprocess import ImageSpec, eval_batch, view_crops, view_images
from seqocr.model.pixels import (
    DET_SIDE,
    NOISE_ROW_STEP,
    PixelFront,
    cut_tiles,
    found_box,
    grow,
    text_regions,
    tile_edges,
    tile_sources,
    whole,
)
from seqocr.model.ppocr_det import PPOCRDetector, load_onnx_detector_weights
from seqocr.model.resample import resize_regions, weights
from tests.helpers import skip_or_fail

SPEC = ImageSpec(128, 256, 4, crop="text")  # the shipped model's views
ASPECT = SPEC.view_width / SPEC.view_height


@pytest.fixture(scope="module")
def front():
    detector = PPOCRDetector().eval()
    try:
        load_onnx_detector_weights(detector)
    except DataError as e:
        skip_or_fail(f"the detector's published weights come from the rapidocr wheel (`make` installs it): {e}")
    return PixelFront(SPEC.view_height, SPEC.view_width, SPEC.num_views, detector).eval()


def run(front, images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        x, regions = front(torch.from_numpy(np.stack([np.asarray(im.convert("RGB")) for im in images])))
    return x.numpy(), regions.numpy()


def todays_regions(images: list[Image.Image]) -> np.ndarray:
    """Each view's crop by today's code, in the image's pixels (x moved by the tile's left edge)."""
    out = []
    for im in images:
        views = view_images(im, 4)
        tile = im.width / 4 if len(set(map(id, views))) > 1 else 0
        sources = [round(k * tile) for k in range(4)]
        lefts = [next(s for s, v in zip(sources, views) if v.tobytes() == view.tobytes()) for view in views]
        out.append([(x0 + dx, y0, x1 + dx, y1) for (x0, y0, x1, y1), dx in zip(view_crops(views, SPEC), lefts)])
    return np.asarray(out, dtype=np.float32)


def test_the_tensor_crop_reads_the_pixels_todays_crop_read_on_generated_signs(front):
    signs = [synth_sample(1, i, "test")[0] for i in range(12)]
    x, regions = run(front, signs)
    want = eval_batch(signs, SPEC)
    levels = np.abs(x - want) * 127.5
    assert x.shape == want.shape == (12, *SPEC.shape)
    # the same boxes, and the same pixels but for float32 rounding ties (measured: 5e-7 of the values, 1 level)
    np.testing.assert_array_equal(regions, todays_regions(signs))
    assert levels.max() <= 1.001 and (levels > 0.01).mean() < 1e-4


@pytest.mark.parametrize("size, box", [
    ((150, 150), (0.0, 0.45, 0.3, 0.55)), ((150, 150), (0.7, 0.45, 1.0, 0.55)),   # left, right border
    ((150, 150), (0.35, 0.0, 0.65, 0.1)), ((150, 150), (0.35, 0.9, 0.65, 1.0)),   # top, bottom
    ((150, 150), (0.0, 0.0, 0.3, 0.1)), ((150, 150), (0.7, 0.9, 1.0, 1.0)),       # corners
    ((150, 150), (0.0, 0.4, 1.0, 0.5)), ((150, 150), (0.0, 0.0, 1.0, 1.0)),       # wider than the view; all of it
    ((300, 120), (0.45, 0.1, 0.55, 0.9)), ((120, 300), (0.1, 0.45, 0.9, 0.55)),   # tall text; a tall photo
    ((150, 150), (0.40625, 0.3958333, 0.59375, 0.5)), ((151, 149), (0.5, 0.5, 0.53125, 0.5625)),
])
def test_the_box_rule_is_todays_to_the_pixel(size, box):
    """:func:`grow` in float64 tensors against :func:`seqocr.imaging.textcrop.grow` in Python floats: the same operations
    in the same order give the same rounded pixels, at every border and corner and where the view is too small."""
    got = grow(torch.tensor([box], dtype=torch.float64), torch.tensor([size], dtype=torch.float64), ASPECT)
    assert tuple(int(v) for v in got[0]) == textcrop.grow(box, size, ASPECT)


def map_with(boxes: list[tuple[int, int, int, int]], value: float = 0.9) -> torch.Tensor:
    m = torch.zeros(1, DET_SIDE, DET_SIDE)
    for x0, y0, x1, y1 in boxes:
        m[0, y0:y1, x0:x1] = value
    return m


@pytest.mark.parametrize("boxes, value", [
    ([(10, 40, 60, 50)], 0.9),                        # one line
    ([(0, 0, 30, 8), (60, 80, 96, 96)], 0.9),         # two parts in opposite corners: their union
    ([(0, 40, 96, 50)], 0.9),                         # across the whole width
    ([(0, 0, 96, 96)], 0.9),                          # everything: the whole view
    ([(10, 40, 60, 50)], 0.3),                        # at the threshold: not text
    ([], 0.0),                                        # nothing found: the whole view
    ([(10, 40, 60, 43)], 0.9),                        # a sliver (3 of 96 rows high): the whole view
    ([(10, 40, 14, 80)], 0.9),                        # a sliver standing up
])
def test_text_regions_follow_todays_union_sliver_and_whole_view_rules(boxes, value):
    probability = map_with(boxes, value)
    size = torch.tensor([[150.0, 150.0]], dtype=torch.float64)
    got = tuple(int(v) for v in text_regions(probability, size, ASPECT)[0])
    mask = probability[0].numpy() > textcrop.THRESHOLD
    found = textcrop.mask_box(mask)
    if found is None or min(found[2] - found[0], found[3] - found[1]) < textcrop.MIN_SIDE:
        want = (0, 0, 150, 150)
    else:
        want = textcrop.grow(found, (150, 150), ASPECT)
    assert got == want
    _, any_found = found_box(torch.from_numpy(mask)[None])
    assert bool(any_found[0]) == (found is not None)


def test_noise_tiles_are_read_as_the_real_views_and_a_photo_in_every_view(front):
    sign = np.asarray(synth_sample(1, 3, "test")[0].convert("RGB")).copy()
    sign[:, 300:] = np.random.default_rng(0).integers(0, 256, (150, 300, 3))   # 2 real views, 2 of noise
    photo = Image.fromarray(sign[:, 150:300]).resize((200, 120))
    x, regions = run(front, [Image.fromarray(sign)])
    np.testing.assert_array_equal(x, eval_batch([Image.fromarray(sign)], SPEC))
    np.testing.assert_array_equal(regions[0, 2:], regions[0, :2])             # views 2 and 3: tiles 0 and 1 again
    assert regions[0, 1, 0] >= 150 and regions[0, 0, 2] <= 150
    x, regions = run(front, [photo])
    np.testing.assert_array_equal(x, eval_batch([photo], SPEC))
    assert (regions[0] == regions[0, :1]).all() and regions[0, 0, 2] <= 200 and regions[0, 0, 3] <= 120


@pytest.mark.parametrize("width, height", [(600, 150), (601, 150), (598, 151), (1200, 300), (500, 150), (300, 300)])
def test_tiles_are_todays_for_any_size(width, height):
    edges = tile_edges(torch.tensor([height, width]), 4).tolist()
    tiles = view_images(Image.new("RGB", (width, height)), 4)
    if len(set(map(id, tiles))) == 1:  # not a strip: the whole image, repeated
        assert edges == [0, width]
    else:
        assert edges == [round(k * width / 4) for k in range(5)]


def test_a_grey_sign_and_a_full_view_of_text_read_whole_views(front):
    grey = Image.new("RGB", (600, 150), (128, 128, 128))
    x, regions = run(front, [grey])
    np.testing.assert_array_equal(regions[0], [[150 * k, 0, 150 * (k + 1), 150] for k in range(4)])
    np.testing.assert_array_equal(x, eval_batch([grey], SPEC))


def test_the_front_exports_to_onnx_and_reads_any_size_alike(front, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    signs = [np.asarray(synth_sample(1, i, "test")[0].convert("RGB")) for i in range(3)]
    with torch.no_grad():
        torch.onnx.export(front, (torch.from_numpy(np.stack(signs[:2])),), str(tmp_path / "front.onnx"),
                          dynamo=False, opset_version=17, input_names=["pixels"], output_names=["x", "regions"],
                          dynamic_axes={"pixels": {0: "n", 1: "h", 2: "w"}, "x": {0: "n"}, "regions": {0: "n"}})
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(tmp_path / "front.onnx"), options, providers=["CPUExecutionProvider"])
    photo = np.asarray(Image.fromarray(signs[0]).crop((150, 0, 300, 150)).resize((200, 120)))[None]
    for pixels in (np.stack(signs), photo, np.asarray(Image.fromarray(signs[1]).resize((1200, 300)))[None]):
        x, regions = session.run(None, {"pixels": pixels})
        with torch.no_grad():
            want_x, want_regions = front(torch.from_numpy(pixels))
        np.testing.assert_array_equal(regions, want_regions.numpy())
        assert np.abs(x - want_x.numpy()).max() <= 1e-6


# What makes the front faster (issue 37, "Faster"): the weights from each output pixel's taps, the tiles gathered
# from the uint8 pixels, the detector's resize weights once per tile position, the noise check on every 4th row,
# the views handed to the model view-major.

def pillow_region(image: np.ndarray, region, size) -> np.ndarray:
    return np.asarray(Image.fromarray(image).crop(region).resize(size, Image.Resampling.BILINEAR))


def resized(image: np.ndarray, region, size, **kw) -> np.ndarray:
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float()
    return resize_regions(x, torch.tensor([region], dtype=torch.float64), size, **kw)[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("shape, region, size", [
    ((300, 1200), (0, 0, 1200, 300), (96, 96)),       # a photo's whole tile shrunk 12.5x: 27 taps a pixel
    ((150, 150), (0, 0, 150, 150), (96, 96)),         # an FSNS tile for the detector
    ((150, 150), (3, 41, 149, 114), (256, 128)),      # a text region, enlarged
    ((40, 700), (5, 0, 690, 40), (256, 128)),         # shrunk across, enlarged down
])
def test_the_weights_from_each_pixels_taps_are_pillows(shape, region, size):
    """The taps of every output pixel, then added into a matrix of zeros: Pillow's pixels exactly (float64 sums),
    and the rows of weights as the dense formula made them (non-negative, summing to 1, inside the region)."""
    image = np.random.default_rng(7).integers(0, 256, (*shape, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resized(image, region, size, exact=True), pillow_region(image, region, size))
    w = weights(torch.tensor([float(region[0])]), torch.tensor([float(region[2])]), size[0], torch.tensor(shape[1]))
    across = weights(torch.tensor([float(region[0])]), torch.tensor([float(region[2])]), size[0],
                     torch.tensor(shape[1]), transposed=True)
    assert w.dtype == torch.float32 and torch.equal(across[0], w[0].t())
    np.testing.assert_allclose(w.sum(-1).numpy(), 1.0, atol=1e-5)
    assert (w[0, :, :region[0]] == 0).all() and (w[0, :, region[2]:] == 0).all()


def test_float32_sums_stay_within_a_level_of_pillow_and_the_detector_keeps_float64():
    """The views' resize sums in float32: at most one level off Pillow, on few pixels. The detector's input is
    resized in float64, exactly: float32 there moved 14 of 2,000 tiles' boxes on 500 generated held-out signs."""
    image = np.asarray(synth_sample(1, 5, "test")[0].convert("RGB"))[:, :150].copy()
    for region, size in (((0, 0, 150, 150), (96, 96)), ((4, 30, 146, 103), (256, 128))):
        off = np.abs(resized(image, region, size) - pillow_region(image, region, size))
        assert off.max() <= 1 and (off > 0).mean() < 0.005
    tiles = torch.from_numpy(np.stack([image] * 2)).permute(0, 3, 1, 2)[:, None].float()   # (N, T, 3, H, W)
    size = torch.tensor([[150.0, 150.0]], dtype=torch.float64)
    small = resize_regions(tiles, whole(size), (DET_SIDE, DET_SIDE), exact=True, height_first=False)
    want = pillow_region(image, (0, 0, 150, 150), (DET_SIDE, DET_SIDE))
    for k in range(2):  # every image's tile resized with that tile position's weights, exactly
        np.testing.assert_array_equal(small[k, 0].permute(1, 2, 0).numpy(), want)


def test_tiles_are_cut_from_the_uint8_pixels_as_columns_of_the_image():
    pixels = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (2, 5, 601, 3), dtype=np.uint8))
    edges = tile_edges(torch.tensor([150, 601]), 4)  # a strip: tiles 150, 150, 151, 150 wide
    tiles = cut_tiles(pixels, edges)
    assert tiles.dtype == torch.float32 and tiles.shape == (2, 4, 3, 5, 151)
    for t, a in enumerate(edges[:-1].long().tolist()):  # each tile padded with the next columns, or the last one
        columns = np.minimum(np.arange(a, a + 151), 600)
        np.testing.assert_array_equal(tiles[:, t].numpy(), pixels[:, :, columns].permute(0, 3, 1, 2).numpy())


def test_the_noise_check_on_every_4th_row_tells_noise_from_photographs():
    """FSNS's filler of uniform noise against generated signs, views of different look: the roughness measured on
    a quarter of the rows keeps them far apart (noise about 85, signs under 40), so the strips read as before."""
    rng = np.random.default_rng(11)
    signs = [np.asarray(synth_sample(1, i, "test")[0].convert("RGB")) for i in range(16)]
    for k, sign in enumerate(signs):
        sign = sign.copy()
        present = k % 4  # 0: a whole strip of real views
        if present:
            sign[:, 150 * present:] = rng.integers(0, 256, (150, 600 - 150 * present, 3))
        tiles = cut_tiles(torch.from_numpy(sign[None]), tile_edges(torch.tensor([150, 600]), 4))
        got = tile_sources(tiles, torch.full((4,), 150.0, dtype=torch.float64), 4)[0].tolist()
        assert got == [v % (present or 4) for v in range(4)]
        rows = tiles[..., ::NOISE_ROW_STEP, :]
        rough = (rows[..., 1:] - rows[..., :-1]).abs().mean((2, 3, 4))[0]
        assert (rough[:present or 4] < 40).all() and (rough[present or 4:] > 75).all()


def test_the_views_handed_over_view_major_read_as_the_side_by_side_input():
    """PixelReader hands the model the front's views apart (greedy_views_memory), not laid side by side only to be cut
    apart again: the same ids, probabilities and regions as model.greedy of the front's input, with and without
    the early exit."""
    from seqocr.model import build_model
    from seqocr.model.pixels import PixelReader
    from tests.helpers import tiny_model_config

    pixels = torch.from_numpy(np.stack([np.asarray(synth_sample(1, i, "test")[0].convert("RGB")) for i in range(3)]))
    for extra in ({"read_views": 2, "reread_below": 0.99}, {}):
        torch.manual_seed(0)
        model = build_model(tiny_model_config(view_width=32, max_len=12, **extra), 60).eval()
        front = PixelFront(16, 32, 4).eval()
        with torch.no_grad():
            got = PixelReader(model, front)(pixels)
            x, regions = front(pixels)
            want = (*model.greedy(x), regions)
            views, _ = front.views(pixels)
        np.testing.assert_array_equal(views.reshape(4, 3, 3, 16, 32).permute(1, 2, 3, 0, 4).reshape(3, 3, 16, 128),
                                      x)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    model = build_model(tiny_model_config(view_width=32, max_len=12, train_views=2), 60).train()
    assert model.encode_all(x).view_pick.shape == (2, 3)  # training draws its views through the same path
