"""The greedy reader's early exit (model/views.py): read the k sharpest views, and the unsure signs again with k + 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqocr.charset import Charset
from seqocr.cli import main
from seqocr.config import Config
from seqocr.errors import ConfigError
from seqocr.model import build_model, check_config
from seqocr.model.weights import load_model
from seqocr.train.checkpoint import save_checkpoint
from tests.helpers import tiny_model_config

FSNS = Charset.fsns()


def _models(threshold: float = 0.5):
    """The same random weights reading 2 views, 3 views, and 2 then 3 under ``threshold``."""
    torch.manual_seed(0)
    two = build_model(tiny_model_config(read_views=2), len(FSNS)).eval()
    three = build_model(tiny_model_config(read_views=3), len(FSNS)).eval()
    early = build_model(tiny_model_config(read_views=2, reread_below=threshold), len(FSNS)).eval()
    three.load_state_dict(two.state_dict())
    early.load_state_dict(two.state_dict())
    return two, three, early


def _images(n: int = 8) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(n, 3, 16, 64) * torch.rand(n, 1, 1, 64)  # views of unequal detail


def _split(two, images):
    """A threshold that splits the batch: halfway between the two middle confidences of the 2-view readings (no
    reading sits on it, where a rounding difference between runtimes would decide), and who falls under it."""
    confidence = two.greedy(images)[1].prod(1)
    middle = confidence.sort().values[len(confidence) // 2 - 1:len(confidence) // 2 + 1]
    threshold = float(middle.mean())
    return threshold, confidence < threshold


def test_unsure_signs_are_read_again_with_one_view_more_and_the_rest_keep_their_reading():
    two, three, early = _models()
    images = _images()
    early.reread_below, unsure = _split(two, images)
    assert 0 < int(unsure.sum()) < len(images)
    ids, probs = early.greedy(images)
    (i2, p2), (i3, p3) = two.greedy(images), three.greedy(images)
    assert torch.equal(ids[~unsure], i2[~unsure]) and torch.equal(probs[~unsure], p2[~unsure])
    assert torch.equal(ids[unsure], i3[unsure])
    assert torch.allclose(probs[unsure], p3[unsure], rtol=1e-5, atol=1e-7)  # the memory's order differs


def test_a_search_starts_from_the_memory_greedy_reading_read_each_sign_from():
    """The search memory of a model with the early exit: every sign's from its k sharpest views (the 2-view
    model's), and for the rows read again their k + 1 sharpest (the 3-view model's, the views in another order);
    greedy_memory gives the same for the signs it read again, or for those under ``memory_below``."""
    from seqocr.model.base import Encoding

    two, three, early = _models()
    images = _images()
    early.reread_below, unsure = _split(two, images)
    with torch.no_grad():
        start = early.search_memory(images)
        assert torch.equal(start.memory, two.encode(images)) and start.again_below == early.reread_below
        rows = torch.tensor([0, 3, 5])
        again = early.decode_steps(Encoding(start.more(rows)))
        assert torch.equal(again.ids, three.greedy_steps(images[rows]).ids)
        for below, wanted in ((torch.tensor(0.0), unsure), (torch.tensor(2.0), torch.ones_like(unsure))):
            found = early.greedy_memory(images, below)
            assert found.rows.tolist() == wanted.nonzero()[:, 0].tolist()
            assert torch.allclose(found.memory, start.more(found.rows), atol=1e-6)
            assert torch.equal(found.ids, early.greedy(images)[0])


def test_the_early_exit_at_its_extremes_reads_like_k_and_like_k_plus_one_views():
    two, three, early = _models(threshold=1.0)
    images = _images()
    assert torch.equal(early.greedy(images)[0], three.greedy(images)[0])      # everyone is unsure of something
    early.reread_below = 1e-38
    assert torch.equal(early.greedy(images)[0], two.greedy(images)[0])
    assert early.encode(images).shape == three.encode(images).shape         # beam search reads k + 1 views


def test_attention_maps_follow_the_views_each_sign_was_read_from():
    two, three, early = _models()
    images = _images()
    early.reread_below, unsure = _split(two, images)
    ids, probs, maps = early.greedy_attention(images)                      # (B, T, V, R, W)
    assert torch.equal(ids, early.greedy(images)[0]) and torch.equal(probs, early.greedy(images)[1])
    views_read = (maps.sum((1, 3, 4)) > 0).sum(1)                          # (B,)
    assert views_read.tolist() == [3 if u else 2 for u in unsure.tolist()]
    assert torch.allclose(maps.sum((2, 3, 4)), torch.ones(maps.shape[:2]), atol=1e-5)
    assert torch.allclose(maps[unsure], three.greedy_attention(images)[2][unsure], atol=1e-5)


def _early_exit_checkpoint(tmp_path):
    """Pixels of 8 signs, the images a model reads from them, which of them fall under a threshold that splits
    them, and the model reading 2 views then 3 under it, saved as tmp_path/early.pt."""
    from seqocr.model.pixels import pixel_front

    two, _, early = _models()
    torch.manual_seed(1)  # the graph reads pixels: strips of 4 views of unequal detail, cut as the graph cuts them
    # one level of detail per view (no two views equally sharp), each under FSNS noise filler's roughness (no view
    # replaced by another: a duplicate view ties for sharpness, and runtimes may break the tie apart)
    detail = (0.05 + 0.3 * torch.rand(8, 1, 4, 1)).repeat_interleave(16, 2)
    pixels = ((torch.randn(8, 16, 64, 3) * detail).clamp(-1, 1) * 127.5 + 127.5).to(torch.uint8)
    with torch.no_grad():
        images = pixel_front(early, 16, 16, 4, "")(pixels)[0]
    threshold, unsure = _split(two, images)
    cfg = Config()
    cfg.model = tiny_model_config(read_views=2, reread_below=threshold)
    save_checkpoint(tmp_path / "early.pt", cfg=cfg, charset=FSNS, model=early, step=1)
    early.reread_below = threshold
    return pixels, images, unsure, early


def test_onnx_runtime_runs_the_early_exit_inside_the_greedy_graph(tmp_path):
    import onnxruntime as ort

    from seqocr.inference.export import export_onnx

    pixels, images, unsure, early = _early_exit_checkpoint(tmp_path)
    session = ort.InferenceSession(str(export_onnx(tmp_path / "early.pt", tmp_path / "early.onnx")))
    sure = (~unsure).nonzero()[:, 0].tolist()
    assert sure and len(sure) < len(images)
    for rows in (list(range(len(images))), sure, sure[:1], unsure.nonzero()[:, 0].tolist()):  # mixed, none, all
        ids, probs = session.run(["ids", "probs"], {"pixels": pixels[rows].numpy()})
        want_ids, want_probs = early.greedy(images[rows])
        assert np.array_equal(ids, want_ids.numpy()), rows
        np.testing.assert_allclose(probs, want_probs.numpy(), rtol=1e-3, atol=1e-6)


def test_the_early_exit_needs_fewer_views_read_than_there_are(tmp_path, capsys):
    for options, message in (({"reread_below": 0.9}, "needs model.read_views from 1 to 3"),
                             ({"read_views": 4, "reread_below": 0.9}, "needs model.read_views from 1 to 3"),
                             ({"read_views": 2, "reread_below": 1.5}, r"from 0 \(never read again\) to 1")):
        cfg = Config()
        cfg.model = tiny_model_config(**options)
        with pytest.raises(ConfigError, match=message):
            check_config(cfg)

    early = _models(threshold=0.9)[2]
    cfg = Config()
    cfg.model = tiny_model_config(read_views=2, reread_below=0.9)
    save_checkpoint(tmp_path / "early.pt", cfg=cfg, charset=FSNS, model=early, step=1)
    assert load_model(tmp_path / "early.pt")[0].reread_below == 0.9
    exactly = load_model(tmp_path / "early.pt", {"read_views": 3})[0]         # a view count alone: exactly that
    assert (exactly.read_views, exactly.reread_below) == (3, 0.0)
    assert load_model(tmp_path / "early.pt", {"read_views": 3, "reread_below": 0.5})[0].reread_below == 0.5
    with pytest.raises(SystemExit):
        main(["read", "--checkpoint", str(tmp_path / "early.pt"), "--reread-below", "2", "x.png"])
    assert "--reread-below: must be from 0.0 to 1.0, got 2" in capsys.readouterr().err
    assert main(["read", "--checkpoint", str(tmp_path / "early.pt"), "--read-views", "4", "--reread-below", "0.5",
                 "x.png"]) == 1
    assert "model.reread_below reads a sign again with one view more" in capsys.readouterr().err


def test_the_onnx_runtime_greedy_graph_gives_a_search_the_memory_pytorch_searches_from(tmp_path):
    """The exported greedy graph's ``rows`` and ``memory``: the signs it read again, with their memory of one view
    more, and with ``memory_below`` fed every sign under it too (the reading itself unchanged); beam search with
    ONNX Runtime from that memory reads what PyTorch's reads."""
    import onnxruntime as ort

    from seqocr.inference.export import export_onnx
    from seqocr.inference.onnx_reader import OnnxReader
    from seqocr.inference.predictor import Predictor

    pixels, images, unsure, early = _early_exit_checkpoint(tmp_path)
    onnx_path = export_onnx(tmp_path / "early.pt", tmp_path / "early.onnx", beam=True)
    session = ort.InferenceSession(str(onnx_path))
    search = early.search_memory(images)

    def more(rows):
        return search.more(rows).detach().numpy()

    x = pixels.numpy()
    plain = session.run(["ids", "probs", "rows", "memory"], {"pixels": x})
    assert plain[2].tolist() == unsure.nonzero()[:, 0].tolist() and 0 < len(plain[2]) < len(x)
    np.testing.assert_allclose(plain[3], more(torch.from_numpy(plain[2])), atol=1e-5)
    every = session.run(["ids", "probs", "rows", "memory"], {"pixels": x, "memory_below": np.array(2, np.float32)})
    assert every[2].tolist() == list(range(len(x))) and np.array_equal(every[0], plain[0])
    np.testing.assert_allclose(every[1], plain[1], rtol=1e-5)
    np.testing.assert_allclose(every[3], more(torch.arange(len(x))), atol=1e-5)
    got = OnnxReader(onnx_path, beam=3).read_pixels(x)
    want = Predictor.from_checkpoint(tmp_path / "early.pt", beam=3).read_pixels(x)
    assert [r.text for r in got] == [r.text for r in want]
    np.testing.assert_allclose([r.confidence for r in got], [r.confidence for r in want], rtol=1e-3)
    # a gazetteer's guided search, from the memory the early-exit graph gives (memory_below fed), reads as PyTorch
    names = tmp_path / "names.txt"
    names.write_text("Rue de la Gare\nPlace Victor Hugo\n", encoding="utf-8")
    got = OnnxReader(onnx_path).guide(lexicon=names, gate=0.0).read_pixels(x)
    want = Predictor.from_checkpoint(tmp_path / "early.pt").guide(lexicon=names, gate=0.0).read_pixels(x)
    assert [(r.text, r.lexicon) for r in got] == [(r.text, r.lexicon) for r in want]
