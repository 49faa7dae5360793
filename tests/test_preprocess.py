"""Image preprocessing (imaging/preprocess.py) on small hand-made images: loading and its errors, cutting a strip into views,
FSNS's noise tiles, the pixel scale, the resizes, the training crop and colour jitter, glyph boxes through a crop
(fast: `make mutation` mutates imaging/preprocess.py against these)."""

import io
import random

import numpy as np
import pytest
from PIL import Image

from seqocr.config import ModelConfig
from seqocr.errors import DataError
from seqocr.imaging.preprocess import (
    INTERPOLATIONS,
    ImageSpec,
    ImageTooLarge,
    _hue,
    _random_crop,
    color_jitter,
    crop_glyphs,
    cut_views,
    eval_batch,
    eval_transform,
    fsns_views,
    load_image,
    noise_free_views,
    prepare_views,
    tile_size,
    tiles,
    to_array,
    train_transform,
    view_images,
    view_sources,
)


def png(size=(8, 4), mode="RGB", colour=(10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


def test_the_spec_is_the_models_sizes_and_its_metadata_round_trips():
    spec = ImageSpec.from_config(ModelConfig(view_height=48, view_width=32, num_views=3))
    assert (spec.view_height, spec.view_width, spec.num_views, spec.shape) == (48, 32, 3, (3, 48, 96))
    assert spec.to_dict() == {"view_height": 48, "view_width": 32, "num_views": 3, "crop": "", "scale": "2*x/255-1",
                              "resize": "bilinear", "layout": "NCHW, views side by side along width"}
    assert ImageSpec.from_dict(spec.to_dict()) == spec
    old = {k: v for k, v in spec.to_dict().items() if k != "crop"}  # ONNX files exported before model.crop
    assert ImageSpec.from_dict(old) == spec
    cropped = ImageSpec.from_config(ModelConfig(view_height=48, view_width=96, num_views=4, crop="text"))
    assert cropped.crop == "text" and ImageSpec.from_dict(cropped.to_dict()) == cropped


def test_an_image_loads_as_rgb_from_a_path_or_bytes(tmp_path):
    (tmp_path / "a.png").write_bytes(png(mode="L", colour=7))
    for source in (tmp_path / "a.png", str(tmp_path / "a.png"), png(mode="RGBA", colour=(7, 7, 7, 0))):
        img = load_image(source)
        assert img.mode == "RGB" and img.size == (8, 4) and img.getpixel((0, 0)) == (7, 7, 7)


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "none.png", "{p}: image file not found"),
    (lambda d: d, "{p}: is a directory, not an image"),
    (lambda d: b"not an image", "<bytes>: unreadable or truncated image (not a format Pillow reads)"),
    (lambda d: png((64, 64))[:60], "<bytes>: unreadable or truncated image (")])
def test_an_unreadable_image_is_one_line_naming_it(tmp_path, make, message):
    source = make(tmp_path)
    with pytest.raises(DataError) as e:
        load_image(source)
    assert str(e.value).startswith(message.format(p=source)) and type(e.value) is DataError
    with pytest.raises(DataError, match="^where: "):
        load_image(source, "where")


def test_too_many_pixels_are_refused_from_the_header(monkeypatch):
    big = png((30, 20))
    assert load_image(big, max_pixels=600).size == (30, 20)
    with pytest.raises(ImageTooLarge) as e:
        load_image(big, "w", max_pixels=599)
    assert str(e.value) == "w: 30x20 pixels, over the limit of 599 pixels"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow's own guard: over 2x this, before ours can run
    for max_pixels, limit in ((None, 200), (1000, 200), (150, 150)):
        with pytest.raises(ImageTooLarge) as e:
            load_image(big, "w", max_pixels=max_pixels)
        assert str(e.value) == f"w: 600 pixels, over the limit of {limit} pixels"


def rough_tile(step: int, size=(12, 6)) -> Image.Image:
    """A tile whose horizontal neighbours differ by exactly ``step`` (columns alternate 0 and step)."""
    a = np.zeros((size[1], size[0], 3), np.uint8)
    a[:, 1::2] = step
    return Image.fromarray(a)


