"""Reading with an exported ONNX model and ONNX Runtime, without torch (``pip install seqocr[onnx]``).

The .onnx file alone is enough: the charset and the preprocessing come from its metadata (see export.py). Beam
search (``beam`` > 1) starts from the memory that the greedy graph gives with its reading, and drives the
decoder's step graph that ``seqocr export --beam`` writes beside it (``NAME.step.onnx``) from numpy (:mod:`.beam`).
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
from .beam import ATTENTION_NEEDS_GREEDY, LENGTH_PENALTY, beam_search, check_beam, step_path
from .decoding import Found, gated, readings, search
from .onnx_check import read_metadata
from .postprocess import Reading, decode_batch
from .reader import Reader, default_threads, with_regions

SHIPPED_ONNX = Path(__file__).parent.parent / "resources" / "model" / "seqocr-default.onnx"  # the shipped model
ATTENTION_NEEDS_TORCH = ("attention maps come from the PyTorch reader only (the ONNX model outputs ids and "
                         "probabilities); read with PyTorch: seqocr read --torch, or in Python "
                         "Predictor.from_checkpoint(engine='torch')")


# what the step graph must share with the greedy one: the same model, decoded and preprocessed alike
SAME_MODEL = ("model", "step", "max_len", "charset", "preprocess")
EVERY_SIGN = 2.0  # the greedy graph's memory_below that gives a search's memory for every sign (a confidence is <= 1)
GATE_MARGIN = 1e-3  # memory asked for a little above a gate: the graph's float32 confidence may round up past it
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
    reads with the step graph beside the file too (``seqocr export --beam``). ``threads``: ONNX Runtime's CPU
    threads (0: ``OMP_NUM_THREADS`` where set, as PyTorch takes it, else one per core)."""

    engine = "onnxruntime"  # what reads, as --json and /healthz name it

    def __init__(self, path: str | Path | None = None, threads: int = 0, beam: int = 1, device: str = "cpu",
                 lm: bool = True):
        path = SHIPPED_ONNX if path is None else path
        self.path, self.beam, self.device = Path(path), check_beam(beam), device
        self.threads = threads or default_threads()
        self.session = self._session(self.path)
        meta = self.session.get_modelmeta().custom_metadata_map
        if "charset" not in meta or "preprocess" not in meta:
            raise DataError(f"{path}: an ONNX model without seqocr metadata (charset, preprocess)")
        self.charset, self.spec = read_metadata(self.path, self.session, meta)  # checked against the graph
        self.reads_pixels = any(i.name == "pixels" for i in self.session.get_inputs())  # else preprocessed images
        self.metadata = meta
        outputs = [o.name for o in self.session.get_outputs()]
        self.gives_memory = "memory" in outputs  # a search's memory from the greedy graph (else an older export)
        self.state_names = sorted((o for o in outputs if o.startswith("state.")), key=lambda o: int(o[6:]))
        self.takes_below = any(i.name == "memory_below" for i in
                               [*self.session.get_inputs(), *self.session.get_overridable_initializers()])
        self.step_session = None  # loaded on the first beam search
        if self.beam > 1:  # a beam asked for: its graph loaded and checked now
            self._step_graph()
        self.guide_beside(self.path, lm)
        if self.search is not None and not self.beam_ready:  # the language model beside: its graph on first search
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
        # errors only: ONNX Runtime warns at every start that an input with a default (the greedy graph's
        # memory_below) is not folded into a constant, which is what it is for
        options.log_severity_level = 3
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
        """Whether the graph gives a search's memory and the step graph is beside the model file (checked when
        first read)."""
        return self.step_session is not None or (self.gives_memory and step_path(self.path).is_file())

    def _step_graph(self):
        """The step session beside the model file, checked to belong to it."""
        if self.step_session is None:
            path = step_path(self.path)
            if not (self.gives_memory and path.is_file()):
                self._missing_graphs()
            session = self._session(path)
            meta = session.get_modelmeta().custom_metadata_map
            if "state" not in meta or any(meta.get(k) != self.metadata.get(k) for k in SAME_MODEL):
                raise DataError(f"{path}: not the step graph of {self.path.name} (another model or export)")
            self.step_session = session
        return self.step_session

    def _missing_graphs(self) -> None:
        guided = self.search is not None and self.search.guided
        hint = f" (or read without {self.lm_file.name}: --no-lm, lm=False)" if guided and self.lm_file else ""
        what = f"{'guided reading' if guided else 'beam search'} with ONNX Runtime"
        if not self.gives_memory:
            raise DataError(f"{self.path}: {what} starts from the memory the greedy graph gives, and this one was "
                            f"exported before it gave it; export it again with seqocr export --beam{hint}")
        raise DataError(f"{self.path}: {what} needs {step_path(self.path).name} beside it; write it with seqocr "
                        f"export --beam{hint}")

    def read_pixels(self, batch: np.ndarray, attention: bool = False, beam: int | None = None) -> list[Reading]:
        """Images of one size (N, H, W, 3) uint8 RGB -> readings: the graph does the rest (export.py), and says the
        region of the image each view read (greedy reading and beam search alike: the greedy graph's ``regions``)."""
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
        if attention:  # the exported greedy graph outputs no attention maps (export.py)
            raise ConfigError(ATTENTION_NEEDS_TORCH if beam == 1 or self.lm_by_default else ATTENTION_NEEDS_GREEDY)
        if self.search is not None and self.search.guided:
            return self._guided(feed, beam)
        if beam == 1:
            found, regions, _ = self._greedy(feed)
            return decode_batch(found.ids, found.probs, self.charset, regions=regions)
        step = self._step_graph()
        found, regions, memory = self._greedy(feed, EVERY_SIGN)
        steps = OrtSteps(step, *memory.take(np.arange(len(found.ids))), beam)
        ids, probs = beam_search(steps, steps.count, beam, int(self.metadata["max_len"]), LENGTH_PENALTY)
        return decode_batch(ids, probs, self.charset, regions=regions)

    def _greedy(self, feed: dict[str, np.ndarray], memory_below: float | None = None
                ) -> tuple[Found, np.ndarray | None, SearchStart | None]:
        """The greedy graph's reading, its regions (None for a graph of preprocessed images), and with
        ``memory_below`` the memory of the signs a search may start from (:func:`~.export.export_onnx`)."""
        names = ["ids", "probs", *(["regions"] if self.reads_pixels else [])]
        if memory_below is not None:
            names += ["rows", "memory", *self.state_names]
            if self.takes_below:
                feed = {**feed, "memory_below": np.array(memory_below, np.float32)}
        ids, probs, *rest = self.session.run(names, feed)  # the early exit inside
        regions = rest.pop(0) if self.reads_pixels else None
        return Found(ids, probs), regions, SearchStart(*rest) if memory_below is not None else None

    def _guided(self, feed: dict[str, np.ndarray], beam: int) -> list[Reading]:
        """Beam search guided by the reader's language model or gazetteer (:mod:`.decoding`) over the signs whose
        greedy reading is less confident than the gate, from the memory the greedy graph gave for them (the views
        it reads when it is unsure: no second encoding); every sign with a gazetteer (a confident reading it does
        not hold is searched too) or with no gate."""
        step = self._step_graph()
        how = replace(self.search, beam=beam)
        max_len = int(self.metadata["max_len"])
        below = EVERY_SIGN if how.lexicon is not None or how.gate >= 1 else how.gate + GATE_MARGIN
        greedy, regions, start = self._greedy(feed, below)

        def again(rows: np.ndarray) -> Found:
            memory, state = start.take(rows)
            return search(lambda k: OrtSteps(step, memory, state, k), len(rows), max_len, how)

        found = again(np.arange(len(greedy.ids))) if how.gate >= 1 else gated(greedy, again, how)
        out = readings(found, self.charset, how)
        return with_regions(out, regions) if regions is not None else out


class SearchStart:
    """The greedy graph's memory and initial decoder state for the images ``rows`` it gave them for."""

    def __init__(self, rows: np.ndarray, memory: np.ndarray, *state: np.ndarray):
        self.memory, self.state = memory, list(state)
        self.where = {row: k for k, row in enumerate(rows.tolist())}

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """The memory and state of ``rows`` (B',), in that order."""
        missing = [int(r) for r in rows if int(r) not in self.where]
        if missing:
            raise SeqocrError(f"the greedy graph gave no search memory for images {missing[:5]} of the batch")
        at = np.array([self.where[int(r)] for r in rows], dtype=np.int64)
        return self.memory[at], [s[at] for s in self.state]


class OrtSteps:
    """The exported step graph as a :class:`~.beam.StepDecoder` (the ONNX Runtime twin of
    :class:`~.predictor.TorchSteps`): the images' memory and initial state, repeated ``beam`` times per image."""

    def __init__(self, step, memory: np.ndarray, state: list[np.ndarray], beam: int):
        layout = json.loads(step.get_modelmeta().custom_metadata_map["state"])
        self.static, self.session = set(layout["static"]), step
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
