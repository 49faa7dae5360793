"""ONNX export of a model's greedy reader, and its verification against PyTorch with ONNX Runtime.

The exported graph reads a sign from its pixels: ``pixels`` uint8 (N, H, W, 3), the images as decoded (RGB, any
height and width, one size per batch) -> ``ids`` int64 (N, T), ``probs`` float32 (N, T) and ``regions`` float32
(N, V, 4), the region of the image each view read (x0, y0, x1, y1 in its pixels). Inside: the views cut, the text
found by the model's own detector and cropped, resized and scaled (:mod:`seqocr.model.pixels`), the sharpest views
picked, the greedy decoder unrolled for its fixed T steps (no data-dependent loop exit), the early exit; batch,
height and width dynamic, BatchNorm folded. The file's metadata holds the charset (JSON) and the preprocessing,
so the file alone reads images with ONNX Runtime, numpy and an image decoder (examples/read_onnx.py). A model
with ``model.crop: lines`` exports the older graph: ``images`` float32 (N, 3, H, V·W) in [-1, 1], preprocessed
by the reader (seqocr.imaging.preprocess).

The greedy graph also outputs what a beam search starts from, so that a search needs no second encoding:
``rows`` int64 (N',), the images whose ``memory`` float32 (N', S, d) and decoder's initial state ``state.0``,
``state.1``, ... follow. A model with the early exit gives them for the signs it read again from one view more
and, through the optional input ``memory_below`` (a float32 scalar, 0 unless fed), for those whose first reading
is less confident than it (a reader feeds its search's gate, or 2 for every sign); any other model for every
image. With ``beam`` the decoder's step is written beside it for ONNX Runtime's beam search
(``OnnxReader(path, beam=K)``, driven from numpy by :mod:`.beam`), with the same metadata: ``NAME.step.onnx``,
``tokens`` int64 (N,), every ``state.i`` and ``memory`` -> ``logp`` float32 (N, C) and ``next.i`` for each state
entry that changes from step to step (the model's ``static_state``, e.g. the attention keys, go in only).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import SeqocrError
from ..fsutil import atomic_write
from ..imaging.preprocess import ImageSpec
from ..model.fuse import fold_batchnorm
from ..model.pixels import PixelReader, pixel_front
from ..model.weights import load_model
from ..version import __version__
from .beam import step_path

OPSET = 17


class GreedyReader(nn.Module):
    """images [, memory_below] -> (ids, probs, rows, memory, *state): the model's greedy path and the memory a
    search starts from (:meth:`~seqocr.model.base.Seq2SeqOCR.greedy_memory`) as a plain forward, for tracing."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, *memory_below: torch.Tensor) -> tuple[torch.Tensor, ...]:
        found = self.model.greedy_memory(images, *memory_below)
        return found.ids, found.probs, *found.search_outputs(self.model)


def metadata(cfg, charset, step: int, pixels: bool = False) -> dict[str, str]:
    m = cfg.model
    preprocess = ImageSpec.from_config(m).to_dict()
    if pixels:  # the graph cuts, crops, resizes and scales the views itself: a reader only decodes the image
        preprocess["input"] = PIXELS_INPUT
    return {"seqocr_version": __version__, "model": m.name, "step": str(step), "max_len": str(m.max_len),
            "vocab_size": str(m.vocab_size),
            "charset": json.dumps(charset.to_dict(), ensure_ascii=False),
            "preprocess": json.dumps(preprocess)}


PIXELS_INPUT = "pixels: uint8 (N, H, W, 3) RGB, the images as decoded, of one size per batch"
EXAMPLE_SIGN = (150, 600)  # (height, width) of the example traced: an FSNS strip (the graph takes any size)


