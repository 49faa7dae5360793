import io
import itertools
import random

import numpy as np
import pytest
from PIL import Image

from seqocr.charset import EOS, PAD
from seqocr.data.datasets import Collate, StreamSampler, encode_targets
from seqocr.errors import DataError
from seqocr.imaging.preprocess import ImageSpec, _random_crop, eval_transform, load_image, train_transform, view_images


def strip(w=600, h=150):
    x = np.zeros((h, w, 3), np.uint8)
    for i in range(4):  # each view a different flat colour
        x[:, i * w // 4:(i + 1) * w // 4] = (60 * i, 255 - 60 * i, 30)
    return Image.fromarray(x)


def test_a_four_view_strip_is_split_and_another_image_is_repeated():
    views = view_images(strip(), 4)
    assert [v.size for v in views] == [(150, 150)] * 4
    assert [v.getpixel((75, 75)) for v in views] == [(0, 255, 30), (60, 195, 30), (120, 135, 30), (180, 75, 30)]
    photo = Image.new("RGB", (300, 100), (9, 9, 9))
    assert view_images(photo, 4) == [photo] * 4


def test_eval_transform_layout_and_range():
    x = eval_transform(strip(), ImageSpec(32, 32, 4))
    assert x.shape == (3, 32, 128) and x.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1
    assert np.allclose(x[:, 16, 16], [-1, 1, 2 * 30 / 255 - 1])           # view 0's colour, scaled to [-1, 1]
    assert np.allclose(x[:, 16, 32 + 16], [2 * 60 / 255 - 1, 2 * 195 / 255 - 1, 2 * 30 / 255 - 1])


def test_train_transform_is_reproducible_and_random():
    spec = ImageSpec(32, 32, 4)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (150, 600, 3), dtype=np.uint8))
    a = train_transform(img, spec, random.Random(5))
    assert np.array_equal(a, train_transform(img, spec, random.Random(5)))
    assert not np.array_equal(a, train_transform(img, spec, random.Random(6)))
    assert a.shape == (3, 32, 128) and a.min() >= -1 and a.max() <= 1


def test_random_crop_keeps_at_least_80_percent_of_the_area():
    rng = random.Random(0)
    view = Image.new("RGB", (150, 150))
    for _ in range(200):
        w, h = _random_crop(view, rng)[0].size
        assert w < 150 and h < 150 and w * h >= 0.8 * 150 * 150 * 0.97 and 0.75 <= w / h <= 1.25


@pytest.mark.parametrize("data, message", [(b"", "unreadable or truncated"), (b"\x89PNG\r\n\x1a\n" + b"0" * 50,
                                                                                  "unreadable or truncated")])
def test_bad_images(tmp_path, data, message):
    p = tmp_path / "x.png"
    p.write_bytes(data)
    with pytest.raises(DataError, match=message):
        load_image(p)


def test_truncated_png_is_caught(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (150, 600, 3), dtype=np.uint8)).save(buf, "PNG")
    p = tmp_path / "t.png"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DataError, match="t.png: unreadable or truncated image"):
        load_image(p)
    with pytest.raises(DataError, match="image file not found"):
        load_image(tmp_path / "missing.png")


def test_stream_sampler_is_reproducible_covers_each_epoch_and_resumes():
    stream = list(itertools.islice(StreamSampler(10, seed=3), 25))
    assert stream == list(itertools.islice(StreamSampler(10, seed=3), 25))
    assert [p for _, p in stream] == list(range(25))
    for epoch in range(2):
        assert sorted(i for i, _ in stream[epoch * 10:(epoch + 1) * 10]) == list(range(10))
    assert stream[:10] != stream[10:20]                       # a new permutation each epoch
    assert list(itertools.islice(StreamSampler(10, seed=3, start=13), 12)) == stream[13:25]


def test_targets_and_collate(fsns):
    t = encode_targets(["Rue", "A"], fsns, 5, ["a", "b"])
    assert t.tolist() == [fsns.encode("Rue") + [EOS, PAD], fsns.encode("A") + [EOS, PAD, PAD, PAD]]
    with pytest.raises(DataError, match="x: label of 5 characters does not fit 5 decoder steps"):
        encode_targets(["Rue A"], fsns, 5, ["x"])
    batch = Collate(fsns, 6)([(np.zeros((3, 2, 8), np.float32), "Rue", "s0"), (None, "broken", "s1")])
    assert batch["images"].shape == (1, 3, 2, 8) and batch["texts"] == ["Rue"] and batch["bad"] == [("s1", "broken")]


def test_stream_sampler_shards_ranks_without_overlap():
    size, world = 12, 2
    per_rank = [list(itertools.islice(StreamSampler(size, 7, rank=r, world=world), size // world))
                for r in range(world)]
    indices = [i for rank in per_rank for i, _ in rank]
    assert sorted(indices) == list(range(size))                   # one epoch: each sample exactly once
    single = list(itertools.islice(StreamSampler(size, 7), size))
    assert [k for pair in zip(*per_rank) for k in pair] == single  # interleaved ranks = the 1-process stream


def test_fsns_missing_views_are_filled_with_the_real_ones():
    from seqocr.imaging.preprocess import fsns_views

    assert fsns_views(600, 600) == 4 and fsns_views(600, 450) == 3 and fsns_views(600, 150) == 1
    assert fsns_views(0, 0) is None
    views = view_images(strip(), 4, present=3)
    assert [v.getpixel((75, 75)) for v in views] == [(0, 255, 30), (60, 195, 30), (120, 135, 30), (0, 255, 30)]
