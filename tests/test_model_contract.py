"""The model contract (model/base.py) is all a new architecture needs: a toy that subclasses only ``Seq2SeqOCR``
(not ``DefaultOCR``), with a decoder shaped unlike the default model's (dot-product attention, a state of two
tensors whose second is static), its own weight key and its own reading option, registered in one line, trains with
``seqocr train``, reads greedily and by beam with PyTorch, exports, and reads alike with ONNX Runtime; its reading
option reaches it through the one hook, and the default model's are refused in one line naming them; a run from its
weights adopts their config through the contract too."""

import re
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqocr.cli import main
from seqocr.config import Config, ModelConfig
from seqocr.errors import ConfigError
from seqocr.model.base import Encoding, Seq2SeqOCR, gru_cell, split_views
from tests.helpers import SAMPLES


@dataclass
class ToySettings:
    """The toy's own keys of the ``model:`` section."""
    width: int = 8          # its convolutions' channels (shapes the weights)
    sharpen: float = 1.0    # a reading option: the logits are divided by it


class ToyOCR(Seq2SeqOCR):
    """Two strided convolutions per view, each view's columns one memory slot; a GRU decoder that attends by dot
    product with keys computed once per image (the static second entry of its state)."""

    Settings = ToySettings
    weight_keys = (*Seq2SeqOCR.weight_keys, "width")
    reading_keys = ("sharpen",)
    fitted_keys = ("sharpen",)  # as if fitted to the weights: a run that starts from them trains without it
    static_state = (1,)

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        super().check_config(cfg)
        s = cls.settings(cfg.model)
        if cfg.model.view_height % 4 or cfg.model.view_width % 4 or s.width < 1 or s.sharpen <= 0:
            raise ConfigError("model toy: views must divide by 4, width and sharpen must be positive")

    def __init__(self, cfg: ModelConfig, num_classes: int):
        super().__init__()
        s = self.settings(cfg)
        self.num_views, self.max_len, self.num_classes = cfg.num_views, cfg.max_len, num_classes
        self.teacher_forcing, self.sharpen, d = cfg.teacher_forcing, s.sharpen, cfg.hidden
        self.cnn = nn.Sequential(nn.Conv2d(3, s.width, 3, 2, 1), nn.ReLU(), nn.Conv2d(s.width, d, 3, 2, 1), nn.ReLU())
        self.init_h, self.key = nn.Linear(d, d), nn.Linear(d, d)
        self.embedding = nn.Embedding(num_classes, d)
        self.gru = nn.GRUCell(2 * d, d)
        self.out = nn.Linear(d, num_classes)

    def encode_all(self, images: Tensor) -> Encoding:
        f = self.cnn(split_views(images, self.num_views)).mean(2)                  # (V·B, d, W/4)
        f = f.reshape(self.num_views, -1, f.shape[1], f.shape[2]).permute(1, 0, 3, 2)  # (B, V, W/4, d)
        return Encoding(f.flatten(1, 2))                                        # (B, V·W/4, d)

    def init_state(self, memory: Tensor) -> tuple[Tensor, ...]:
        return torch.tanh(self.init_h(memory.mean(1))), self.key(memory)

    def step(self, tokens: Tensor, state: tuple[Tensor, ...], memory: Tensor
             ) -> tuple[Tensor, tuple[Tensor, ...], Tensor]:
        h, keys = state
        a = F.softmax(torch.bmm(keys, h.unsqueeze(2)).squeeze(2).float(), 1)     # (B, S)
        ctx = torch.bmm(a.unsqueeze(1).to(memory.dtype), memory).squeeze(1)
        h = gru_cell(self.gru, torch.cat([self.embedding(tokens).to(ctx.dtype), ctx], 1), h.to(ctx.dtype))
        return F.log_softmax(self.out(h).float() / self.sharpen, -1), (h, keys), a

    def attention_map(self, attention: Tensor, view_pick: Tensor | None = None) -> Tensor:
        return attention.unflatten(-1, (self.num_views, 1, -1))                  # (..., V, 1, W/4)


