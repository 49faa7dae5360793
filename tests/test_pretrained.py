"""The pretrained backbone (PP-OCRv6 rec small's, from the rapidocr wheel), the model on top, invented names."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from seqocr.charset import Charset
from seqocr.config import Config
from seqocr.data.synth import VERIFY_SEED, invent_names, sign_images, street_name, synth_sample
from seqocr.errors import ConfigError, DataError
from seqocr.model import build_model
from seqocr.model.ppocr import PPOCRBackbone, extract_onnx_backbone, load_onnx_weights, rapidocr_model_path
from seqocr.model.weights import load_model
from seqocr.shares import Shares
from seqocr.train.checkpoint import save_checkpoint
from seqocr.train.finetune import adopt_model_config
from seqocr.train.loop import Trainer, train
from seqocr.train.step import param_groups
from tests.helpers import skip_or_fail, tiny_config, tiny_model_config


def wheel_model():
    try:
        return rapidocr_model_path()
    except DataError as e:
        skip_or_fail(f"the rapidocr wheel is not installed (`make` installs it): {e}")


@pytest.fixture(scope="module")
def onnx_backbone(tmp_path_factory):
    ort = pytest.importorskip("onnxruntime")
    path = extract_onnx_backbone(wheel_model(), tmp_path_factory.mktemp("bb") / "backbone.onnx")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("shape", [(2, 3, 48, 320), (3, 3, 128, 128), (1, 3, 150, 150)])
def test_backbone_matches_onnx_runtime(onnx_backbone, shape):
    backbone = PPOCRBackbone().eval()
    load_onnx_weights(backbone)
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    expected = onnx_backbone.run(None, {"x": x})[0]
    with torch.no_grad():
        got = backbone(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape == (shape[0], 384, -(-shape[2] // 16), -(-shape[3] // 4))
    # fp32 agreement at the features' scale (up to ~10): 2e-5 of it; kernels differ by CPU (1.2e-4 on an AVX2-only
    # AMD box against < 1e-4 on AVX-512 Xeons), a wrong weight or layer is off by far more
    assert np.abs(got - expected).max() <= 2e-5 * np.abs(expected).max()


def test_loading_weights_from_another_graph_is_one_clear_error(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "conv",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    onnx.save(helper.make_model(graph), str(tmp_path / "conv.onnx"))
    with pytest.raises(DataError, match="conv.onnx: .*not the PP-OCRv6 rec small graph"):
        load_onnx_weights(PPOCRBackbone(), tmp_path / "conv.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(DataError, match="junk.onnx: not a readable ONNX model"):
        load_onnx_weights(PPOCRBackbone(), tmp_path / "junk.onnx")


def pp_config(**kw):
    return tiny_model_config(**{"max_len": 38, "backbone": "ppocrv6", "view_height": 32, "view_width": 32, **kw})


def test_frozen_backbone_gets_no_gradient_and_view_dropout_shows_k_views():
    model = build_model(pp_config(train_views=1), 136).train()
    images, targets = torch.randn(3, 3, 32, 128), torch.randint(3, 100, (3, 38))
    memory = model.encode(images)
    assert memory.shape == (3, 1 * 2 * 8, 16)  # 1 view of 2 rows x 8 columns
    out = model(images, targets)
    out.logp.sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.cnn[0].weight.grad is not None and float(out.encoding.aux["feature_scale"]) > 0
    assert out.encoding.view_pick.shape == (1, 3) and not hasattr(model, "view_pick")  # returned, not kept
    model.eval()
    assert model.encode(images).shape == (3, 4 * 2 * 8, 16)  # reading sees all four views


def test_view_dropout_picks_each_samples_own_views():
    """Sample b's memory comes from its own views: zeroing sample 1's image changes only sample 1's memory."""
    model = build_model(pp_config(train_views=2, norm="group"), 136).train()  # no batch statistics
    images = torch.randn(2, 3, 32, 128)
    torch.manual_seed(5)
    a = model.encode(images)
    images[1] = 0
    torch.manual_seed(5)
    b = model.encode(images)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])


def test_unfrozen_stages_learn_at_the_backbone_rate():
    model = build_model(pp_config(trainable_stages=2), 136)
    groups = param_groups(model, 0.01)
    slow = {id(p) for p in [*model.backbone.down2.parameters(), *model.backbone.stage3.parameters()]}
    assert [g["lr_scale"] for g in groups] == [1.0, 0.01]
    assert {id(p) for p in groups[1]["params"]} == slow
    assert not any(p.requires_grad for p in model.backbone.stage2.parameters())


