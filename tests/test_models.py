import pytest
import torch

from seqocr.charset import EOS, GO, PAD
from seqocr.config import ModelConfig
from seqocr.model import build_model, parameter_count
from seqocr.model.base import mask_after_eos
from tests.helpers import tiny_model_config

REFERENCE = ModelConfig(name="reference", view_height=128, view_width=128, max_len=64, vocab_size=10000,
                        hidden=128, dropout=0.1, teacher_forcing=0.5)


def test_reference_has_the_reference_parameter_count():
    # 11,843,024 in MindSpore + 2 × 2 × 512 for the second LSTM bias vector PyTorch keeps per direction
    assert parameter_count(build_model(REFERENCE, 10000)) == 11_845_072


def test_reference_layers_are_faithful():
    m = build_model(REFERENCE, 10000)
    convs = [x for x in m.cnn.modules() if isinstance(x, torch.nn.Conv2d)]
    assert len(convs) == 11 and all(c.bias is None for c in convs)
    assert convs[-1].kernel_size == (2, 2) and convs[-1].out_channels == 32
    assert sum(isinstance(x, torch.nn.BatchNorm2d) for x in m.cnn.modules()) == 5
    assert m.attn.out_features == 64  # location-only attention: one weight per encoder column
    x = torch.randn(2, 3, 128, 512)
    m.eval()
    assert m.encode(x).shape == (2, 64, 128)


def _model(idx):
    """0: the default (tiny), 1: the reference (tiny), 2: the default keeping its rows."""
    return build_model([lambda: tiny_model_config("default"),
                        lambda: tiny_model_config("reference", view_height=128, view_width=128, max_len=64, hidden=8,
                                                  embed_dim=8),
                        lambda: tiny_model_config("default", view_height=32, rows="keep")][idx](), 12)


INPUT = {0: (16, 64), 1: (128, 512), 2: (32, 64)}


@pytest.mark.parametrize("idx", [0, 1, 2])
def test_forward_shapes_and_every_parameter_gets_a_gradient(idx):
    model = _model(idx)
    h, w = INPUT[idx]
    x, steps = torch.randn(2, 3, h, w), model.max_len  # 2 images: the reference's VGG backward is seconds each
    targets = torch.randint(3, 12, (2, steps))
    logp = model(x, targets).logp
    assert logp.shape == (2, steps, 12)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2, steps), atol=1e-4)
    logp.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []
    model.eval()
    ids, probs = model.greedy(x)
    assert ids.shape == probs.shape == (2, steps) and ids.dtype == torch.long
    assert ((probs > 0) & (probs <= 1)).all()


@pytest.mark.parametrize("idx", [0, 1, 2])
def test_greedy_equals_step_by_step(idx):
    model = _model(idx).eval()
    x = torch.randn(2, 3, *INPUT[idx])
    ids, _ = model.greedy(x)
    with torch.no_grad():
        memory = model.encode(x)
        state = model.init_state(memory)
        tok, manual = torch.full((2,), GO), []
        for _ in range(model.max_len):
            logp, state, _ = model.step(tok, state, memory)
            tok = logp.argmax(-1)
            manual.append(tok)
    manual_ids, _ = mask_after_eos(torch.stack(manual, 1), torch.ones(2, model.max_len))
    assert torch.equal(ids, manual_ids)


def test_teacher_forcing_is_drawn_per_sample():
    model = build_model(tiny_model_config(teacher_forcing=0.5), 12).eval()
    x, targets = torch.randn(2, 3, 16, 64), torch.randint(3, 12, (2, 8))
    forced = model(x, targets, teacher_force=torch.tensor([True, True])).logp
    mixed = model(x, targets, teacher_force=torch.tensor([True, False])).logp
    assert torch.allclose(forced[0], mixed[0])          # sample 0 forced in both runs
    ids, _ = model.greedy(x)
    free = model(x, targets, teacher_force=torch.tensor([False, False])).logp
    assert torch.equal(free.argmax(-1)[1][: (ids[1] != PAD).sum()], ids[1][: (ids[1] != PAD).sum()])


def test_mask_after_eos():
    ids = torch.tensor([[5, EOS, 7, 8], [5, 6, 7, 8], [EOS, 4, EOS, 4]])
    probs = torch.full((3, 4), 0.5)
    m_ids, m_probs = mask_after_eos(ids, probs)
    assert m_ids.tolist() == [[5, EOS, PAD, PAD], [5, 6, 7, 8], [EOS, PAD, PAD, PAD]]
    assert m_probs.tolist() == [[0.5, 0.5, 1, 1], [0.5] * 4, [0.5, 1, 1, 1]]


def test_no_batch_size_is_baked_in():
    model = build_model(tiny_model_config(), 12).eval()
    for b in (1, 5):
        assert model.greedy(torch.randn(b, 3, 16, 64))[0].shape == (b, 8)


@pytest.mark.parametrize("name", ["default", "reference"])
def test_folding_batchnorm_keeps_the_outputs(name):
    from seqocr.model.fuse import fold_batchnorm

    kw = {} if name == "default" else {"view_height": 128, "view_width": 128, "max_len": 64}
    model = build_model(tiny_model_config(name, **kw), 12)
    x = torch.randn(2, 3, *((16, 64) if name == "default" else (128, 512)))
    model.train()
    model(x, torch.randint(3, 12, (2, model.max_len)))  # non-trivial running statistics
    model.eval()
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        assert torch.allclose(model.encode(x), folded.encode(x), atol=1e-4)
        assert torch.equal(model.greedy(x)[0], folded.greedy(x)[0])


def test_keeping_rows_gives_a_2d_memory():
    model = build_model(tiny_model_config("default", view_height=32, rows="keep"), 12).eval()
    assert model.encode(torch.randn(3, 3, 32, 64)).shape == (3, 4 * 4 * 4, 16)   # views × rows × columns
    collapsed = build_model(tiny_model_config("default", view_height=32), 12).eval()
    assert collapsed.encode(torch.randn(3, 3, 32, 64)).shape == (3, 4 * 1 * 4, 16)


@pytest.mark.parametrize("idx", [0, 1, 2])
def test_attention_weights_lie_over_the_views(idx):
    """Each decoded character's attention is a distribution over the memory, laid over (views, rows, columns);
    the reference's location weights cover the same columns of every view (its views are stacked on channels)."""
    model = _model(idx).eval()
    x = torch.randn(2, 3, *INPUT[idx])
    ids, probs, attention = model.greedy_attention(x)
    assert torch.equal(ids, model.greedy(x)[0]) and torch.equal(probs, model.greedy(x)[1])
    assert attention.shape[:3] == (2, model.max_len, model.num_views) and attention.dim() == 5
    assert attention.shape[3] == (1 if idx == 1 else model.rows)  # rows apart only with rows: keep (or a backbone)
    per_view = idx == 1
    total = (attention[:, :, 0] if per_view else attention).flatten(2).sum(-1)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-5)
    weights = model(x, ids.clamp(min=0), with_attention=True).attention
    assert weights.shape[:2] == ids.shape
    assert torch.allclose(weights.sum(-1), torch.ones(ids.shape), atol=1e-5)
