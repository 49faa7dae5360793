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
from seqocr.imaging.preprocess import ImageSpec, crop_glyphs, train_transform
from seqocr.train.loop import Trainer
from seqocr.train.losses import char_map_loss, char_map_targets, glyph_attention_loss, glyph_cells
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
    """Inside a glyph's box, ink on enamel: its pixels vary far more than those of the same box moved two glyph
    heights down (plate, border or background)."""
    for seed in range(3):
        image, _, glyphs = render_glyphs("Rue Victor Hugo", random.Random(seed))
        view = np.asarray(image.convert("L"), np.float32)[:, :TILE]
        on, off = [], []
        for x0, y0, x1, y1 in glyphs[:, 0]:
            if math.isnan(x0):
                continue
            top, bottom, left, right = int(y0 * TILE), math.ceil(y1 * TILE), int(x0 * TILE), math.ceil(x1 * TILE)
            on.append(view[top:bottom, left:right].std())
            below = view[top + 2 * (bottom - top):bottom + 2 * (bottom - top), left:right]
            if below.size:
                off.append(below.std())
        assert len(on) == len("RueVictorHugo") and np.median(on) > 2 * np.median(off)


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


def test_char_map_targets_take_the_first_glyph_on_each_cell_and_background_elsewhere():
    cells = torch.tensor([[[True, True, False], [False, True, True]]])       # (B=1, T=2, 3 cells)
    targets = torch.tensor([[7, 9]])
    assert char_map_targets(cells, targets).tolist() == [[7, 7, 9]]
    assert char_map_targets(torch.zeros(1, 2, 3, dtype=torch.bool), targets).tolist() == [[0, 0, 0]]
    logits = torch.full((1, 3, 10), -20.0)
    logits[0, [0, 1, 2], [7, 7, 9]] = 20.0
    assert char_map_loss(logits, torch.tensor([[7, 7, 9]])).item() < 1e-6


def test_training_with_the_glyph_losses_logs_them_and_a_head_less_model_starts_it(tmp_path, capsys):
    from seqocr.train.loop import train

    model = {"train_views": 2, "rows": "keep", "view_height": 32, "view_width": 32}
    data = {"val": "", "train": "synth", "augment": True}
    first = tiny_config(tmp_path, train={"steps": 2, "ckpt_every": 0, "out_dir": str(tmp_path / "a")}, data=data,
                        model=model)
    Trainer(first, progress=False).fit()
    cfg = tiny_config(tmp_path, train={"steps": 2, "attention_loss": 0.5, "char_map_loss": 0.5, "ckpt_every": 0,
                                       "init_from": str(tmp_path / "a" / "last.pt")},
                      data=data, model={**model, "char_map": True})
    cfg.given = frozenset({"model.char_map"})
    train(cfg, progress=False)
    assert "has no character-map head; it starts fresh" in capsys.readouterr().out
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and all(r["glyph_loss"] > 0 and r["char_map_loss"] > 0 for r in log)
    done = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    assert done["char_head.weight"].shape[:2] == (done["out.weight"].shape[0], 16)


def test_the_glyph_losses_need_their_head_and_generated_data(tmp_path):
    from seqocr.config import validate
    from seqocr.model import check_config

    with pytest.raises(ConfigError, match="model.char_map"):  # the default model's own check
        check_config(tiny_config(tmp_path, train={"char_map_loss": 0.5}))
    for loss in ("attention_loss", "char_map_loss"):
        cfg = tiny_config(tmp_path, train={loss: 0.5}, model={"char_map": True},
                          data={"train": str(tmp_path / "labels.tsv")})
        with pytest.raises(ConfigError, match=loss):
            validate(cfg)


def test_trailing_noise_tiles_are_found_by_their_look_and_replaced_by_the_real_views():
    from seqocr.imaging.preprocess import noise_free_views, view_images

    image, _, _present = next(r for r in (synth_record(0, i) for i in range(300)) if r[2] == 2)
    tiles = view_images(image, 4, present=4)
    assert noise_free_views(tiles) == 2
    views = view_images(image, 4)
    assert [np.array_equal(np.asarray(views[i]), np.asarray(tiles[i % 2])) for i in range(4)] == [True] * 4
    whole = next(r for r in (synth_record(0, i) for i in range(50)) if r[2] == 4)[0]
    assert noise_free_views(view_images(whole, 4, present=4)) is None


def test_the_character_map_loss_alone_gets_the_glyph_boxes(tmp_path):
    cfg = tiny_config(tmp_path, train={"steps": 1, "char_map_loss": 0.5, "ckpt_every": 0},
                      data={"val": "", "train": "synth"},
                      model={"rows": "keep", "view_height": 32, "view_width": 32, "char_map": True})
    Trainer(cfg, progress=False).fit()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[0]["char_map_loss"] > 0 and "glyph_loss" not in log[0]
