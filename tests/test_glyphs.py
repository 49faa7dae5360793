"""Glyph boxes from the generator and the attention loss they feed (issue 11 item 4)."""

import json
import math
import random

import numpy as np
import pytest
import torch

from seqocr.data.synth import TILE, VIEWS, label_glyphs, render_glyphs, synth_glyphs, synth_record
from seqocr.data.synth.scene import glyphs_in_view
from seqocr.errors import ConfigError
from seqocr.preprocess import ImageSpec, crop_glyphs, train_transform
from seqocr.train.loop import Trainer
from seqocr.train.losses import glyph_attention_loss, glyph_cells
from tests.helpers import tiny_config


def test_the_generator_boxes_every_painted_character_in_every_real_view():
    image, text, present, glyphs = synth_glyphs(1, 3, "test")
    again, text2, present2 = synth_record(1, 3, "test")
    assert (text, present) == (text2, present2) and np.array_equal(np.asarray(image), np.asarray(again))
    assert glyphs.shape == (len(text), VIEWS, 4)
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    assert np.isnan(glyphs[spaces]).all()
    real = np.delete(glyphs[:, :present], spaces, axis=0)
    inside = ~np.isnan(real[..., 0])
    assert inside.mean() > 0.9  # a view may crop the plate
    boxes = real[inside]
    assert ((boxes >= 0) & (boxes <= 1)).all() and (boxes[:, 2] > boxes[:, 0]).all()
    # capitals a few pixels tall, well inside a 150-pixel view
    heights = (boxes[:, 3] - boxes[:, 1]) * TILE
    assert 3 < np.median(heights) < 40


def test_a_glyph_box_sits_on_ink():
    """Where the boxes say a glyph is, the plate's ink contrasts with the plate: more pixel spread inside the boxes
    than in the same-sized strip just under the plate's text lines would be too fragile, so compare with the
    view's mean absolute deviation inside vs. outside all boxes, on a sharp, unrotated sample."""
    rng = random.Random(5)
    image, _present, glyphs = render_glyphs("Rue Victor Hugo", rng)
    view = np.asarray(image.convert("L"), np.float32)[:, :TILE]
    mask = np.zeros(view.shape, bool)
    for x0, y0, x1, y1 in glyphs[:, 0]:
        if not math.isnan(x0):
            mask[int(y0 * TILE):math.ceil(y1 * TILE), int(x0 * TILE):math.ceil(x1 * TILE)] = True
    assert mask.any()
    inside, outside = view[mask], view[~mask]
    assert inside.std() > outside.std() * 0.5 and abs(inside.mean() - outside.mean()) > 1.0


def test_label_glyphs_maps_characters_to_painted_boxes_and_gives_up_on_a_length_mismatch():
    boxes = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = label_glyphs("a b c", [boxes])
    assert np.array_equal(out[[0, 2, 4], 0], boxes) and np.isnan(out[[1, 3]]).all() and np.isnan(out[:, 1:]).all()
    assert np.isnan(label_glyphs("ab", [boxes])).all()


def test_glyphs_in_view_follows_the_plates_corners():
    quad = [(0.1, 0.2), (0.5, 0.2), (0.5, 0.4), (0.1, 0.4)]  # no perspective: a scaled, moved plate
    out = glyphs_in_view(np.array([[0.0, 0.0, 0.5, 1.0], [0.9, 0.5, 1.0, 1.0]]), quad)
    assert np.allclose(out, [[0.1, 0.2, 0.3, 0.4], [0.46, 0.3, 0.5, 0.4]], atol=1e-6)
    assert np.isnan(glyphs_in_view(np.array([[0.0, 0.0, 0.5, 1.0]]), [(1.2, 0), (2, 0), (2, 1), (1.2, 1)])).all()


def test_boxes_follow_the_training_crop_and_the_repeated_views():
    glyphs = np.full((1, 4, 4), np.nan, np.float32)
    glyphs[0, 0] = [0.2, 0.2, 0.4, 0.4]
    out = crop_glyphs(glyphs, [(30, 30, 130, 130)] * 4, (150, 150), [0, 0, 0, 0])  # 1 real view, repeated
    assert np.allclose(out[0], [[0.0, 0.0, 0.3, 0.3]] * 4)
    x, moved = train_transform(render_glyphs("Rue de la Gare", random.Random(2))[0], ImageSpec(32, 32, 4),
                               random.Random(3), None, glyphs)
    assert x.shape == (3, 32, 128) and moved.shape == glyphs.shape


def test_glyph_cells_and_the_attention_loss_by_hand():
    cells = glyph_cells(torch.tensor([[0.0, 0.0, 0.3, 0.4], [float("nan")] * 4]), rows=2, cols=4)
    assert cells[0].tolist() == [[True, True, False, False], [False, False, False, False]]
    assert not cells[1].any()
    attention = torch.tensor([[[0.5, 0.25, 0.25, 0, 0, 0, 0, 0], [1 / 8] * 8]])        # (B=1, T=2, S=8)
    loss = glyph_attention_loss(attention, cells.flatten(1).unsqueeze(0))             # step 2 has no glyph
    assert loss.item() == pytest.approx(-math.log(0.75))
    assert glyph_attention_loss(attention, torch.zeros(1, 2, 8, dtype=torch.bool)).item() == 0.0


def test_training_with_the_glyph_attention_loss_logs_it(tmp_path):
    cfg = tiny_config(tmp_path, train={"steps": 2, "attention_loss": 0.5, "ckpt_every": 0},
                      data={"val": "", "train": "synth", "augment": True},
                      model={"train_views": 2, "rows": "keep", "view_height": 32, "view_width": 32})
    Trainer(cfg, progress=False).fit()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and all(r["glyph_loss"] > 0 for r in log)


def test_the_glyph_attention_loss_needs_generated_data(tmp_path):
    cfg = tiny_config(tmp_path, train={"attention_loss": 0.5}, data={"train": str(tmp_path / "labels.tsv")})
    with pytest.raises(ConfigError, match="attention_loss"):
        Trainer(cfg, progress=False)


def test_trailing_noise_tiles_are_found_by_their_look_and_replaced_by_the_real_views():
    from seqocr.preprocess import noise_free_views, split_views

    image, _, present = next(r for r in (synth_record(0, i) for i in range(300)) if r[2] == 2)
    tiles = split_views(image, 4, present=4)
    assert noise_free_views(tiles) == 2
    views = split_views(image, 4)
    assert [np.array_equal(np.asarray(views[i]), np.asarray(tiles[i % 2])) for i in range(4)] == [True] * 4
    whole = next(r for r in (synth_record(0, i) for i in range(50)) if r[2] == 4)[0]
    assert noise_free_views(split_views(whole, 4, present=4)) is None
