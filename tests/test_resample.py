"""Pillow's bilinear crop-and-resize as tensor operations (seqocr.model.resample), checked against Pillow itself on
the sizes the readers meet: a 150-px FSNS tile shrunk to the detector's 96x96, a text region enlarged to 128x256,
a whole tile read at 128x256 (its width grows, its height shrinks: Pillow resizes the height first), odd sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from seqocr.model.resample import resize_regions, weights


def pillow(image: np.ndarray, region, size) -> np.ndarray:
    return np.asarray(Image.fromarray(image).crop(region).resize(size, Image.Resampling.BILINEAR))


def tensor(image: np.ndarray, region, size, **kw) -> np.ndarray:
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float()
    return resize_regions(x, torch.tensor([region], dtype=torch.float64), size, **kw)[0].permute(1, 2, 0).numpy()


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("shape, region, size", [
    ((150, 150), (0, 0, 150, 150), (96, 96)),        # a tile for the detector
    ((150, 150), (10, 20, 110, 70), (256, 128)),     # a text region, enlarged
    ((150, 150), (0, 0, 150, 150), (256, 128)),      # a whole tile: the height shrinks, the width grows
    ((150, 150), (0, 19, 150, 150), (256, 128)),     # a tall text region, the same
    ((120, 300), (0, 0, 300, 120), (96, 96)),        # a photo's tile
    ((61, 37), (3, 5, 30, 60), (64, 32)),            # odd sizes
    ((150, 150), (149, 149, 150, 150), (256, 128)),  # one pixel
])
def test_exact_sums_give_pillows_pixels(shape, region, size):
    image = noise(*shape)
    np.testing.assert_array_equal(tensor(image, region, size, exact=True), pillow(image, region, size))


def test_float32_sums_are_one_level_off_on_a_few_pixels_only():
    image = noise(150, 150, 1)
    for region, size in (((0, 0, 150, 150), (96, 96)), ((7, 40, 138, 105), (256, 128))):
        off = np.abs(tensor(image, region, size) - pillow(image, region, size))
        assert off.max() <= 1 and (off > 0).mean() < 0.005, (region, (off > 0).mean())  # measured: 0.0013 and 0


def test_the_order_of_the_passes_matters_and_is_pillows():
    """Resized width first, a whole tile read at 128x256 moves about a quarter of its pixels by one level: the test
    above would fail without the height-first order Pillow takes there."""
    image = noise(150, 150, 2)
    off = np.abs(tensor(image, (0, 0, 150, 150), (256, 128), exact=True, height_first=False)
                 - pillow(image, (0, 0, 150, 150), (256, 128)))
    assert off.max() == 1 and 0.1 < (off > 0).mean() < 0.5


def test_regions_of_many_tiles_at_once_each_as_alone():
    tiles = [noise(150, 150, k) for k in range(3)]
    regions = [(0, 0, 150, 150), (20, 30, 120, 80), (0, 10, 150, 145)]
    x = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2).float()
    got = resize_regions(x, torch.tensor(regions, dtype=torch.float64), (256, 128), exact=True).permute(0, 2, 3, 1)
    for k in range(3):
        np.testing.assert_array_equal(got[k].numpy(), pillow(tiles[k], regions[k], (256, 128)))


def test_each_row_of_weights_sums_to_one_and_stays_in_its_region():
    w = weights(torch.tensor([10.0, 0.0]), torch.tensor([50.0, 150.0]), 96, torch.tensor(150))
    assert w.shape == (2, 96, 150)
    np.testing.assert_allclose(w.sum(-1).numpy(), 1.0, atol=1e-6)
    assert (w[0, :, :10] == 0).all() and (w[0, :, 50:] == 0).all()