@pytest.mark.parametrize("roughness, want", [([0, 0, 85, 85], 2), ([0, 61, 61, 61], 1), ([0, 0, 0, 60], None),
                                             ([0, 0, 0, 0], None), ([85, 85, 85, 85], None),
                                             ([0, 85, 0, 85], None), ([5, 30, 59, 61], 3)])
def test_trailing_noise_tiles_are_found_by_their_roughness(roughness, want):
    assert noise_free_views([rough_tile(r) for r in roughness]) == want


def strip(widths=(5, 5, 5, 5), height=5) -> Image.Image:
    img = Image.new("RGB", (sum(widths), height))
    x = 0
    for i, w in enumerate(widths):
        img.paste((40 * (i + 1), 0, 0), (x, 0, x + w, height))
        x += w
    return img


def reds(views) -> list[int]:
    return [v.getpixel((1, 1))[0] for v in views]


def test_a_strip_is_cut_into_its_tiles_and_real_views_repeat_over_missing_ones():
    views, cut, sources = cut_views(strip(), 4)
    assert reds(views) == [40, 80, 120, 160] and cut == 4 and sources == [0, 1, 2, 3]
    assert [v.size for v in views] == [(5, 5)] * 4
    views, cut, sources = cut_views(strip(), 4, present=3)
    assert reds(views) == [40, 80, 120, 40] and sources == [0, 1, 2, 0]
    assert reds(view_images(strip(), 4, present=2)) == [40, 80, 40, 80]


def test_noise_tiles_are_found_when_present_is_not_given():
    img = strip()
    img.paste(rough_tile(90, (10, 5)), (10, 0))
    views, _, sources = cut_views(img, 4)
    assert sources == [0, 1, 0, 1] and reds(views) == [40, 80, 40, 80]


@pytest.mark.parametrize("size, num_views, is_strip", [((600, 150), 4, True), ((530, 150), 4, True),
                                                       ((525, 150), 4, False), ((675, 150), 4, False),
                                                       ((150, 150), 4, False), ((300, 150), 2, True),
                                                       ((150, 150), 1, False)])
def test_an_image_is_a_strip_only_near_num_views_times_as_wide_as_high(size, num_views, is_strip):
    img = Image.new("RGB", size)
    views, cut, sources = cut_views(img, num_views)
    if is_strip:
        tile = size[0] / num_views
        assert cut == num_views and [v.size for v in views] == [
            (round((i + 1) * tile) - round(i * tile), size[1]) for i in range(num_views)]
    else:
        assert cut == 1 and sources == [0] * num_views and all(v is img for v in views)


def test_tiles_of_an_uneven_strip_are_cut_at_rounded_edges():
    img = Image.new("RGB", (602, 150))
    assert [v.size[0] for v in view_images(img, 4)] == [150, 151, 151, 150]  # edges 0, 150, 301, 452, 602 (half to even)


@pytest.mark.parametrize("width, orig, want", [(600, 600, 4), (600, 300, 2), (600, 450, 3), (600, 1200, 4),
                                               (600, 100, 1), (600, 0, None), (0, 600, None), (600, -1, None),
                                               (-600, 600, None), (600, 599, 3)])
def test_fsns_views_follow_orig_width(width, orig, want):
    assert fsns_views(width, orig) == want


def test_fsns_views_never_exceed_the_models():
    assert fsns_views(600, 600, 2) == 2 and fsns_views(600, 150, 2) == 1


def test_pixels_scale_to_minus_one_one_views_side_by_side_channels_first():
    a = Image.new("RGB", (2, 1), (0, 51, 255))
    b = Image.new("RGB", (2, 1), (255, 0, 102))
    x = to_array([a, b])
    assert x.dtype == np.float32 and x.shape == (3, 1, 4)
    np.testing.assert_allclose(x[:, 0, 0], [-1.0, -0.6, 1.0], atol=1e-6)
    np.testing.assert_allclose(x[:, 0, 3], [1.0, -1.0, -0.2], atol=1e-6)