CONFIG = """\
model:
  name: toy
  view_height: 16
  view_width: 16
  max_len: 38
  hidden: 16
  dropout: 0.0
  width: 4
train:
  steps: 4
  batch_size: 4
  ckpt_every: 2
  log_every: 1
  warmup_steps: 1
  out_dir: {out}
data:
  val: ""
  augment: false
"""
IMAGES = [str(SAMPLES / f"sign-000000{i}.png") for i in range(4)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The toy registered in one line (the test's MODELS entry), trained for 4 steps by ``seqocr train``."""
    import seqocr.model as models

    tmp = tmp_path_factory.mktemp("toy")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(models.MODELS, "toy", ("tests.test_model_contract", "ToyOCR"))  # the one registry line
        (tmp / "toy.yaml").write_text(CONFIG.format(out=tmp / "run"), encoding="utf-8")
        torch.manual_seed(0)
        assert main(["train", "--config", str(tmp / "toy.yaml")]) == 0
        yield tmp / "run" / "last.pt"


def test_the_toy_is_not_the_default_model_and_trains(trained):
    from seqocr.model.default import DefaultOCR
    from seqocr.model.weights import load_model

    model, cfg, _, state = load_model(trained)
    assert isinstance(model, ToyOCR) and not isinstance(model, DefaultOCR)
    assert state["step"] == 4 and cfg.model.options == {"width": 4}


def test_the_toy_reads_greedily_and_by_beam_in_both_engines(trained, tmp_path):
    from seqocr.inference.export import export_onnx
    from seqocr.inference.onnx_reader import OnnxReader
    from seqocr.inference.predictor import Predictor

    greedy = Predictor.from_checkpoint(trained).read(IMAGES)
    beam = Predictor.from_checkpoint(trained, beam=3).read(IMAGES)
    assert len(greedy) == len(beam) == len(IMAGES)
    assert all(0 <= r.confidence <= 1 for r in greedy + beam)
    out = export_onnx(trained, tmp_path / "toy.onnx", beam=True)
    onnx = OnnxReader(out)
    assert onnx.metadata["model"] == "toy"
    for want, got in zip(greedy, onnx.read(IMAGES)):
        assert got.text == want.text and got.confidence == pytest.approx(want.confidence, rel=1e-3, abs=1e-6)
    for want, got in zip(beam, OnnxReader(out, beam=3).read(IMAGES)):
        assert got.text == want.text and got.confidence == pytest.approx(want.confidence, rel=1e-3, abs=1e-6)
    names = tmp_path / "names.txt"  # a guided search (a gazetteer) starts from the model's search_memory
    names.write_text("Rue de la Gare\nPlace du Marché\n", encoding="utf-8")
    guided = Predictor.from_checkpoint(trained).guide(lexicon=names, beam=3, gate=1.0).read(IMAGES)
    for want, got in zip(guided, OnnxReader(out).guide(lexicon=names, beam=3, gate=1.0).read(IMAGES)):
        assert (got.text, got.lexicon) == (want.text, want.lexicon)


def test_the_toys_reading_option_reaches_it_through_the_one_hook(trained, tmp_path, capsys):
    """``reading`` passes through load_model, the reader and export unread; the toy takes its own option, and
    refuses the default model's in one line naming it, from Python and from the command line."""
    from seqocr.inference.export import export_onnx
    from seqocr.inference.onnx_reader import OnnxReader
    from seqocr.inference.predictor import Predictor
    from seqocr.model.weights import load_model

    sharp, cfg, _, _ = load_model(trained, {"sharpen": 2.0})
    assert sharp.sharpen == 2.0 and cfg.model.options["sharpen"] == 2.0
    plain = Predictor.from_checkpoint(trained).read(IMAGES)
    sharper = Predictor.from_checkpoint(trained, reading={"sharpen": 2.0}).read(IMAGES)
    assert [r.confidence for r in plain] != [r.confidence for r in sharper]
    graph = OnnxReader(export_onnx(trained, tmp_path / "sharp.onnx", reading={"sharpen": 2.0}))  # inside it
    for want, got in zip(sharper, graph.read(IMAGES)):
        assert got.text == want.text and got.confidence == pytest.approx(want.confidence, rel=1e-3, abs=1e-6)
    refused = "model.read_views: not a reading option of the toy model (its reading options: sharpen)"
    with pytest.raises(ConfigError, match=re.escape(refused)):
        Predictor.from_checkpoint(trained, reading={"read_views": 2})
    assert main(["read", "--checkpoint", str(trained), "--read-views", "2", IMAGES[0]]) == 1
    assert capsys.readouterr().err.strip().endswith(refused)


def test_a_run_from_the_toys_weights_adopts_their_config_through_the_contract(monkeypatch):
    """``train.init_from``: the weights' config, the run's own training and reading knobs, what was fitted to the
    weights back at its default, a given weight key that disagrees refused in one line."""
    import seqocr.model as models

    monkeypatch.setitem(models.MODELS, "toy", ("tests.test_model_contract", "ToyOCR"))
    theirs = ModelConfig(name="toy", view_height=16, view_width=16, hidden=16, options={"width": 4, "sharpen": 2.0})
    mine = ModelConfig(name="toy", dropout=0.3, options={"width": 8, "sharpen": 3.0})
    run = models.adopt(theirs, mine, {"dropout"}, "toy.pt")
    assert (run.view_height, run.hidden, run.dropout, run.options) == (16, 16, 0.3, {"width": 4, "sharpen": 1.0})
    assert models.adopt(theirs, mine, {"sharpen"}, "toy.pt").options == {"width": 4, "sharpen": 3.0}
    with pytest.raises(ConfigError, match=re.escape("model.width: 8 given, but toy.pt has 4; leave model.width out")):
        models.adopt(theirs, mine, {"width", "dropout"}, "toy.pt")