def test_a_fresh_run_starts_from_the_wheels_weights_and_keeps_them_frozen(tmp_path):
    wheel_model()
    cfg = tiny_config(tmp_path, model=pp_config(backbone_weights="rapidocr").to_dict(), data={"val": ""})
    cfg.train.steps = 2
    train(cfg, progress=False)
    reference = PPOCRBackbone()
    load_onnx_weights(reference)
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    for name, value in reference.state_dict().items():
        assert torch.equal(state[f"backbone.{name}"], value), name


def l2sp_trainer(tmp_path, alpha: float) -> Trainer:
    wheel_model()
    cfg = tiny_config(tmp_path, model=pp_config(backbone_weights="rapidocr", trainable_stages=1).to_dict(),
                      data={"val": ""}, train={"l2_sp": alpha, "backbone_lr_scale": 1.0, "lr": 0.01})
    trainer = Trainer(cfg, progress=False)
    trainer.init_pretrained()
    return trainer


def test_l2_sp_anchors_the_trainable_stages_at_the_published_weights(tmp_path):
    """Issue 22 item 5: the penalty is α/2 · Σ ‖w − w₀‖² over the trainable stages only, w₀ the wheel's weights."""
    trainer = l2sp_trainer(tmp_path, 2.0)
    backbone = trainer.model.backbone
    trainable = [p for p in backbone.parameters() if p.requires_grad]
    assert len(trainer.anchors) == len(trainable) > 0 and {id(p) for p, _ in trainer.anchors} == {id(p) for p in trainable}
    assert float(trainer.l2_sp().detach()) == 0.0  # a fresh run starts at the published weights
    with torch.no_grad():
        trainable[0].view(-1)[0] += 0.1
    assert float(trainer.l2_sp().detach()) == pytest.approx(0.5 * 2.0 * 0.01, rel=1e-4)


def test_l2_sp_pulls_drifted_weights_back(tmp_path):
    from seqocr.data import build_dataset
    from seqocr.data.datasets import Collate

    published = PPOCRBackbone()
    load_onnx_weights(published)
    w0 = dict(published.named_parameters())

    def distance(model) -> float:
        return sum(float(((p - w0[n]) ** 2).sum()) for n, p in model.backbone.named_parameters() if p.requires_grad)

    moved = {}
    for alpha in (0.0, 1000.0):
        trainer = l2sp_trainer(tmp_path / str(alpha), alpha)
        torch.manual_seed(3)
        with torch.no_grad():  # a checkpoint whose trainable stage drifted from the published weights
            for p in trainer.model.backbone.parameters():
                if p.requires_grad:
                    p.add_(0.05 * torch.randn_like(p))
        ds = build_dataset("synth", trainer.charset, trainer.spec, 37, synth_n=4)
        batch = Collate(trainer.charset, 38)([ds[i] for i in range(4)])
        start = distance(trainer.model)
        for _ in range(3):
            trainer.train_step(batch)
        moved[alpha] = distance(trainer.model) / start
    assert moved[1000.0] < 0.9 and moved[1000.0] < moved[0.0], moved


def test_l2_sp_needs_a_pretrained_backbone_with_trainable_stages(tmp_path):
    for model in (tiny_model_config(max_len=38), pp_config(backbone_weights="rapidocr", trainable_stages=0)):
        cfg = tiny_config(tmp_path, model=model.to_dict(), train={"l2_sp": 0.1})
        with pytest.raises(ConfigError, match="train.l2_sp needs a pretrained backbone with trainable stages"):
            Trainer(cfg, progress=False)


def test_invented_names_keep_the_street_type_and_fit_the_charset():
    fsns, rng = Charset.fsns(), random.Random(1)
    changed = 0
    for _ in range(200):
        text = street_name(rng)
        new = invent_names(text, rng)
        assert new.split(" ")[0] == text.split(" ")[0] and len(new) <= 37 and not fsns.missing(new)
        changed += new != text
    assert changed >= 190