def test_evaluation_resizes_every_view_bilinearly():
    spec = ImageSpec(3, 4, 4)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 80, 3), np.uint8))
    want = to_array([v.resize((4, 3), Image.Resampling.BILINEAR) for v in view_images(img, 4)])
    np.testing.assert_array_equal(eval_transform(img, spec), want)
    np.testing.assert_array_equal(eval_batch([img, img], spec), np.stack([want, want]))
    x, crops = prepare_views(view_images(img, 4), spec)
    np.testing.assert_array_equal(x, want)
    assert crops == [(0, 0, 20, 20)] * 4  # no crop asked for: every view whole
    assert eval_transform(img, spec, present=1).shape == (3, 3, 16)
    np.testing.assert_array_equal(eval_transform(img, spec, present=1)[:, :, 4:8], want[:, :, :4])


@pytest.mark.parametrize("view, want", [((64, 64), (80, 80)), ((6, 10), (8, 12)), ((150, 128), (188, 160))])
def test_device_tiles_are_five_quarters_of_the_view(view, want):
    assert tile_size(ImageSpec(*view, 4)) == want


def test_tiles_are_uint8_views_at_tile_size_untouched_when_already_there():
    spec = ImageSpec(4, 4, 2)  # tiles 5x5
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (5, 10, 3), np.uint8))
    t = tiles(img, spec)
    assert t.dtype == np.uint8 and t.shape == (3, 5, 10) and t.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(t, np.asarray(img).transpose(2, 0, 1))
    small = img.resize((8, 4))
    want = np.concatenate([np.asarray(v.resize((5, 5), Image.Resampling.BILINEAR)) for v in view_images(small, 2)],
                          axis=1).transpose(2, 0, 1)
    np.testing.assert_array_equal(tiles(small, spec), want)
    np.testing.assert_array_equal(tiles(img, spec, present=1)[:, :, 5:], t[:, :, :5])


def test_the_training_crop_keeps_80_to_100_percent_at_aspect_080_to_120():
    view = Image.new("RGB", (150, 150))
    areas, aspects = [], []
    for seed in range(300):
        cut, (x0, y0, x1, y1) = _random_crop(view, random.Random(seed))
        w, h = x1 - x0, y1 - y0
        assert cut.size == (w, h) and 0 <= x0 and 0 <= y0 and x1 <= 150 and y1 <= 150 and w < 150 and h < 150
        areas.append(w * h / 150**2)
        aspects.append(w / h)
    assert 0.79 <= min(areas) < 0.82 and max(areas) > 0.95
    assert 0.79 <= min(aspects) < 0.83 and 1.16 < max(aspects) <= 1.2
    assert _random_crop(view, random.Random(5))[1] == _random_crop(view, random.Random(5))[1]
    tiny = Image.new("RGB", (2, 2))
    cut, box = _random_crop(tiny, random.Random(0))  # no crop fits: the whole view
    assert cut is tiny and box == (0, 0, 2, 2)


@pytest.mark.parametrize("num_views, present, want", [(4, None, [0, 1, 2, 3]), (4, 2, [0, 1, 0, 1]),
                                                      (4, 3, [0, 1, 2, 0]), (4, 0, [0, 1, 2, 3]),
                                                      (4, 4, [0, 1, 2, 3]), (4, 1, [0, 0, 0, 0])])
def test_view_sources(num_views, present, want):
    assert view_sources(num_views, present) == want


