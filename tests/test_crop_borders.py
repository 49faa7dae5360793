"""The text crop at the edges of a view (``seqocr.imaging.textcrop.grow``): text found against every border and in every
corner, and text wider than the view, gives a crop inside the view that holds the text with its margins, in the
model's view shape wherever the view can hold that. Today's API: the detector's box in fractions of the view in,
the crop in pixels out; the crop keeps these properties wherever it is computed."""

from __future__ import annotations

import pytest

from seqocr.imaging.textcrop import MARGIN, grow

# a line of text 30 % of the view wide and 10 % high, placed against each border and in each corner
SPOTS = {
    "left": (0.0, 0.45, 0.3, 0.55), "right": (0.7, 0.45, 1.0, 0.55),
    "top": (0.35, 0.0, 0.65, 0.1), "bottom": (0.35, 0.9, 0.65, 1.0),
    "top left": (0.0, 0.0, 0.3, 0.1), "top right": (0.7, 0.0, 1.0, 0.1),
    "bottom left": (0.0, 0.9, 0.3, 1.0), "bottom right": (0.7, 0.9, 1.0, 1.0),
}
VIEWS = [(150, 150), (300, 120), (120, 300)]  # an FSNS view, a wide photo, a tall one
ASPECTS = [2.0, 1.0, 4.0]


