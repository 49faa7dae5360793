"""What every seqocr model shares: the decoding loops.

A model is tensors in, tensors out, and returns what it computed (no state left on the module between calls).
Subclasses supply four pieces::

    encode_all(images (B, 3, H, V·W)) -> Encoding      the memory the decoder attends to, the views it came from,
                                                       auxiliary outputs for training (feature scale, ...)
    init_state(memory)           -> state              a tuple of tensors
    step(tokens (B,), state, memory) -> (log_probs (B, C), state, attention (B, S))
    attention_map(attention (..., S), view_pick) -> (..., V, R, W)  the weights laid over the views: V views, R rows,
                                                       W columns

and this class turns them into the teacher-forced training forward (an :class:`Output`) and the greedy decoder
(a :class:`Greedy`). Both run exactly
``max_len`` steps with no data-dependent ``break`` and no ``.item()``, so the greedy path exports to ONNX as a
fixed unrolled graph.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..charset import EOS, GO, PAD
from ..config import SHARED_MODEL_KEYS, Config, ModelConfig, parse_options
from ..errors import ConfigError


@dataclasses.dataclass
class NoSettings:
    """The settings of an architecture that reads only the shared keys of :class:`~seqocr.config.ModelConfig`."""


class Encoding(NamedTuple):
    """What the encoder computed for a batch."""
    memory: Tensor                  # (B, S, hidden): what the decoder attends to
    view_pick: Tensor | None = None  # (V', B): the views read (view dropout, read_views); None: all of them
    aux: dict | None = None         # training-only outputs a loss or the log uses: feature_scale, char_logits


class SearchMemory(NamedTuple):
    """What a search over a batch starts from (:meth:`Seq2SeqOCR.search_memory`): every image's memory, and the
    images to read again from a second encoding of them (more views) when their first reading is unsure."""
    memory: Tensor                                # (B, S, hidden)
    more: Callable[[Tensor], Tensor] | None = None  # rows (B',) -> their second memory (B', S', hidden); None: none
    again_below: float = 0.0                      # the confidence under which a row is read again from ``more``


class GreedyMemory(NamedTuple):
    """A greedy reading (masked after EOS) and the memory a search over some of its images starts from: what the
    exported greedy graph outputs, so that beam search needs no second encoding (:meth:`Seq2SeqOCR.greedy_memory`)."""
    ids: Tensor                 # (B, T)
    probs: Tensor               # (B, T)
    rows: Tensor                # (B',) the images whose memory follows, ascending
    memory: Tensor              # (B', S, hidden)

    @classmethod
    def every_row(cls, greedy: Greedy) -> GreedyMemory:
        """A greedy decoding's reading with the memory it read from, for every image."""
        ids, probs = mask_after_eos(greedy.ids, greedy.probs)
        memory = greedy.encoding.memory
        return cls(ids, probs, torch.arange(memory.shape[0], device=memory.device), memory)

    def search_outputs(self, model: Seq2SeqOCR) -> tuple[Tensor, ...]:
        """What an exported greedy graph outputs after its reading: the rows, their memory and the decoder's
        initial state from it."""
        return self.rows, self.memory, *model.init_state(self.memory)


class Output(NamedTuple):
    """The training forward's results."""
    logp: Tensor                # (B, T, C) log-probabilities
    attention: Tensor | None    # (B, T, S) each step's attention weights over the memory, when asked for
    encoding: Encoding


class Greedy(NamedTuple):
    """Greedy decoding's results, unmasked (:func:`mask_after_eos` stops them at the end token)."""
    ids: Tensor                 # (B, T)
    probs: Tensor               # (B, T)
    logps: list[Tensor]         # every step's log-probabilities (B, C)
    attention: list[Tensor]     # every step's attention weights (B, S)
    encoding: Encoding


