"""Reading with an exported ONNX model and ONNX Runtime, without torch (``pip install seqocr[onnx]``).

The .onnx file alone is enough: the charset and the preprocessing come from its metadata (see export.py). Beam
search (``beam`` > 1) also reads the encoder and step graphs that ``seqocr export --beam`` writes beside it
(``NAME.encoder.onnx``, ``NAME.step.onnx``) and drives the step from numpy (:mod:`.beam`).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..device import cuda_index
from ..errors import ConfigError, DataError, SeqocrError
from .beam import ATTENTION_NEEDS_GREEDY, LENGTH_PENALTY, beam_paths, beam_search, check_beam
from .decoding import Found, gated, readings, search
from .onnx_check import read_metadata
from .postprocess import Reading, decode_batch
from .reader import Reader, with_regions

SHIPPED_ONNX = Path(__file__).parent.parent / "resources" / "model" / "seqocr-default.onnx"  # the shipped model
ATTENTION_NEEDS_TORCH = ("attention maps come from the PyTorch reader only (the ONNX model outputs ids and "
                         "probabilities); read with PyTorch: seqocr read --torch, or in Python "
                         "Predictor.from_checkpoint(engine='torch')")


# what the beam graphs must share with the greedy one: the same model, decoded and preprocessed alike
SAME_MODEL = ("model", "step", "max_len", "charset", "preprocess")
# ONNX Runtime sessions kept open in a process, the most recently used (the shipped model's three graphs and a few
# more): a reader opened again on an unchanged file, with the same threads and device, shares the session already
# built (building one optimises the graph: seconds for the shipped model); ONNX Runtime runs a session from
# several threads at once.
KEPT_SESSIONS = 6
_sessions: OrderedDict[tuple, object] = OrderedDict()
_sessions_lock = threading.Lock()


def providers(device: str) -> list:
    """ONNX Runtime's execution providers for ``device`` (``cpu``, ``cuda``, ``cuda:N``), checked against this
    onnxruntime build (the CUDA provider comes with the onnxruntime-gpu package)."""
    import onnxruntime as ort

    index = cuda_index(device)
    if index is None:
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise ConfigError(f"device {device}: this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
    return [("CUDAExecutionProvider", {"device_id": max(index, 0)}), "CPUExecutionProvider"]


class OnnxReader(Reader):
    """An exported model as a :class:`~.reader.Reader`, with ONNX Runtime on ``device`` (``cpu``, ``cuda``,
    ``cuda:N``); ``path`` None reads with the shipped model (``seqocr.OnnxReader().read(["sign.png"])``). A language
    model beside the file (``NAME.lm.npz``, as the shipped model has) guides its reading unless ``lm`` is False; it
    reads with the beam graphs beside the file too (``seqocr export --beam``)."""

    engine = "onnxruntime"  # what reads, as --json and /healthz name it

    def __init__(self, path: str | Path | None = None, threads: int = 0, beam: int = 1, device: str = "cpu",
                 lm: bool = True):
        path = SHIPPED_ONNX if path is None else path
        self.path, self.threads, self.beam, self.device = Path(path), threads, check_beam(beam), device
        self.session = self._session(self.path)
        meta = self.session.get_modelmeta().custom_metadata_map
        if "charset" not in meta or "preprocess" not in meta:
            raise DataError(f"{path}: an ONNX model without seqocr metadata (charset, preprocess)")
        self.charset, self.spec = read_metadata(self.path, self.session, meta)  # checked against the graph
        self.reads_pixels = any(i.name == "pixels" for i in self.session.get_inputs())  # else preprocessed images
        self.metadata = meta
        self.beam_sessions = None  # (encoder, step), loaded on the first beam search
        if self.beam > 1:  # a beam asked for: its graphs loaded and checked now
            self._beam_graphs()
        self.guide_beside(self.path, lm)
        if self.search is not None and not self.beam_ready:  # the language model beside: its graphs on first search
            self._missing_graphs()

    def _session(self, path: Path):
        try:
            import onnxruntime as ort
        except ImportError:
            raise SeqocrError("onnxruntime is not installed: pip install 'seqocr[onnx]'") from None
        if not path.is_file():
            raise DataError(f"{path}: ONNX model not found")
        chosen = providers(self.device)
        stat = path.stat()  # the file as it is now: one rewritten in place is opened afresh
        key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, self.threads, self.device)
        with _sessions_lock:
            if key in _sessions:
                _sessions.move_to_end(key)
                return _sessions[key]
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        try:
            session = ort.InferenceSession(str(path), options, providers=chosen)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own untyped errors for bad files
            raise DataError(f"{path}: not a readable ONNX model ({type(e).__name__})") from None
        with _sessions_lock:
            _sessions[key] = session
            while len(_sessions) > KEPT_SESSIONS:
                _sessions.popitem(last=False)
        return session

    @property
    def beam_ready(self) -> bool:
        """Whether the beam graphs are beside the model file (checked when first read)."""
        return self.beam_sessions is not None or all(p.is_file() for p in beam_paths(self.path))

    def _beam_graphs(self) -> tuple:
        """The encoder and step sessions beside the model file, checked to belong to it."""
        if self.beam_sessions is None:
            names = beam_paths(self.path)
            if not all(p.is_file() for p in names):
                self._missing_graphs()
            sessions = tuple(self._session(p) for p in names)
            for p, s in zip(names, sessions):
                meta = s.get_modelmeta().custom_metadata_map
                if "state" not in meta or any(meta.get(k) != self.metadata.get(k) for k in SAME_MODEL):
                    raise DataError(f"{p}: not the beam graph of {self.path.name} (another model or export)")
            self.beam_sessions = sessions
        return self.beam_sessions

    def _missing_graphs(self) -> None:
        names = beam_paths(self.path)
        guided = self.search is not None and self.search.guided
        hint = f" (or read without {self.lm_file.name}: --no-lm, lm=False)" if guided and self.lm_file else ""
        raise DataError(f"{self.path}: {'guided reading' if guided else 'beam search'} with ONNX Runtime needs "
                        f"{names[0].name} and {names[1].name} beside it; write them with seqocr export --beam{hint}")

    def read_pixels(self, batch: np.ndarray, attention: bool = False, beam: int | None = None) -> list[Reading]:
        """Images of one size (N, H, W, 3) uint8 RGB -> readings: the graph does the rest (export.py), and says the
        region of the image each view read (greedy reading and beam search alike: the encoder graph's ``regions``)."""
        if not self.reads_pixels:
            raise ConfigError(f"{self.path}: this graph takes preprocessed images (exported before the crop was in "
                              "the graph); read it with read() or read_arrays()")
        return self._run({"pixels": np.ascontiguousarray(batch, dtype=np.uint8)}, attention, beam)

    def read_arrays(self, batch: np.ndarray, attention: bool = False, beam: int | None = None) -> list[Reading]:
        """Preprocessed images (N, 3, H, V·W), for a graph exported before the crop was in it (``images`` input)."""
        if self.reads_pixels:
            raise ConfigError(f"{self.path}: this graph reads the images' pixels and crops them itself; read it with "
                              "read() or read_pixels() (N, H, W, 3) uint8")
        return self._run({"images": np.asarray(batch, dtype=np.float32)}, attention, beam)

    def _run(self, feed: dict[str, np.ndarray], attention: bool, beam: int | None) -> list[Reading]:
        beam = check_beam(self.beam if beam is None else beam)
        if attention:  # the exported greedy graph outputs ids and probs only (export.py)
            raise ConfigError(ATTENTION_NEEDS_TORCH if beam == 1 or self.lm_by_default else ATTENTION_NEEDS_GREEDY)
        if self.search is not None and self.search.guided:
            return self._guided(feed, beam)
        if beam > 1:
            encoder, step = self._beam_graphs()
            steps = OrtSteps(encoder, step, feed, beam)
            ids, probs = beam_search(steps, steps.count, beam, int(self.metadata["max_len"]), LENGTH_PENALTY)
            return decode_batch(ids, probs, self.charset, regions=steps.regions)
        names = ["ids", "probs", "regions"] if self.reads_pixels else ["ids", "probs"]
        ids, probs, *regions = self.session.run(names, feed)
        return decode_batch(ids, probs, self.charset, regions=regions[0] if regions else None)

    def _guided(self, feed: dict[str, np.ndarray], beam: int) -> list[Reading]:
        """Beam search guided by the reader's language model or gazetteer (:mod:`.decoding`); the encoder graph
        reads the views that the greedy graph reads when it is unsure (no early exit between graphs)."""
        encoder, step = self._beam_graphs()
        how = replace(self.search, beam=beam)
        max_len = int(self.metadata["max_len"])
        (name, batch), = feed.items()  # pixels or images

        def again(rows: np.ndarray) -> Found:
            memory, state, _ = encode(encoder, {name: batch[rows]})
            return search(lambda k: OrtSteps(encoder, step, None, k, (memory, state)), len(rows), max_len, how)

        if how.gate >= 1:
            return readings(again(np.arange(len(batch))), self.charset)
        names = ["ids", "probs", "regions"] if self.reads_pixels else ["ids", "probs"]
        ids, probs, *regions = self.session.run(names, feed)  # its early exit inside
        out = readings(gated(Found(ids, probs), again, how), self.charset)
        return with_regions(out, regions[0]) if regions else out


def encode(encoder, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray], np.ndarray | None]:
    """The encoder graph's memory, the decoder's initial state and, from pixels, each view's region (N, V, 4)."""
    layout = json.loads(encoder.get_modelmeta().custom_metadata_map["state"])
    outputs = dict(zip([o.name for o in encoder.get_outputs()], encoder.run(None, feed)))
    return outputs["memory"], [outputs[f"state.{k}"] for k in range(layout["count"])], outputs.get("regions")


