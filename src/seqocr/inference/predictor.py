"""Reading images with a PyTorch checkpoint: paths, PIL images or numpy arrays in, :class:`Reading`s out, in batches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..charset import Charset
from ..device import pick_device, place_model, to_device, use_bf16
from ..errors import ConfigError
from ..imaging.preprocess import ImageSpec
from ..model.base import mask_after_eos
from ..model.fuse import fold_batchnorm
from ..model.pixels import pixel_front
from ..model.weights import load_model, shipped_model
from .beam import ATTENTION_NEEDS_GREEDY, LENGTH_PENALTY, beam_search, check_beam
from .decoding import Search, read_with_exit, readings
from .postprocess import Reading, decode_batch
from .reader import Reader, size_groups, with_regions

ATTENTION_WITH_LM = ("attention maps come from greedy reading, without a language model or a gazetteer: read them "
                     "with --no-lm (in Python: lm=False)")


def greedy_read(model: torch.nn.Module, images: torch.Tensor, charset: Charset, bf16: bool = False
                ) -> list[Reading]:
    """Greedy decoding of preprocessed images (B, 3, H, V·W), on their device, into readings."""
    with torch.no_grad(), torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        ids, probs = model.greedy(images)
    return decode_batch(ids.cpu().numpy(), probs.float().cpu().numpy(), charset)


def attention_read(model: torch.nn.Module, images: torch.Tensor, charset: Charset, bf16: bool = False
                   ) -> list[Reading]:
    """:func:`greedy_read`, the same readings, each with its characters' attention maps (len(text), V, R, W)."""
    with torch.no_grad(), torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        ids, probs, maps = model.greedy_attention(images)
    return decode_batch(ids.cpu().numpy(), probs.float().cpu().numpy(), charset, maps.float().cpu().numpy())


class TorchSteps:
    """A model's decoder as a :class:`~.beam.StepDecoder`: the images encoded once, memory and state repeated for
    ``beam`` hypotheses per image (rows ``b·K .. b·K+K-1``), the state reordered by the search's parents."""

    def __init__(self, model, images: torch.Tensor | None, beam: int, memory: torch.Tensor | None = None):
        memory = model.encode(images) if memory is None else memory  # or an encoding of ``images`` at hand
        rows = torch.arange(memory.shape[0], device=memory.device).repeat_interleave(beam)
        self.model, self.memory = model, memory.index_select(0, rows)               # (B·K, S, D)
        self.state = tuple(s.index_select(0, rows) for s in model.init_state(memory))

    def step(self, tokens: np.ndarray, parents: np.ndarray | None) -> np.ndarray:
        device = self.memory.device
        if parents is not None:
            self.state = self.model.reorder_state(self.state, torch.from_numpy(parents).to(device))
        logp, self.state, _ = self.model.step(torch.from_numpy(tokens).to(device), self.state, self.memory)
        return logp.float().cpu().numpy()


def beam_read(model: torch.nn.Module, images: torch.Tensor, charset: Charset, beam: int, bf16: bool = False,
              length_penalty: float = LENGTH_PENALTY) -> list[Reading]:
    """Beam search (:func:`~.beam.beam_search`) over preprocessed images (B, 3, H, V·W) into readings; the
    confidence is the product of the chosen tokens' probabilities, as greedy's."""
    with torch.no_grad(), torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        ids, probs = beam_search(TorchSteps(model, images, beam), images.shape[0], beam, model.max_len,
                                 length_penalty)
    return decode_batch(ids, probs, charset)


def guided_read(model: torch.nn.Module, images: torch.Tensor, charset: Charset, how: Search, bf16: bool = False
                ) -> list[Reading]:
    """Beam search guided by a language model or a gazetteer (:mod:`.decoding`) over preprocessed images, with
    the greedy reader's early exit where the model takes it (:meth:`~seqocr.model.base.Seq2SeqOCR.search_memory`:
    the signs less confident than its threshold searched again from their second memory, with more views)."""
    with torch.no_grad(), torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        start = model.search_memory(images)
        memory = start.memory
        more = start.more or (lambda rows: memory.index_select(0, rows))
        found = read_with_exit(lambda beam: TorchSteps(model, None, beam, memory),
                               lambda rows, beam: TorchSteps(model, None, beam,
                                                             more(torch.from_numpy(rows).to(memory.device))),
                               images.shape[0], model.max_len, how, start.again_below)
    return readings(found, charset, how)


def model_read(model: torch.nn.Module, images: torch.Tensor, charset: Charset, bf16: bool = False, beam: int = 1,
               attention: bool = False, how: Search | None = None) -> list[Reading]:
    """Greedy reading (``beam`` 1, with attention maps if asked) or beam search; guided by ``how``'s language
    model or gazetteer where it has one (at ``beam``)."""
    if how is not None and how.guided:
        if attention:
            raise ConfigError(ATTENTION_WITH_LM)
        return guided_read(model, images, charset, replace(how, beam=beam), bf16)
    if check_beam(beam) == 1:
        return (attention_read if attention else greedy_read)(model, images, charset, bf16)
    if attention:
        raise ConfigError(ATTENTION_NEEDS_GREEDY)
    return beam_read(model, images, charset, beam, bf16)