class Seq2SeqOCR(nn.Module):
    max_len: int
    num_classes: int
    teacher_forcing: float
    # the weights indexed by token id along dim 0: resized when a run changes charset (train/finetune.py)
    token_layers: tuple[str, ...] = ("embedding.weight", "out.weight", "out.bias")
    # positions in the state tuple of what depends on the image alone, not on the step (DefaultOCR's attention
    # keys): beam search never reorders them, and the ONNX step graph takes them in without returning them
    static_state: tuple[int, ...] = ()
    # its settings: the model config keys that shape its weights (a run from train.init_from keeps them; the other
    # keys only change how it trains or reads), and whether it can learn from glyph boxes (train.attention_loss)
    weight_keys: tuple[str, ...] = ("name", "view_height", "view_width", "num_views", "max_len", "vocab_size",
                                    "hidden")
    glyph_losses: bool = False
    # its own keys of the model section, beside its code: a dataclass of them with their defaults (the registry
    # hands it only these and the shared ones: seqocr.model.own_keys); and its reading options, the keys that only
    # change how a trained model reads (a reader may set them: with_reading; --resume may change them)
    Settings: type = NoSettings
    reading_keys: tuple[str, ...] = ()
    # the reading options fitted to trained weights (a calibration): a run that starts from the weights trains
    # without them (their defaults, unless the run's config gives them), and they are fitted anew afterwards
    fitted_keys: tuple[str, ...] = ()
    pretrained_needs: str = "it starts from no published weights"  # what pretrained_stages_in asks of a config

    @classmethod
    def settings(cls, m: ModelConfig) -> Any:
        """Its own settings from ``m``'s options, checked (:func:`seqocr.config.parse_options`)."""
        return parse_options(cls.Settings, m)

    @classmethod
    def with_reading(cls, m: ModelConfig, reading: Mapping[str, Any]) -> ModelConfig:
        """``m`` with the reading options ``reading`` (name -> value: what a reader, export or the command line was
        asked for, passed through unread) set: each must be one of its :attr:`reading_keys`, else a
        :class:`~seqocr.errors.ConfigError` naming it. The values are checked with the rest of the config
        (:meth:`check_config`)."""
        for key in reading:
            if key not in cls.reading_keys:
                raise ConfigError(f"model.{key}: not a reading option of the {m.name} model (its reading options: "
                                  f"{', '.join(cls.reading_keys) or 'none'})")
        return m.replace(**reading)

    @classmethod
    def values(cls, m: ModelConfig) -> dict[str, Any]:
        """Every key of ``m`` this architecture reads, its defaults filled in: what two model configs compare by."""
        return {**{k: getattr(m, k) for k in SHARED_MODEL_KEYS}, **dataclasses.asdict(cls.settings(m))}

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        """Refuse, with a :class:`~seqocr.errors.ConfigError` naming the key, a config this architecture cannot
        build or train; the shared checks are :func:`seqocr.config.validate`'s."""
        cls.settings(cfg.model)
        if cfg.train.glyph_losses and not cls.glyph_losses:
            raise ConfigError(f"train.attention_loss and train.char_map_loss: model {cfg.model.name} has no glyph "
                              "attention to train (model.name=default has)")
        if cfg.train.l2_sp and not cls.pretrained_stages_in(cfg.model):
            raise ConfigError(f"train.l2_sp needs a pretrained backbone with trainable stages; model "
                              f"{cfg.model.name} has none here ({cls.pretrained_needs})")

    @classmethod
    def pretrained_stages_in(cls, m: ModelConfig) -> bool:
        """Whether a model of config ``m`` trains layers that start from published weights (train.l2_sp)."""
        return False

    def load_pretrained(self) -> str | None:
        """A fresh run starts here: the published weights its config names loaded into the model; what was loaded,
        in words, or None."""
        return self.load_detector()

    def load_detector(self) -> str | None:
        """The text detector's published weights (PP-OCRv6 det small, from the rapidocr wheel) into ``detector``,
        for a model that crops its views to their text (``model.crop: text``); what was loaded, or None."""
        detector = getattr(self, "detector", None)
        if detector is None:
            return None
        from .ppocr_det import load_onnx_detector_weights

        return f"text detector: PP-OCRv6 det small weights from {load_onnx_detector_weights(detector)}"

    def pretrained_anchors(self) -> list[tuple[nn.Parameter, Tensor]]:
        """Each trainable parameter that started from published weights, with those weights (whatever checkpoint
        the run started from): the points L2-SP (``train.l2_sp``) pulls towards."""
        return []

    @classmethod
    def fixed_keys(cls, m: ModelConfig) -> tuple[str, ...]:
        """The weight keys a run from a checkpoint with this model config must keep (train.init_from)."""
        return cls.weight_keys

    @classmethod
    def start_from(cls, theirs: ModelConfig, knobs: Mapping[str, Any]) -> ModelConfig:
        """The model config of a run that starts from weights of config ``theirs``: theirs, with the run's own
        ``knobs`` (what it gives of the keys that only change how the model trains or reads) and each of the
        :attr:`fitted_keys` back at its default unless given."""
        defaults = {f.name: f.default for f in dataclasses.fields(cls.Settings) if f.name in cls.fitted_keys}
        fitted = {k: v for k, v in defaults.items() if k not in knobs and k in theirs.options and
                  theirs.options[k] != v}
        return theirs.replace(**fitted, **knobs)

    @classmethod
    def resume_keys(cls, m: ModelConfig) -> tuple[str, ...]:
        """The keys a run continued by --resume must keep: all it reads but the reading keys."""
        return tuple(k for k in cls.values(m) if k not in cls.reading_keys)

    def encode_all(self, images: Tensor) -> Encoding:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, images: Tensor) -> Tensor:
        """The memory alone (B, S, hidden): what the exported graphs and the beam search read."""
        return self.encode_all(images).memory

    def search_memory(self, images: Tensor) -> SearchMemory:
        """What a guided search over ``images`` starts from: their memory, and none to read again (a model whose
        greedy reading reads the unsure images again, from more of their views, says so here)."""
        return SearchMemory(self.encode(images))

    def init_state(self, memory: Tensor) -> tuple[Tensor, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, tokens: Tensor, state: tuple[Tensor, ...], memory: Tensor
             ) -> tuple[Tensor, tuple[Tensor, ...], Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def attention_map(self, attention: Tensor, view_pick: Tensor | None = None
                      ) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def reorder_state(self, state: tuple[Tensor, ...], rows: Tensor) -> tuple[Tensor, ...]:
        """Beam search: row i of the new state is row ``rows[i]`` of ``state``, always a row of the same image, so
        the :attr:`static_state` entries stay as they are."""
        return tuple(s if k in self.static_state else s.index_select(0, rows) for k, s in enumerate(state))

    def forward(self, images: Tensor, targets: Tensor, teacher_force: Tensor | None = None,
                with_attention: bool = False) -> Output:
        """Training forward: log-probabilities (B, T, C) for targets (B, T) = characters, EOS, then PAD, with
        ``with_attention`` each step's attention weights over the memory (B, T, S) too, and the encoding.

        Sample b is teacher-forced for the whole sequence when ``teacher_force[b]`` is true (the reference draws
        this once per sample); otherwise it is fed its own previous argmax, which carries no gradient. When not
        given, it is drawn here with probability ``self.teacher_forcing`` (in eval mode: always forced).
        """
        b, steps = targets.shape
        if teacher_force is None:
            if self.training and self.teacher_forcing < 1.0:
                teacher_force = torch.rand(b, device=targets.device) < self.teacher_forcing
            else:
                teacher_force = torch.ones(b, dtype=torch.bool, device=targets.device)
        encoding = self.encode_all(images)
        memory = encoding.memory
        state = self.init_state(memory)
        tokens = torch.full((b,), GO, dtype=torch.long, device=images.device)
        out, weights = [], []
        for t in range(steps):
            logp, state, attention = self.step(tokens, state, memory)
            out.append(logp)
            weights.append(attention)
            if t + 1 < steps:
                tokens = torch.where(teacher_force, targets[:, t], logp.detach().argmax(-1))
        return Output(torch.stack(out, 1), torch.stack(weights, 1) if with_attention else None, encoding)

    @torch.no_grad()
    def greedy(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Greedy decoding for ``max_len`` steps: token ids (B, T) and their probabilities (B, T).

        Every position after the first EOS is set to PAD with probability 1, so confidences and texts stop
        counting at the end token without a data-dependent loop exit.
        """
        greedy = self.greedy_steps(images)
        return mask_after_eos(greedy.ids, greedy.probs)

    @torch.no_grad()
    def greedy_memory(self, images: Tensor, memory_below: Tensor | None = None) -> GreedyMemory:
        """:meth:`greedy`, and the memory a search over the images starts from: every image's (a model whose greedy
        reading reads unsure images again from more views gives it for those under ``memory_below``, a scalar
        tensor, and those it read again: their memory from more views, as :meth:`search_memory` gives it)."""
        return GreedyMemory.every_row(self.greedy_steps(images))

    @torch.no_grad()
    def greedy_attention(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`greedy`'s ids and probabilities (B, T), and each step's attention laid over the views
        (B, T, V, R, W) (:meth:`attention_map`): where the model looked for each character it wrote."""
        greedy = self.greedy_steps(images)
        ids, probs = mask_after_eos(greedy.ids, greedy.probs)
        return ids, probs, self.attention_map(torch.stack(greedy.attention, 1).float(), greedy.encoding.view_pick)

    @torch.no_grad()
    def greedy_steps(self, images: Tensor) -> Greedy:
        """Greedy ids (B, T) and probabilities (B, T), unmasked, every step's log-probabilities (B, C) and
        attention weights (B, S), and the encoding."""
        return self.decode_steps(self.encode_all(images))

    def decode_steps(self, encoding: Encoding) -> Greedy:
        """:meth:`greedy_steps` from an encoding at hand."""
        memory = encoding.memory
        state = self.init_state(memory)
        tokens = torch.full((memory.shape[0],), GO, dtype=torch.long, device=memory.device)
        ids, probs, steps, weights = [], [], [], []
        for _ in range(self.max_len):
            logp, state, attention = self.step(tokens, state, memory)
            best, tokens = logp.max(-1)
            ids.append(tokens)
            probs.append(best.exp())
            steps.append(logp)
            weights.append(attention)
        return Greedy(torch.stack(ids, 1), torch.stack(probs, 1), steps, weights, encoding)


def mask_after_eos(ids: Tensor, probs: Tensor) -> tuple[Tensor, Tensor]:
    """Replace everything after each row's first EOS by PAD (prob 1). Shapes (B, T)."""
    is_eos = (ids == EOS).to(torch.int32)
    after = (torch.cumsum(is_eos, 1) - is_eos) > 0
    return ids.masked_fill(after, PAD), probs.masked_fill(after, 1.0)


def split_views(images: Tensor, num_views: int) -> Tensor:
    """(B, C, H, V·W) -> (V·B, C, H, W), view-major, so that ``out.view(V, B, ...)`` recovers the views."""
    return torch.cat(torch.chunk(images, num_views, dim=3), 0)


def gru_cell(cell: nn.GRUCell, x: Tensor, h: Tensor) -> Tensor:
    """``cell(x, h)`` written out (PyTorch's GRU equations, the cell's own parameters).

    The traced ``nn.GRUCell`` splits its gates with ``unsafe_chunk``, which the ONNX exporter rejects when the
    batch size is dynamic; ``split`` with explicit sizes exports as a static ONNX Split.
    """
    size = cell.hidden_size
    gi = F.linear(x, cell.weight_ih, cell.bias_ih).split(size, 1)
    gh = F.linear(h, cell.weight_hh, cell.bias_hh).split(size, 1)
    r = torch.sigmoid(gi[0] + gh[0])
    z = torch.sigmoid(gi[1] + gh[1])
    n = torch.tanh(gi[2] + r * gh[2])
    return (1 - z) * n + z * h