def test_glyph_boxes_follow_the_crop_and_vanish_when_cut_away():
    glyphs = np.array([[[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.6, 0.6]],
                       [[0.0, 0.0, 0.05, 0.05], [0.9, 0.9, 1.0, 1.0]]], dtype=np.float64)  # (L=2, V=2, 4)
    crops = [(10, 20, 60, 70), (0, 0, 100, 100)]
    out = crop_glyphs(glyphs, crops, (100, 100), [1, 0])
    assert out.dtype == np.float32 and out.shape == (2, 2, 4)
    np.testing.assert_allclose(out[0, 0], [0.8, 0.6, 1.0, 0.8])       # tile 1's box, (x - 10) / 50, (y - 20) / 50
    np.testing.assert_allclose(out[0, 1], [0.1, 0.2, 0.3, 0.4])       # tile 0 uncropped
    assert np.isnan(out[1, 0]).all()                                  # tile 1's (90..100) box left the crop
    np.testing.assert_allclose(out[1, 1], [0.0, 0.0, 0.05, 0.05])
    assert np.isnan(crop_glyphs(glyphs[:1, :1], [(0, 50, 100, 100)], (100, 100), [0])).all()  # above the crop
    np.testing.assert_allclose(glyphs[0, 0], [0.1, 0.2, 0.3, 0.4])    # the input untouched


def test_a_hue_shift_of_a_third_turns_red_green():
    assert _hue(Image.new("RGB", (1, 1), (255, 0, 0)), 1 / 3).getpixel((0, 0)) == (0, 255, 0)
    assert _hue(Image.new("RGB", (1, 1), (0, 0, 255)), 0.0).getpixel((0, 0)) == (0, 0, 255)


def test_colour_jitter_draws_each_factor_within_its_range():
    grey = Image.new("RGB", (2, 2), (100, 100, 100))  # contrast, saturation and hue leave a flat grey as it is
    factors = [color_jitter(grey, random.Random(s), brightness=0.25, contrast=0.5, saturation=0.5,
                            hue=0.2).getpixel((0, 0))[0] / 100 for s in range(200)]
    assert 0.75 <= min(factors) < 0.78 and 1.22 < max(factors) <= 1.25
    two = Image.fromarray(np.array([[[50] * 3, [150] * 3]], np.uint8))
    spreads = [np.ptp(np.asarray(color_jitter(two, random.Random(s), brightness=0, saturation=0,
                                              hue=0))[..., 0]) / 100 for s in range(200)]
    assert 0.48 <= min(spreads) < 0.56 and 1.44 < max(spreads) <= 1.52  # contrast 1 +- 0.5 of a 100 step
    red = Image.new("RGB", (1, 1), (200, 40, 40))
    greys = [max(color_jitter(red, random.Random(s), brightness=0, contrast=0, hue=0).getpixel((0, 0))) -
             min(color_jitter(red, random.Random(s), brightness=0, contrast=0, hue=0).getpixel((0, 0)))
             for s in range(50)]
    assert min(greys) < 100 < max(greys)  # saturation 1 +- 0.5 around a 160 spread
    hues = {color_jitter(red, random.Random(s), brightness=0, contrast=0, saturation=0).getpixel((0, 0))
            for s in range(50)}
    assert len(hues) > 10  # the hue moves


def test_training_views_are_drawn_per_view_and_carry_their_glyph_boxes():
    spec = ImageSpec(16, 16, 4)
    img = Image.fromarray(np.random.default_rng(2).integers(0, 256, (40, 160, 3), np.uint8))
    x = train_transform(img, spec, random.Random(3))
    assert x.dtype == np.float32 and x.shape == (3, 16, 64) and -1.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(x, train_transform(img, spec, random.Random(3)))
    assert not np.array_equal(x, train_transform(img, spec, random.Random(4)))
    glyphs = np.tile(np.array([0.3, 0.3, 0.7, 0.7]), (2, 4, 1))
    y, boxes = train_transform(img, spec, random.Random(3), present=2, glyphs=glyphs)
    np.testing.assert_array_equal(y, train_transform(img, spec, random.Random(3), present=2))
    assert boxes.shape == (2, 4, 4) and np.isfinite(boxes).all()
    width = boxes[..., 2] - boxes[..., 0]  # the crop is smaller than the tile: the box grows, by 1/0.8 at most
    assert ((width > 0.4) & (width < 0.4 / 0.8 / 0.9)).all() and (boxes[0] == boxes[1]).all()


# -- what preprocess.py's mutation run found unchecked (issue 24) ---------------------------------------------
def test_a_one_pixel_image_loads():
    assert load_image(png((1, 1))).size == (1, 1)