class Predictor(Reader):
    """A PyTorch model as a :class:`~.reader.Reader`, on ``device`` (``cpu``, ``cuda``, ``cuda:N``)."""

    engine = "torch"  # what reads, as --json and /healthz name it

    def __init__(self, model: torch.nn.Module, charset, spec: ImageSpec, bf16: bool = False, beam: int = 1,
                 device: str | torch.device = "cpu"):
        self.device = pick_device(device)
        self.model, self.charset, self.spec = place_model(fold_batchnorm(model), self.device), charset, spec
        self.front = None if spec is None else pixel_front(self.model, spec.view_height, spec.view_width,
                                                           spec.num_views, spec.crop)
        self.reads_pixels = self.front is not None
        self.bf16, self.beam = use_bf16(bf16, self.device, "--bf16"), check_beam(beam)  # beam 1: greedy

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, bf16: bool = False, beam: int = 1,
                        device: str | torch.device = "cpu", reading: Mapping[str, Any] | None = None,
                        engine: str = "auto", lm: bool = True) -> Reader:
        """A reader of a checkpoint (``.pt``) or exported weights (``.safetensors``), with PyTorch; or of the
        shipped model when ``path`` is None, with ONNX Runtime where it is installed (the same texts, several times as
        fast: :mod:`.engine`) unless an option needs PyTorch (``bf16``, a reading option, a CUDA ``device``) or
        ``engine="torch"`` asks for it. Attention maps (``read(..., attention=True)``) come from the PyTorch reader
        only. ``reading``: the model's reading options, name -> value, its architecture's to check (:func:`load_model`;
        the default model's choose which of its views it reads). A language model beside the
        weights (``NAME.lm.npz``, as the shipped model has) guides the reading unless ``lm`` is False."""
        from .engine import ONNXRUNTIME, choose, torch_only

        chosen = choose(path, engine, bf16=bf16, reading=reading, device=str(device), beam=beam)
        if chosen == ONNXRUNTIME:
            if path is not None or (why := torch_only(bf16=bf16, reading=reading, device=str(device), beam=beam)):
                raise ConfigError(f"engine='onnxruntime' reads the shipped .onnx model as exported; "
                                  f"{'a checkpoint' if path is not None else why} needs engine='torch'")
            from .onnx_reader import OnnxReader

            return OnnxReader(None, beam=beam, device=str(device), lm=lm)
        device = pick_device(device)
        model, cfg, charset, _ = load_model(path, reading)
        reader = cls(model, charset, ImageSpec.from_config(cfg.model), bf16, beam, device)
        reader.guide_beside(shipped_model() if path is None else path, lm)
        return reader

    def read_pixels(self, batch: np.ndarray, attention: bool = False, beam: int | None = None) -> list[Reading]:
        """Images of one size (N, H, W, 3) uint8 RGB -> readings: the model cuts, crops and resizes the views
        itself (:class:`~seqocr.model.pixels.PixelFront`, in float32 whatever ``bf16``), then reads them as
        :meth:`read_arrays` does; each reading says the region of the image each view read."""
        with torch.no_grad():
            images, regions = self.front(to_device(torch.from_numpy(np.ascontiguousarray(batch)), self.device))
        return with_regions(self.read_arrays(images, attention=attention, beam=beam), regions.cpu().numpy())

    def greedy_scores(self, batch: np.ndarray | list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """:meth:`.Reader.greedy_scores`, unmasked, as the model reads greedily (its views, its temperature)."""
        with torch.no_grad():
            if isinstance(batch, np.ndarray) or not self.reads_pixels:
                images = to_device(torch.from_numpy(np.stack(batch) if isinstance(batch, list) else batch), self.device)
            else:  # pixels, a batch per image size: the model cuts and crops the views (one size after the front)
                groups = size_groups(batch)
                cut = [self.front(to_device(torch.from_numpy(np.stack([batch[k] for k in g])), self.device))[0]
                       for g in groups]
                images = torch.cat(cut)[torch.from_numpy(np.argsort(np.concatenate(groups)))]  # back in order
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                greedy = self.model.greedy_steps(images)
        ids, probs = mask_after_eos(greedy.ids, greedy.probs)
        texts = [r.text for r in decode_batch(ids.cpu().numpy(), probs.float().cpu().numpy(), self.charset)]
        return torch.stack(greedy.logps, 1).float().cpu().numpy(), greedy.ids.cpu().numpy(), texts

    def read_arrays(self, batch: np.ndarray, attention: bool = False, beam: int | None = None) -> list[Reading]:
        """Preprocessed images (B, 3, H, V·W) -> readings, with their attention maps if asked (greedy only);
        ``beam`` overrides the reader's beam width for this batch. Attention maps come from greedy reading: asked
        for them, a reader guided only by the language model beside its model's file reads greedily."""
        images = batch if isinstance(batch, torch.Tensor) else to_device(torch.from_numpy(batch), self.device)
        search, beam = self.search, self.beam if beam is None else beam
        if attention and self.lm_by_default:
            search, beam = None, 1
        return model_read(self.model, images, self.charset, self.bf16, beam, attention, search)