class Step(nn.Module):
    """(tokens, *state, memory) -> (logp, *the state entries that change): one decoder step, for beam search."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, *rest: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state, memory = rest[:-1], rest[-1]
        logp, state, _ = self.model.step(tokens, state, memory)
        return logp, *[s for k, s in enumerate(state) if k not in self.model.static_state]


def export_onnx(checkpoint: str | Path | None, out: str | Path, batch: int = 2, beam: bool = False,
                reading: Mapping[str, Any] | None = None) -> Path:
    """Export a checkpoint (``None``: the shipped model) to ``out``, written atomically; with ``beam`` also the
    step graph of :func:`~.beam.step_path`; ``reading``: the model's reading options, name -> value
    (:func:`~seqocr.model.weights.load_model`: the default model's choice of views and its early exit), which
    the graphs then read with (the choice is inside them and in their metadata's config)."""
    model, cfg, charset, state = load_model(checkpoint, reading)
    model = fold_batchnorm(model)
    spec = ImageSpec.from_config(cfg.model)
    front = pixel_front(model, spec.view_height, spec.view_width, spec.num_views, spec.crop)
    meta = metadata(cfg, charset, int(state.get("step", 0)), pixels=front is not None)
    if front is None:  # model.crop: lines: its layout of lines is found outside the graph
        reader, images, name, regions = GreedyReader(model), torch.zeros(batch, *spec.shape), "images", []
    else:
        images, name, regions = torch.zeros(batch, *EXAMPLE_SIGN, 3, dtype=torch.uint8), "pixels", ["regions"]
        reader = PixelReader(model, front)
    below = [torch.tensor(0.0)] if getattr(model, "exits_early", False) else []  # an input with its default
    with torch.no_grad():  # every image's memory and state, as the step graph's example
        memory, *state = reader.eval()(images, *[torch.tensor(2.0)] * len(below))[len(regions) + 3:]
    n = len(state)
    names = [f"state.{k}" for k in range(n)]
    meta = {**meta, "state": json.dumps({"count": n, "static": list(model.static_state)})}
    _export(reader, (images, *below), out, meta, [name, *["memory_below"] * len(below)],
            ["ids", "probs", *regions, "rows", "memory", *names], defaults={"memory_below": 0.0} if below else {})
    if beam:
        tokens = torch.full((images.shape[0],), 3, dtype=torch.long)
        changing = [f"next.{k}" for k in range(n) if k not in model.static_state]
        _export(Step(model), (tokens, *state, memory), step_path(out), {**meta, "graph": "step"},
                ["tokens", *names, "memory"], ["logp", *changing])
    return Path(out)


def _export(module: nn.Module, example: tuple, out: str | Path, meta: dict[str, str], inputs: list[str],
            outputs: list[str], defaults: Mapping[str, float] | None = None) -> None:
    """Trace ``module`` to ONNX at ``out`` (atomically), axis 0 of every input and output dynamic (and the height
    and width of a ``pixels`` input; a search's ``rows`` count apart from the batch), ``meta`` in the file's
    metadata; ``defaults``: scalar inputs that a caller may leave out (float32, their value when not fed)."""
    import onnx
    from onnx import numpy_helper

    defaults = defaults or {}
    axes = {name: {0: "batch"} for name in inputs + outputs if name not in defaults}
    if "pixels" in axes:
        axes["pixels"] = {0: "batch", 1: "height", 2: "width"}
    if "rows" in outputs:  # a greedy graph's search outputs: as many as the rows it gives memory for
        axes.update({name: {0: "rows"} for name in outputs if name in ("rows", "memory") or name.startswith("state.")})
    with atomic_write(out) as tmp, torch.no_grad(), warnings.catch_warnings():
        # the LSTM batch-size warning does not apply: no initial state is an input, and verify_onnx runs
        # other batch sizes than the example's
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        # The TorchScript exporter, deprecated in favour of torch.export's (dynamo=True). That one exports this
        # graph with the same readings, but it needs the onnxscript package (not among our dependencies) and took
        # about 280 s for a test-sized model, where this one takes seconds: the decoder's unrolled steps go
        # through torch.export and its decompositions. Kept until that changes.
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export",
                                category=DeprecationWarning)
        # Shape checks inside nn.LSTM that the trace records as constants: the shapes are fixed by the model, and
        # the exported graph is checked against PyTorch on other batch sizes (verify_onnx).
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module="torch.nn.modules.rnn")
        # A strided Slice the exporter cannot fold into a constant: it stays an op of the graph, which is correct.
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1 can be constant folded",
                                category=UserWarning)
        torch.onnx.export(module.eval(), example, str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=inputs, output_names=outputs, dynamic_axes=axes)
        proto = onnx.load(str(tmp))
        for name, value in defaults.items():  # an initializer of an input's name is its default (ONNX IR >= 4)
            proto.graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))
        for key, value in meta.items():
            proto.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))