def with_margins(box, size):
    """The detected text widened by MARGIN, clipped to the view, in pixels: what the crop must hold."""
    (w, h), (x0, y0, x1, y1) = size, box
    return (max(0.0, x0 - MARGIN[0]) * w, max(0.0, y0 - MARGIN[1]) * h, min(1.0, x1 + MARGIN[0]) * w,
            min(1.0, y1 + MARGIN[1]) * h)


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("size", VIEWS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("spot", SPOTS)
def test_a_crop_at_a_border_or_corner_stays_in_the_view_and_holds_the_text(spot, size, aspect):
    w, h = size
    x0, y0, x1, y1 = grow(SPOTS[spot], size, aspect)
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (x0, y0, x1, y1)
    tx0, ty0, tx1, ty1 = with_margins(SPOTS[spot], size)
    assert x0 <= tx0 + 0.5 and tx1 - 0.5 <= x1 and y0 <= ty0 + 0.5 and ty1 - 0.5 <= y1  # rounded to pixels
    if x1 - x0 < w and y1 - y0 < h:  # not clipped by the view: the model's shape, to the pixel
        assert abs((x1 - x0) - aspect * (y1 - y0)) <= 1 + aspect, (x0, y0, x1, y1)


@pytest.mark.parametrize("spot, crop", [
    # the text with its margins: x 87-150 (63 px), y 55.5-94.5 (39): grown to 78 x 39 for aspect 2 about its
    # centre (118.5, 75), which would end at 157.5: shifted left to end at the view's edge
    ("right", (72, 56, 150, 94)),
    # x 34.5-115.5 (81), y 123-150 (27): 81 x 40.5 about (75, 136.5), which would end at 156.75: shifted up
    ("bottom", (34, 110, 116, 150)),
    # x 87-150 (63), y 123-150 (27): 63 x 31.5, shifted up to end at the bottom
    ("bottom right", (87, 118, 150, 150)),
    # x 0-63, y 0-27: 63 x 31.5 about (31.5, 13.5), shifted down to start at the top
    ("top left", (0, 0, 63, 32)),
])
def test_a_crop_against_the_right_or_bottom_edge_is_shifted_in_not_cut(spot, crop):
    assert grow(SPOTS[spot], (150, 150), 2.0) == crop


@pytest.mark.parametrize("size", VIEWS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_text_wider_than_the_view_gives_the_views_whole_width(size):
    """A line that runs off both sides (its margins reach past the view) is cropped to the view's width, as high
    as the view shape asks for and the view allows, about the text's centre."""
    w, h = size
    x0, y0, x1, y1 = grow((0.0, 0.4, 1.0, 0.5), size, 2.0)
    assert (x0, x1) == (0, w)
    want_h = min(h, max(0.26 * h, w / 2.0))  # the text with margins is 26 % of the view high
    assert abs((y1 - y0) - want_h) <= 1 and 0 <= y0 and y1 <= h
    assert y0 <= 0.32 * h + 0.5 and 0.58 * h - 0.5 <= y1  # holds the text with its margins


def test_a_tall_box_grown_to_a_wide_shape_is_held_by_the_view():
    """A narrow, tall region asks for a crop four times its height wide: wider than the view, so the crop is the
    view's width and, to keep the text, the text's own height."""
    assert grow((0.45, 0.1, 0.55, 0.9), (150, 150), 4.0) == (0, 3, 150, 147)


def test_the_found_box_is_the_union_of_the_true_pixels_to_the_pixel():
    import numpy as np

    from seqocr.imaging.textcrop import mask_box

    mask = np.zeros((10, 20), bool)
    mask[2:5, 3:8] = True                                   # rows 2-4, columns 3-7
    mask[7, 12] = True                                      # and one pixel further down and right: the union
    assert mask_box(mask) == (3 / 20, 2 / 10, 13 / 20, 8 / 10)
    assert mask_box(mask[:5, :8]) == (3 / 8, 2 / 5, 8 / 8, 5 / 5)   # text to the right and bottom edges
    assert mask_box(np.zeros((4, 4), bool)) is None


def fake_maps(monkeypatch, *maps):
    """The detector's probability maps replaced by ``maps`` (one per distinct view): the box rule on its own."""
    import numpy as np

    from seqocr.imaging import textcrop

    asked = []

    def probability_maps(views, threads=1):
        asked.append(threads)
        return np.stack(maps[:len(views)])

    monkeypatch.setattr(textcrop, "probability_maps", probability_maps)
    return asked


def band(x0: int, y0: int, x1: int, y1: int, value: float = 0.9):
    import numpy as np

    m = np.zeros((100, 100))
    m[y0:y1, x0:x1] = value
    return m


@pytest.mark.parametrize("found", [band(50, 40, 52, 60),     # a sliver 2 % wide, 20 % high, mid-view
                                   band(40, 50, 60, 52),     # a sliver 2 % high, 20 % wide (grown, neither is whole)
                                   band(20, 20, 80, 60, value=0.3)])   # at the threshold, not over it
def test_a_sliver_or_a_map_at_the_threshold_reads_the_view_whole(found, monkeypatch):
    from PIL import Image

    from seqocr.imaging.textcrop import text_boxes

    asked = fake_maps(monkeypatch, found)
    assert text_boxes([Image.new("RGB", (150, 150))], 2.0, threads=3) == [(0, 0, 150, 150)]
    assert asked == [3]  # the caller's threads reach the detector


def test_a_box_over_the_threshold_and_over_the_sliver_size_is_grown_and_the_detector_runs_on_one_thread(
        monkeypatch):
    from PIL import Image

    from seqocr.imaging.textcrop import text_boxes

    asked = fake_maps(monkeypatch, band(40, 40, 60, 50))     # (0.4, 0.4, 0.6, 0.5), as the worked example
    view = Image.new("RGB", (150, 150))
    assert text_boxes([view, view], 2.0) == [grow((0.4, 0.4, 0.6, 0.5), (150, 150), 2.0)] * 2  # detected once
    assert asked == [1]


def test_a_view_too_small_to_hold_a_box_is_read_whole():
    # boxes of a 1-pixel view that round to no width or no height (left == right, top == bottom) give the view
    assert grow((0.3, 0.3, 0.3, 0.3), (1, 1), 0.1) == (0, 0, 1, 1)    # rounded to (0, 0, 0, 1): no width
    assert grow((0.3, 0.3, 0.3, 0.3), (1, 1), 4.0) == (0, 0, 1, 1)    # rounded to (0, 0, 1, 0): no height
    assert grow((0.65, 0.1, 0.65, 0.1), (1, 1), 0.1) == (0, 0, 1, 1)  # rounded to (1, 0, 1, 1): no width


def test_text_too_wide_for_a_tall_view_shape_keeps_its_width_at_the_views_height():
    # views meant to be read 0.5 wide per unit of height: this text (132 px with its margins) grown to that shape
    # would be 264 px high, more than the view's 100; it keeps the view's height and its own width
    assert grow((0.4, 0.4, 0.6, 0.6), (300, 100), 0.5) == (84, 0, 216, 100)


def test_without_the_rapidocr_wheel_the_crop_says_what_needs_it(monkeypatch):
    import importlib.util

    from seqocr.errors import DataError
    from seqocr.imaging import textcrop

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "rapidocr" else real(name, *a))
    with pytest.raises(DataError, match=r'^model.crop: text needs the rapidocr wheel: pip install --no-deps "rapidocr'):
        textcrop._session(97)  # a thread count no session was opened with