def test_a_decoder_error_without_a_message_is_named_by_its_type(monkeypatch):
    def fail(*a, **kw):
        raise ValueError("")

    monkeypatch.setattr(Image, "open", fail)
    with pytest.raises(DataError, match=r"^w: unreadable or truncated image \(ValueError\)$"):
        load_image(b"x", "w")


def test_noise_is_measured_on_colours_not_palette_indices():
    """A palette tile alternating indices 0 and 1 is rough if those are black and light grey."""
    def tile(step_index: int) -> Image.Image:
        img = Image.fromarray(np.tile(np.array([0, step_index], np.uint8), (6, 6)), "P")
        img.putpalette([0, 0, 0, 200, 200, 200] + [0] * 762)
        return img

    assert noise_free_views([tile(0), tile(0), tile(1), tile(1)]) == 2


@pytest.mark.parametrize("width, orig, want", [(1, 1, 4), (600, 1, 1), (2, 1, 2)])
def test_fsns_views_of_the_smallest_sizes(width, orig, want):
    assert fsns_views(width, orig) == want


def test_small_views_still_get_a_real_crop():
    """On a 12x12 view some drawn aspects leave no height to choose: they are redrawn, not given up on."""
    view = Image.new("RGB", (12, 12))
    assert all(_random_crop(view, random.Random(s))[1] != (0, 0, 12, 12) for s in range(300))


def test_boxes_cut_by_the_crop_are_clipped_and_boxes_outside_it_vanish():
    crop = [(20, 20, 70, 70)]  # in a 100x100 tile: x and y from 0.2 to 0.7
    boxes = np.array([[[0.1, 0.3, 0.3, 0.4]], [[0.3, 0.6, 0.4, 0.9]], [[0.8, 0.3, 0.9, 0.4]],
                      [[0.3, 0.75, 0.4, 0.9]], [[0.7, 0.3, 0.8, 0.4]]])  # left-cut, bottom-cut, right, below, edge
    out = crop_glyphs(boxes, crop, (100, 100), [0])
    np.testing.assert_allclose(out[0, 0], [0.0, 0.2, 0.2, 0.4], atol=1e-6)
    np.testing.assert_allclose(out[1, 0], [0.2, 0.8, 0.4, 1.0], atol=1e-6)
    assert np.isnan(out[2:, 0]).all()  # wholly right of or below the crop, or touching its edge only


def test_hue_wraps_around_pil_s_256_step_circle():
    want = Image.new("HSV", (1, 1), (205, 255, 255)).convert("RGB").getpixel((0, 0))  # 0 - int(0.2 * 255), mod 256
    assert _hue(Image.new("RGB", (1, 1), (255, 0, 0)), -0.2).getpixel((0, 0)) == want


def test_the_jitter_defaults_are_the_references():
    import inspect

    defaults = [p.default for p in inspect.signature(color_jitter).parameters.values()][2:]
    assert defaults == [32 / 255, 0.5, 0.5, 0.2]


def test_saturation_stays_within_one_plus_minus_its_range():
    red = Image.new("RGB", (1, 1), (200, 40, 40))
    spreads = []
    for s in range(100):
        px = color_jitter(red, random.Random(s), brightness=0, contrast=0, hue=0).getpixel((0, 0))
        spreads.append((max(px) - min(px)) / 160)
    assert 0.48 <= min(spreads) < 0.6 and 1.4 < max(spreads) <= 1.52