def test_invented_share_changes_only_that_share_and_leaves_the_default_set_alone():
    plain = [synth_sample(0, i)[1] for i in range(40)]
    assert plain == [synth_sample(0, i, "train", Shares())[1] for i in range(40)]
    mixed = [synth_sample(0, i, "train", Shares(invented=0.5))[1] for i in range(40)]
    differ = sum(a != b for a, b in zip(plain, mixed))
    assert 8 <= differ <= 32
    assert mixed == [synth_sample(0, i, "train", Shares(invented=0.5))[1] for i in range(40)]  # still a pure function


def test_independent_names_draw_type_particle_and_name_apart_and_fit_the_charset():
    """Issue 22 item 4: every street type about equally often, whatever its frequency in real names, and each
    particle with names of every kind, so neither the type nor the particle can be guessed from the rest."""
    from collections import Counter

    from seqocr.data.synth import independent_name
    from seqocr.data.synth.names import PARTICLES, proper_names
    from seqocr.data.synth_words import STREET_TYPES

    fsns, rng = Charset.fsns(), random.Random(2)
    texts = [independent_name(rng) for _ in range(3000)]
    assert all(len(t) <= 37 and not fsns.missing(t) for t in texts)
    types = Counter(next(k for k in sorted(STREET_TYPES, key=len, reverse=True)
                         if t.startswith(k.replace("-", "—") + " ")) for t in texts)
    assert set(types) == set(STREET_TYPES) and max(types.values()) < 2.2 * min(types.values())  # Rue: 45 % in grammar
    words = [t.split(" ") for t in texts]
    particles = Counter(w[1] if w[1] in ("du", "des") else "de la" if w[1:3] == ["de", "la"] else
                        "de" if w[1] == "de" or w[1].startswith("d‘") else "" for w in words)
    assert set(particles) == set(PARTICLES) and min(particles.values()) > 400
    assert any(t.split(" ")[-1] in ("Moulin", "Marché", "Port") and " des " in t for t in texts)  # "des Moulin"
    test_names = {independent_name(random.Random(k), "test").split(" ")[-1] for k in range(300)}
    assert not test_names & (proper_names("train") - proper_names("test"))  # the test split's vocabulary only


def test_independent_share_changes_only_that_share_and_leaves_the_default_set_alone():
    from seqocr.data import SynthDefaults, parse_synth

    plain = [synth_sample(0, i)[1] for i in range(40)]
    assert plain == [synth_sample(0, i, "train", Shares())[1] for i in range(40)]
    mixed = [synth_sample(0, i, "train", Shares(independent=0.5))[1] for i in range(40)]
    assert 8 <= sum(a != b for a, b in zip(plain, mixed)) <= 32
    assert mixed == [synth_sample(0, i, "train", Shares(independent=0.5))[1] for i in range(40)]  # still a pure function
    assert parse_synth("synth:split=test,independent=1", SynthDefaults(10, 1)).shares.independent == 1.0
    with pytest.raises(DataError, match="independent is a share"):
        parse_synth("synth:independent=2", SynthDefaults(10, 1))


def test_plate_extras_add_a_secondary_line_to_a_share_of_plates_and_never_to_the_label():
    """Issue 22 item 3: house numbers, a person's profession and years, the district, painted under the name of a
    share of the plates; the label stays the name, the rest of the set stays as it was."""
    from seqocr.data.synth import footer_text, synth_glyphs

    rng = random.Random(4)
    footers = [footer_text("Rue Victor Schoelcher", rng) for _ in range(300)]
    assert any("N°" in f for f in footers) and any(f.endswith(")") and "-" in f for f in footers)
    assert any("ARR" in f for f in footers)
    assert not any(f[0].isalpha() and f.split()[0] in ("PEINTRE", "POÈTE") for f in
                   (footer_text("Rue de la Gare", rng) for _ in range(100)))  # no profession under a place
    plain = [synth_glyphs(0, i, "test") for i in range(30)]
    mixed = [synth_glyphs(0, i, "test", Shares(extras=0.5)) for i in range(30)]
    assert [p[1] for p in plain] == [m[1] for m in mixed]  # the labels
    changed = sum(not np.array_equal(np.asarray(p[0]), np.asarray(m[0])) for p, m in zip(plain, mixed))
    assert 5 <= changed <= 25
    assert all(m[3].shape == p[3].shape for p, m in zip(plain, mixed))  # one glyph box per label character


