"""The training augmentation as batched tensor ops (data.augment_on: device, train/augment.py), run here on the CPU:
the boxes follow the crops, the draws are the step's, the colours stay in range, and the Pillow path's statistics
are matched; a tiny run trains with it end to end."""

import json
import math
import random

import numpy as np
import pytest
import torch

from seqocr.config import validate
from seqocr.data.datasets import SynthDataset
from seqocr.data.synth import synth_glyphs
from seqocr.errors import ConfigError
from seqocr.imaging.preprocess import ImageSpec, tile_size, tiles, train_transform
from seqocr.train.augment import augment_views, shift_hue, step_seed
from seqocr.train.loop import train
from tests.helpers import tiny_config

SPEC = ImageSpec(32, 32, 4)


def boxed_tiles(b: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Dark uint8 tiles (B, 3, 40, 4·40), one bright box per view, and that box as a glyph (B, 2, 4, 4) in
    fractions of the tile (the second glyph NaN: past the text)."""
    th, tw = tile_size(SPEC)
    x = torch.full((b, 3, th, 4 * tw), 20, dtype=torch.uint8)
    glyphs = torch.full((b, 2, 4, 4), math.nan)
    rng = random.Random(0)
    for i in range(b):
        for v in range(4):
            x0, y0 = rng.randrange(8, 20), rng.randrange(8, 20)
            x[i, :, y0:y0 + 12, v * tw + x0:v * tw + x0 + 12] = 230
            glyphs[i, 0, v] = torch.tensor([x0 / tw, y0 / th, (x0 + 12) / tw, (y0 + 12) / th])
    return x, glyphs


def test_the_boxes_follow_the_crops_and_the_colours_stay_in_range():
    x, glyphs = boxed_tiles()
    out, moved = augment_views(x, SPEC, step_seed(1, 0, 5), glyphs)
    assert out.shape == (3, 3, 32, 128) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1 and torch.isnan(moved[:, 1]).all()
    for i in range(3):
        for v in range(4):
            x0, y0, x1, y1 = moved[i, 0, v].tolist()
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
            view = out[i, :, :, v * 32:(v + 1) * 32].mean(0)
            inside = torch.zeros(32, 32, dtype=torch.bool)
            inside[math.ceil(y0 * 32) + 1:int(y1 * 32) - 1, math.ceil(x0 * 32) + 1:int(x1 * 32) - 1] = True
            assert view[inside].mean() > view[~inside].mean() + 0.5  # the bright box is where the glyph box says


def test_the_draws_are_the_steps_own():
    x, _ = boxed_tiles()
    a = augment_views(x, SPEC, step_seed(1, 0, 5))[0]
    assert torch.equal(a, augment_views(x, SPEC, step_seed(1, 0, 5))[0])  # a resumed run draws the same
    channels_last = x.contiguous(memory_format=torch.channels_last)  # as to_device hands a batch over on CUDA
    assert torch.equal(a, augment_views(channels_last, SPEC, step_seed(1, 0, 5))[0])
    for other in (step_seed(1, 0, 6), step_seed(1, 1, 5), step_seed(2, 0, 5)):
        assert not torch.equal(a, augment_views(x, SPEC, other)[0])


def test_hue_turns_like_pillows_hsv():
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    shift = 0.25
    h, s, v = Image.fromarray(rgb).convert("HSV").split()
    want = np.asarray(Image.merge("HSV", (h.point(lambda p: (p + int(shift * 255)) % 256), s, v)).convert("RGB"))
    got = shift_hue(torch.from_numpy(rgb).permute(2, 0, 1)[None].float(), torch.tensor([shift * 255 // 1 / 256]))
    assert np.abs(got[0].permute(1, 2, 0).numpy() - want).mean() < 3  # Pillow rounds H, S, V to 8 bits


def test_the_device_path_matches_the_pillow_paths_statistics():
    """The same 24 generated signs through both paths: mean, spread and contrast of the views agree."""
    spec = ImageSpec(64, 64, 4)
    signs = [synth_glyphs(0, i, "train")[0] for i in range(24)]
    pillow = np.stack([train_transform(img, spec, random.Random(i)) for i, img in enumerate(signs)])
    batch = torch.from_numpy(np.stack([tiles(img, spec) for img in signs]))
    device = augment_views(batch, spec, step_seed(0, 0, 0))[0].numpy()
    for stat in (np.mean, np.std, lambda a: np.abs(np.diff(a, axis=-1)).mean()):
        assert abs(stat(pillow) - stat(device)) < 0.1 * max(abs(stat(pillow)), 0.2), stat


def test_workers_send_uint8_tiles_and_boxes_in_tile_fractions():
    ds = SynthDataset(0, 4, SPEC, augment="device", glyphs=True)
    image, text, _, boxes = ds[1]
    assert image.dtype == np.uint8 and image.shape == (3, 40, 160) and boxes.shape == (len(text), 4, 4)
    np.testing.assert_array_equal(boxes, synth_glyphs(0, 1, "train")[3])


def test_a_tiny_run_trains_with_the_augmentation_on_the_device(tmp_path):
    cfg = tiny_config(tmp_path, data={"val": "", "augment": True, "augment_on": "device"},
                      train={"steps": 2, "attention_loss": 0.2})
    train(cfg, progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in log if "loss" in e]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses) and "glyph_loss" in log[-1]
    cfg.data.augment_on = "gpu"
    with pytest.raises(ConfigError, match="data.augment_on: unknown place 'gpu'; choose from workers, device"):
        validate(cfg)