def test_training_reads_the_real_views_over_missing_ones_with_a_drawn_interpolation(monkeypatch):
    spec = ImageSpec(8, 8, 4)
    rng_img = np.random.default_rng(5).integers(0, 256, (10, 40, 3), np.uint8)
    img = Image.fromarray(rng_img)
    repeated = Image.fromarray(np.concatenate([rng_img[:, :20], rng_img[:, :20]], axis=1))  # tiles 0, 1, 0, 1
    np.testing.assert_array_equal(train_transform(img, spec, random.Random(7), present=2),
                                  train_transform(repeated, spec, random.Random(7)))
    glyphs = np.tile(np.array([0.3, 0.3, 0.7, 0.7]), (1, 4, 1))
    glyphs[0, 2:] = np.nan  # no glyph on the noise tiles: the real tiles' boxes are read for views 2 and 3
    _, boxes = train_transform(img, spec, random.Random(7), present=2, glyphs=glyphs)
    assert np.isfinite(boxes).all()
    used, resize = [], Image.Image.resize

    def spy(self, size, resample=None, *a, **kw):
        used.append(resample)
        return resize(self, size, resample, *a, **kw)

    monkeypatch.setattr(Image.Image, "resize", spy)
    for s in range(20):
        train_transform(img, spec, random.Random(s))
    assert set(used) == set(INTERPOLATIONS)


def test_a_box_wholly_left_of_the_crop_vanishes():
    out = crop_glyphs(np.array([[[0.05, 0.3, 0.15, 0.4]]]), [(20, 20, 70, 70)], (100, 100), [0])
    assert np.isnan(out).all()


def test_hue_moves_by_shift_times_255_steps():
    want = Image.new("HSV", (1, 1), (127, 255, 255)).convert("RGB").getpixel((0, 0))  # int(0.5 * 255) = 127, not 128
    assert _hue(Image.new("RGB", (1, 1), (255, 0, 0)), 0.5).getpixel((0, 0)) == want


def test_the_default_hue_jitter_moves_at_most_a_fifth_of_the_circle():
    red = Image.new("RGB", (1, 1), (255, 0, 0))
    moved = []
    for s in range(100):
        h = color_jitter(red, random.Random(s), brightness=0, contrast=0, saturation=0).convert("HSV").getpixel((0, 0))[0]
        moved.append(min(h, 256 - h))
    assert 40 < max(moved) <= 52


def test_the_pages_layout_comes_from_the_regions_a_model_that_cuts_its_views_read():
    from seqocr.imaging.preprocess import region_layout

    # an FSNS strip of 600x150: 4 tiles of 150; views 2 and 3 read tiles 0 and 1 again (noise filler replaced)
    regions = [[10, 20, 130, 80], [160, 0, 290, 150], [0, 0, 150, 150], [160, 0, 290, 150]]
    assert region_layout(regions, (600, 150), 4) == {
        "tiles": 4, "sources": [0, 1, 0, 1],
        "crops": [[0.0667, 0.1333, 0.8667, 0.5333], [0.0667, 0.0, 0.9333, 1.0], [0.0, 0.0, 1.0, 1.0],
                  [0.0667, 0.0, 0.9333, 1.0]]}
    assert region_layout([[0, 0, 150, 150], [150, 0, 300, 150], [300, 0, 450, 150], [450, 0, 600, 150]],
                         (600, 150), 4) == {"tiles": 4, "sources": [0, 1, 2, 3]}  # whole views: no crops
    photo = region_layout([[40, 30, 200, 110]] * 4, (320, 240), 4)  # one tile, read in every view
    assert photo == {"tiles": 1, "sources": [0] * 4, "crops": [[0.125, 0.125, 0.625, 0.4583]] * 4}


@pytest.mark.parametrize("size, num_views, tiles", [((450, 100), 4, 1), ((440, 100), 4, 4), ((300, 150), 2, 2),
                                                    ((320, 100), 4, 1), ((150, 150), 1, 1)])
def test_the_page_cuts_a_strip_only_within_half_a_view_of_num_views_times_as_wide(size, num_views, tiles):
    from seqocr.imaging.preprocess import region_layout

    assert region_layout([[0, 0, 10, 10]], size, num_views)["tiles"] == tiles


def test_the_pages_region_belongs_to_the_tile_it_starts_in_to_the_half_pixel():
    from seqocr.imaging.preprocess import region_layout

    def source(x0):
        return region_layout([[x0, 0, x0 + 20, 150]], (600, 150), 4)["sources"][0]
    assert [source(x) for x in (0, 149, 149.4, 149.5, 150, 449.6)] == [0, 0, 0, 1, 1, 3]