def test_small_first_names_are_painted_small_on_a_share_of_plates_and_the_label_stays():
    """Issue 22 item 3: a first name painted small, above the surname or before it (sample 007's "Victor"), on a
    share of the plates; its letters come out shorter than the surname's, the label and the rest stay as they were."""
    from seqocr.data.sources import SynthDefaults, parse_synth
    from seqocr.data.synth import synth_glyphs
    from seqocr.data.synth.plate import sign_lines

    layouts = [sign_lines("Avenue Victor Schoelcher", random.Random(k), random.Random(k + 1)) for k in range(20)]
    assert all(any(t == "Victor" and scale < 0.75 for line in lines for t, scale, _ in line) for lines in layouts)
    assert {len(lines) for lines in layouts} == {2, 3}  # on its own line, or inline before the surname
    assert sign_lines("Rue de la Paix", random.Random(0), random.Random(1)) == sign_lines("Rue de la Paix",
                                                                                          random.Random(0))
    plain = [synth_glyphs(1, i, "test") for i in range(30)]
    small = [synth_glyphs(1, i, "test", Shares(small_names=1.0)) for i in range(30)]
    assert [p[1] for p in plain] == [m[1] for m in small]
    changed = [i for i, (p, m) in enumerate(zip(plain, small)) if not np.array_equal(np.asarray(p[0]), np.asarray(m[0]))]
    assert 3 <= len(changed) <= 20
    for i in changed:
        text, boxes = small[i][1], small[i][3]
        first = text.split()[1]
        start = text.index(f" {first} ") + 1
        heights = boxes[:, :, 3] - boxes[:, :, 1]  # per character and view, in fractions of the view
        end = start + len(first)
        assert np.nanmedian(heights[start:end]) < 0.8 * np.nanmedian(heights[end + 1:])
    assert parse_synth("synth:small_names=0.5", SynthDefaults(10, 1)).shares.small_names == 0.5