def quantize_int8(onnx_path: str | Path, out: str | Path, calibration: list) -> Path:
    """Static int8 quantization of the convolutions (ONNX Runtime's ``quantize_static``, QDQ format, weights per
    channel): activation ranges calibrated on the ``calibration`` images (the caller's: the command line gives 128
    generated training-split signs, never the held-out split), so the CNN, most of the work, runs on int8 kernels (VNNI/AMX). The recurrent decoder stays
    float: quantizing its small matrix multiplies costs more than it saves. The metadata is carried over, so the
    quantized file reads images on its own too."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from ..imaging.preprocess import eval_batch

    source = onnx.load(str(onnx_path))
    meta = {p.key: p.value for p in source.metadata_props}
    spec = ImageSpec.from_dict(json.loads(meta["preprocess"]))
    pixels = "input" in json.loads(meta["preprocess"])

    class Signs(CalibrationDataReader):
        def __init__(self) -> None:
            self.next_index = 0

        def get_next(self) -> dict | None:
            if self.next_index >= len(calibration):
                return None
            chunk = calibration[self.next_index:self.next_index + 16]
            self.next_index += 16
            if pixels:  # generated signs: one size
                return {"pixels": np.stack([np.asarray(im.convert("RGB"), dtype=np.uint8) for im in chunk])}
            return {"images": eval_batch(chunk, spec)}

    out = Path(out)
    pre_path = out.with_name(f".{out.name}.pre.tmp")  # the pre-processed model, an input of quantize_static
    try:
        with atomic_write(out) as tmp:
            quant_pre_process(str(onnx_path), str(pre_path), skip_symbolic_shape=True)
            quantize_static(str(pre_path), str(tmp), Signs(), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["Conv"], per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8)
            proto = onnx.load(str(tmp))
            del proto.metadata_props[:]
            proto.metadata_props.extend(source.metadata_props)
            proto.metadata_props.add(key="quantization",
                                     value=f"static int8 (Conv, QDQ, per channel; {len(calibration)} calibration images)")
            onnx.save(proto, str(tmp))
    finally:
        for leftover in (pre_path, pre_path.with_name(pre_path.name + ".data")):
            leftover.unlink(missing_ok=True)
    return out


def relative_gap(p: float, q: float) -> float:
    """``|p - q|`` relative to the larger of the two (0 when both are 0): a probability of 0.01 or a confidence of
    1e-70 is compared at its own scale, not against an absolute tolerance it always passes."""
    return abs(p - q) / max(abs(p), abs(q), 1e-300)


def verify_onnx(checkpoint: str | Path | None, onnx_path: str | Path, images: list, batch: int = 16,
                tolerance: float = 1e-3, beam: int = 1, reading: Mapping[str, Any] | None = None
                ) -> dict[str, float]:
    """Run ONNX Runtime and PyTorch on ``images`` (the caller's: the command line gives generated test-split signs,
    ``data.synth.sign_images``); raise on any text difference, or a gap above
    ``tolerance`` relative to the value in any emitted token's probability or in any reading's confidence (the
    temperature included: a graph that lost it changes every confidence and no text). ``beam`` > 1: both read with
    that beam, ONNX Runtime with the graphs of ``export_onnx(..., beam=True)``; PyTorch reads with ``reading``,
    the options the graph was exported with."""
    from .onnx_reader import OnnxReader
    from .predictor import Predictor

    torch_reader = Predictor.from_checkpoint(checkpoint, beam=beam, reading=reading)
    ort_reader = OnnxReader(onnx_path, beam=beam)
    n = len(images)
    a, b = torch_reader.read(images, batch), ort_reader.read(images, batch)
    texts_differ = sum(x.text != y.text for x, y in zip(a, b))
    gap = max((relative_gap(p, q) for x, y in zip(a, b) for p, q in zip(x.char_probs, y.char_probs)), default=0.0)
    conf_gap = max(relative_gap(x.confidence, y.confidence) for x, y in zip(a, b))
    result = {"images": n, "texts_differ": texts_differ, "max_char_prob_gap": gap, "max_confidence_gap": conf_gap,
              "beam": beam}
    if texts_differ or gap > tolerance or conf_gap > tolerance:
        how = f" with a beam of {beam}" if beam > 1 else ""
        raise SeqocrError(f"{onnx_path}: ONNX Runtime disagrees with PyTorch{how} on {texts_differ} of {n} texts, "
                          f"largest relative gap {gap:.2e} in a probability and {conf_gap:.2e} in a confidence "
                          f"(tolerance {tolerance:.0e})")
    if any(x.regions is not None for x in a + b):  # both cut the views themselves: the same regions
        if any(x.regions is None or y.regions is None for x, y in zip(a, b)):
            raise SeqocrError(f"{onnx_path}: one reader cuts the views to their text itself, the other does not")
        region_gap = max(float(np.abs(x.regions - y.regions).max()) for x, y in zip(a, b))
        result["max_region_gap_px"] = region_gap
        if region_gap > REGION_TOLERANCE_PX:
            raise SeqocrError(f"{onnx_path}: ONNX Runtime cuts a view {region_gap:g} pixels away from PyTorch's cut "
                              f"(tolerance {REGION_TOLERANCE_PX} pixel)")
    return result


REGION_TOLERANCE_PX = 1  # a crop box is rounded to whole pixels: a map value at the threshold may move it by one


__all__ = ["GreedyReader", "PixelReader", "Step", "export_onnx", "quantize_int8",
           "verify_onnx"]