class OrtSteps:
    """The exported encoder and step graphs as a :class:`~.beam.StepDecoder` (the ONNX Runtime twin of
    :class:`~.predictor.TorchSteps`): images (or their pixels) encoded once, memory and state repeated ``beam``
    times per image; ``regions``, where the encoder graph cut the views itself, each view's region (N, V, 4)."""

    def __init__(self, encoder, step, feed: dict[str, np.ndarray] | None, beam: int,
                 encoding: tuple[np.ndarray, list[np.ndarray]] | None = None):
        layout = json.loads(encoder.get_modelmeta().custom_metadata_map["state"])
        self.static, self.session = set(layout["static"]), step
        self.regions = None  # (N, V, 4) where the encoder graph reads pixels
        if encoding is None:  # feed: {"pixels": ...} or {"images": ...}
            memory, state, self.regions = encode(encoder, feed)
        else:  # the images' encoding at hand (memory, state)
            memory, state = encoding
        self.count = len(memory)
        rows = np.repeat(np.arange(self.count), beam)
        self.memory, self.state = memory[rows], [s[rows] for s in state]  # (B·K, S, D), each (B·K, ...)

    def step(self, tokens: np.ndarray, parents: np.ndarray | None) -> np.ndarray:
        if parents is not None:  # rows of the same image: the static entries need no reordering
            self.state = [s if k in self.static else s[parents] for k, s in enumerate(self.state)]
        feed = {"tokens": tokens, "memory": self.memory, **{f"state.{k}": s for k, s in enumerate(self.state)}}
        logp, *changed = self.session.run(None, feed)
        changing = iter(changed)
        self.state = [s if k in self.static else next(changing) for k, s in enumerate(self.state)]
        return logp