def test_clutter_puts_what_is_not_the_name_beside_it_and_never_in_the_label():
    """Issue 22 item 3: a share of the signs carries clutter (another street plate above, large and mostly in view; a
    traffic panel beside or below; an arrow at one end of the plate); the label and the glyph boxes of the name stay,
    the rest of the set stays as it was."""
    from seqocr.data.sources import SynthDefaults, parse_synth
    from seqocr.data.synth import draw_plate, plate_style, sign_lines, synth_glyphs
    from seqocr.data.synth.clutter import CLUTTER, PANELS, clutter_kind, traffic_panel
    from seqocr.data.synth.scene import _scene

    assert {clutter_kind(random.Random(k)) for k in range(60)} == set(CLUTTER)
    kinds = {}
    for k in range(200):
        scene = _scene("Rue de Beuzeville", random.Random(k), clutter=random.Random(k + 1))
        kind = clutter_kind(random.Random(k + 1))
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == "above":  # larger than the usual sign above (0.6-0.9 of the plate's width)
            assert scene.above and scene.other.width > 0.85 * scene.width and scene.panel is None
        elif kind == "panel":
            assert scene.panel is not None and not scene.above
    assert min(kinds.values()) > 20
    panel = traffic_panel(random.Random(3), 40)
    assert panel.mode == "RGBA" and panel.height == 40
    assert {p.split()[0] for p in PANELS} & {"CÉDEZ", "STOP", "IMPASSE"}
    lines, style = sign_lines("Rue de la Gare", random.Random(0)), plate_style(random.Random(0))
    plain, _, boxes = draw_plate(lines, 0, style, random.Random(1))
    for side in ("left", "right"):
        arrowed, _, moved = draw_plate(lines, 0, style._replace(arrow=side), random.Random(1))
        assert arrowed.width > plain.width and len(moved) == len(boxes)
        centre = np.mean([(b[0] + b[2]) / 2 for b in moved])  # the name moves away from the arrow
        assert (centre > 0.5) == (side == "left")
        ink = np.asarray(arrowed)[..., :3].astype(int)
        end = ink[:, : arrowed.width // 6] if side == "left" else ink[:, -arrowed.width // 6:]
        assert (np.abs(end - np.array(style.ink)).sum(-1) < 30).sum() > 50  # the arrow's ink at that end
    plain_signs = [synth_glyphs(2, i, "test") for i in range(24)]
    cluttered = [synth_glyphs(2, i, "test", Shares(clutter=0.5)) for i in range(24)]
    assert [p[1] for p in plain_signs] == [c[1] for c in cluttered]
    changed = sum(not np.array_equal(np.asarray(p[0]), np.asarray(c[0])) for p, c in zip(plain_signs, cluttered))
    assert 4 <= changed <= 20
    assert all(c[3].shape == p[3].shape for p, c in zip(plain_signs, cluttered))
    assert parse_synth("synth:clutter=0.5", SynthDefaults(10, 1)).shares.clutter == 0.5


def test_a_house_number_plate_stands_beside_the_sign_and_never_in_the_label():
    """Issue 22 item 3: a share of the signs has a house-number plate of its own beside the name plate (in the
    plate's colours or white on blue, maybe with bis or ter); the label and the name's glyph boxes stay."""
    from seqocr.data.sources import SynthDefaults, parse_synth
    from seqocr.data.synth import plate_style, synth_glyphs
    from seqocr.data.synth.clutter import house_number
    from seqocr.data.synth.scene import _scene

    plate = house_number(random.Random(4), 30, plate_style(random.Random(0)))
    assert plate.mode == "RGBA" and plate.height == 30 and plate.width >= 0.8 * plate.height
    ink = np.asarray(plate)[..., :3].astype(int)
    assert len(np.unique(ink.reshape(-1, 3), axis=0)) > 10  # a number drawn, not a bare rectangle
    for k in range(20):
        scene = _scene("Rue de la Gare", random.Random(k), numbers=random.Random(k + 1))
        assert scene.panel is not None and scene.panel.height < 0.9 * scene.plates[0].height
    plain_signs = [synth_glyphs(2, i, "test") for i in range(16)]
    numbered = [synth_glyphs(2, i, "test", Shares(numbers=1.0)) for i in range(16)]
    assert [p[1] for p in plain_signs] == [n[1] for n in numbered]
    assert sum(not np.array_equal(np.asarray(p[0]), np.asarray(n[0])) for p, n in zip(plain_signs, numbered)) >= 14
    assert all(n[3].shape == p[3].shape for p, n in zip(plain_signs, numbered))
    assert parse_synth("synth:numbers=0.3", SynthDefaults(10, 1)).shares.numbers == 0.3


def test_config_refuses_out_of_range_view_counts_and_shares():
    from seqocr.config import validate
    from seqocr.errors import ConfigError
    from seqocr.model import check_config

    for section, key, value, message in (("model", "train_views", 5, "train_views"),
                                         ("data", "synth_invented", 1.5, "share"),
                                         ("data", "synth_independent", 1.5, "share"),
                                         ("data", "synth_extras", -0.5, "negative"),
                                         ("data", "synth_clutter", 1.5, "share")):
        cfg = Config()
        if section == "model":  # the default model's own setting: its check
            cfg.model = cfg.model.replace(**{key: value})
        else:
            setattr(getattr(cfg, section), key, value)
        with pytest.raises(ConfigError, match=message):
            validate(cfg)
            check_config(cfg)


def test_onnx_export_reads_like_pytorch(tmp_path, fsns):
    from seqocr.inference.export import export_onnx, verify_onnx
    from seqocr.train.checkpoint import save_checkpoint

    cfg = Config()
    cfg.model = pp_config(train_views=2)
    model = build_model(cfg.model, len(fsns)).train()
    model(torch.randn(4, 3, 32, 128), torch.randint(3, 50, (4, 38)))  # BatchNorm statistics
    save_checkpoint(tmp_path / "pp.pt", cfg=cfg, charset=fsns, model=model, step=3)
    out = export_onnx(tmp_path / "pp.pt", tmp_path / "pp.onnx")
    result = verify_onnx(tmp_path / "pp.pt", out, sign_images(VERIFY_SEED, 8), batch=4)
    assert result["texts_differ"] == 0 and result["max_char_prob_gap"] <= 1e-3


def test_reading_fewer_views_reads_the_sharpest_with_their_own_embeddings(tmp_path, fsns):
    from seqocr.inference.export import export_onnx, verify_onnx
    from seqocr.model.views import sharpest_views
    from seqocr.train.checkpoint import save_checkpoint

    images = torch.zeros(2, 3, 16, 64)
    images[0, :, :, 16:32] = torch.randn(3, 16, 16)      # sample 0: views 1 and 3 have detail
    images[0, :, :, 48:] = torch.randn(3, 16, 16)
    images[1, :, :, :16] = torch.randn(3, 16, 16)        # sample 1: views 0 and 2
    images[1, :, :, 32:48] = 0.5 * torch.randn(3, 16, 16)
    views = images.unflatten(-1, (4, 16)).permute(3, 0, 1, 2, 4)  # (V, B, C, H, W)
    assert sharpest_views(views, 2).t().tolist() == [[1, 3], [0, 2]]

    torch.manual_seed(0)
    every = build_model(tiny_model_config(max_len=38), len(fsns)).eval()
    two = build_model(tiny_model_config(max_len=38, read_views=2), len(fsns)).eval()
    two.load_state_dict(every.state_dict())
    with torch.no_grad():
        full = every.encode(images).unflatten(1, (4, -1))                     # (B, V, R·W, d)
        assert torch.allclose(two.encode(images).unflatten(1, (2, -1)),
                              torch.stack([full[0, [1, 3]], full[1, [0, 2]]]), atol=1e-6)
        _, _, maps = two.greedy_attention(images)                             # (B, T, V, R, W)
    seen = maps.sum((-2, -1))                                                 # (B, T, V)
    assert seen[0, :, [0, 2]].abs().max() == 0 and seen[1, :, [1, 3]].abs().max() == 0
    assert torch.allclose(seen.sum(-1), torch.ones(2, 38), atol=1e-5)      # all the weight on the views read

    cfg = Config()
    cfg.model = tiny_model_config(max_len=38, read_views=2)
    save_checkpoint(tmp_path / "two.pt", cfg=cfg, charset=fsns, model=two, step=1)
    out = export_onnx(tmp_path / "two.pt", tmp_path / "two.onnx")
    assert verify_onnx(tmp_path / "two.pt", out, sign_images(VERIFY_SEED, 8), batch=4)["texts_differ"] == 0


def test_a_pretrained_backbone_model_starts_at_a_new_view_size_with_its_row_embedding_stretched(tmp_path):
    """train.init_from with a bigger model.view_height/view_width (fine-tuning at a higher resolution): every weight
    carried over, the row embedding linearly interpolated from 2 rows (32 px) to 4 (64 px)."""
    cfg = tiny_config(tmp_path, model=pp_config().to_dict(), data={"val": ""})
    trainer = Trainer(cfg, progress=False)
    with torch.no_grad():
        trainer.model.row_embedding.copy_(torch.tensor([0.0, 3.0]).view(2, 1, 1).expand(2, 1, 16))
    first = tmp_path / "first.pt"
    save_checkpoint(first, cfg=cfg, charset=trainer.charset, model=trainer.model, step=3)
    old = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    bigger = tiny_config(tmp_path, model=pp_config(view_height=64, view_width=48).to_dict(), data={"val": ""},
                         train={"init_from": str(first), "steps": 1, "lr": 1e-30, "out_dir": str(tmp_path / "big")})
    bigger.given = frozenset({"model.view_height", "model.view_width"})
    train(bigger, progress=False)
    model, tuned, _, _ = load_model(tmp_path / "big" / "last.pt")
    assert (tuned.model.view_height, tuned.model.view_width) == (64, 48)
    rows = model.row_embedding.detach()[:, 0, 0]
    assert torch.allclose(rows, torch.tensor([0.0, 1.0, 2.0, 3.0]), atol=1e-4)
    state = model.state_dict()
    carried = [k for k in old if k != "row_embedding" and "running_" not in k and "num_batches" not in k]
    assert len(carried) > 100 and all(torch.allclose(state[k], old[k], atol=1e-6) for k in carried)  # lr 1e-30
    images = torch.randn(1, 3, 64, 4 * 48)
    assert model.eval().encode(images).shape == (1, 4 * 4 * 12, 16)  # 4 views of 4 rows x 12 columns


def test_a_model_without_the_pretrained_backbone_keeps_its_view_size_on_init_from(tmp_path):
    cfg = tiny_config(tmp_path, data={"val": ""})
    trainer = Trainer(cfg, progress=False)
    first = tmp_path / "first.pt"
    save_checkpoint(first, cfg=cfg, charset=trainer.charset, model=trainer.model, step=3)
    other = tiny_config(tmp_path, model={"view_height": 64}, train={"init_from": str(first)})
    other.given = frozenset({"model.view_height"})
    with pytest.raises(ConfigError, match=r"model.view_height: 64 given, but train.init_from .*first.pt has 16"):
        adopt_model_config(other)
