"""What every reader shares, torch-free: images in, :class:`~seqocr.inference.postprocess.Reading`s out, in batches.

A reader supplies ``read_pixels(batch)`` for images of one size (N, H, W, 3) uint8, where its model cuts, crops and
resizes the views itself (:mod:`seqocr.model.pixels`, and the ONNX graph exported from it), and ``read_arrays(batch)``
for images preprocessed outside the model (N, 3, H, V·W): a model with ``model.crop: lines``, an ONNX file exported
before the crop was in the graph. The PyTorch :class:`~seqocr.inference.predictor.Predictor`
and the ONNX Runtime :class:`~seqocr.inference.onnx_reader.OnnxReader` differ only there, so both prepare and decode
with the very same code. A reader reads the images it is given: where they come from is its caller's choice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from ..charset import Charset
from ..errors import ConfigError, DataError
from ..imaging.preprocess import ImageSpec, eval_batch, load_image
from .decoding import GATE, LM_BONUS, LM_WEIGHT, Search
from .postprocess import Reading

ImageInput = str | Path | Image.Image | np.ndarray


def as_image(item: ImageInput, index: int) -> Image.Image:
    """One input of :meth:`Reader.read` as an RGB image: a path is decoded, a PIL image converted, a numpy array
    (H, W, 3) uint8 in RGB order taken as it is. Anything else is a :class:`~seqocr.errors.DataError` naming its
    index in the input list."""
    if isinstance(item, Image.Image):
        return item.convert("RGB")
    if isinstance(item, np.ndarray):
        if item.dtype != np.uint8 or item.ndim != 3 or item.shape[2] != 3 or 0 in item.shape:
            raise DataError(f"image {index}: a numpy array must be (H, W, 3) uint8 RGB, got {item.shape} "
                            f"{item.dtype}")
        return Image.fromarray(np.ascontiguousarray(item))  # (H, W, 3) uint8: RGB
    if isinstance(item, (str, Path)):
        return load_image(item)
    raise DataError(f"image {index}: expected a path, a PIL image or a numpy array, got {type(item).__name__}")


def lm_beside(model_path: str | Path) -> Path | None:
    """The language model that ships beside a model's file, ``NAME.lm.npz`` for ``NAME.onnx`` or
    ``NAME.safetensors`` (``seqocr lm``; the shipped model has one), or None: a reader of that file reads with it
    unless told not to (``lm=False``, ``--no-lm``)."""
    path = Path(model_path)
    lm = path.with_name(f"{path.stem}.lm.npz")
    return lm if lm.is_file() else None


def with_regions(readings: list[Reading], regions: np.ndarray) -> list[Reading]:
    """``readings`` each with its image's regions (N, V, 4): where its views were cut (:attr:`Reading.regions`)."""
    return [replace(r, regions=np.asarray(g, dtype=np.float32)) for r, g in zip(readings, regions)]


def default_threads() -> int:
    """A reader's CPU threads when it is given none: ``OMP_NUM_THREADS`` where set to a count (PyTorch takes it too,
    so the one setting holds both engines and the detector), else 0: each library's own choice, one per core."""
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(first) if first.isdigit() else 0


def size_groups(images: list[np.ndarray]) -> list[list[int]]:
    """The positions of ``images`` grouped by size, each group in order: the batches a model reads pixels in."""
    sizes: dict[tuple[int, ...], list[int]] = {}
    for k, pixels in enumerate(images):
        sizes.setdefault(pixels.shape, []).append(k)
    return list(sizes.values())


class Reader:
    charset: Charset
    spec: ImageSpec
    threads: int = 0  # CPU threads the reader runs on (0: the library's default)
    beam: int = 1
    search: Search | None = None  # a language model or a gazetteer guiding the beam search (:meth:`guide`)
    lm_file: Path | None = None  # the language model beside the model's file (:func:`lm_beside`)
    reads_pixels: bool = False  # the model takes the image's pixels and cuts, crops and resizes them itself
    engine: str = ""  # what reads, as --json and /healthz name it

    def guide(self, lm: str | Path | None = None, lexicon: str | Path | None = None, lm_weight: float = LM_WEIGHT,
              lm_bonus: float = LM_BONUS, beam: int = 0, gate: float = GATE, accents: bool = True) -> Reader:
        """Read with the language model file ``lm`` fused into the beam search (at ``lm_weight``, ``lm_bonus``)
        and/or the gazetteer file ``lexicon`` (one street name a line: a name is read where it fits the image,
        the text as painted where none does; :attr:`Reading.lexicon` says which), at ``beam`` hypotheses
        (0: :data:`~.decoding.LM_BEAM`), for the signs whose greedy reading is less confident than ``gate`` (the
        others keep it; 1: every sign); with the language model fused (a weight above 0), every reading's accents
        are written as it writes them where it is far surer of them (:mod:`.accents`), unless ``accents`` is False.
        Neither file: the reader's plain reading. Returns the reader."""
        self.search = Search.load(self.charset, beam or self.beam if self.beam > 1 else beam, lm, lm_weight,
                                  lm_bonus, lexicon, gate, accents)
        if self.search.guided:
            self.beam = self.search.beam
        return self

    @property
    def lm_name(self) -> str | None:
        """The file name of the language model the reader reads with, if any."""
        search = self.search
        return search.lm_path.name if search is not None and search.prior is not None and search.lm_path else None

    @property
    def lm_by_default(self) -> bool:
        """Whether the reader's search is the language model beside its model's file and nothing else."""
        search = self.search
        return (search is not None and search.lexicon is None and self.lm_file is not None
                and search.lm_path == self.lm_file)

    def guide_beside(self, model_path: str | Path, lm: bool) -> None:
        """Note the language model beside ``model_path`` (:func:`lm_beside`) and, with ``lm``, read with it at its
        default weight, bonus, beam and gate."""
        self.lm_file = lm_beside(model_path)
        if lm and self.lm_file is not None:
            self.guide(self.lm_file)

    def read_arrays(self, batch: np.ndarray, attention: bool = False, **options) -> list[Reading]:  # pragma: no cover
        """Preprocessed images (N, 3, H, V·W) float32 in [-1, 1] -> readings."""
        raise NotImplementedError

    def read_pixels(self, batch: np.ndarray, attention: bool = False, **options) -> list[Reading]:  # pragma: no cover
        """Images of one size (N, H, W, 3) uint8 RGB -> readings, each with the regions its views read."""
        raise NotImplementedError

    def greedy_scores(self, batch: np.ndarray | list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Every greedy step's log-probabilities (N, T, C), the greedy ids (N, T) and the texts they spell, of what
        :meth:`prepare` gives: what a temperature is fitted on (:func:`~.evaluate.calibration_data`)."""
        raise ConfigError(f"a temperature is fitted on the PyTorch reader's scores, not {self.engine}'s: read a "
                          "checkpoint or .safetensors file")

    def read(self, images: Sequence[ImageInput] | ImageInput, batch_size: int = 32, attention: bool = False
             ) -> list[Reading]:
        """Paths, PIL images or numpy arrays (H, W, 3) uint8 RGB -> one reading each, in order; with
        ``attention``, each reading's ``attention`` holds where the model looked for each character (PyTorch only).
        One path or image given alone (``read("sign.png")``) is read as a list of one."""
        if isinstance(images, (str, Path, Image.Image)) or (isinstance(images, np.ndarray) and images.ndim == 3):
            images = [images]  # a str is a sequence too: of its characters, each taken for a path
        out: list[Reading] = []
        for i in range(0, len(images), batch_size):
            chunk = [as_image(im, i + k) for k, im in enumerate(images[i:i + batch_size])]
            out += self.read_images(chunk, attention=attention)
        return out

    def read_images(self, images: list[Image.Image], attention: bool = False) -> list[Reading]:
        """Decoded RGB images -> one reading each, in order (:meth:`prepare`, then :meth:`read_prepared`)."""
        return self.read_prepared(self.prepare(images), attention=attention)

    def prepare(self, images: list[Image.Image]) -> np.ndarray | list[np.ndarray]:
        """Decoded RGB images as this reader's model takes them: their pixels, (H, W, 3) uint8 each, where the
        model cuts, crops and resizes them itself (:attr:`reads_pixels`); else preprocessed here into one batch
        (N, 3, H, V·W) float32 (``eval_batch``: the text detector, if any, reads all their views at once)."""
        if self.reads_pixels:
            return [np.asarray(im.convert("RGB"), dtype=np.uint8) for im in images]
        return eval_batch(images, self.spec, self.detector_threads())

    def read_prepared(self, batch: np.ndarray | list[np.ndarray], attention: bool = False, **options
                      ) -> list[Reading]:
        """What :meth:`prepare` gives (or a list of its rows, as the service queues them) -> one reading each, in
        order. Pixels are read in one batch per image size; preprocessed images (N, 3, H, V·W) in one batch
        (:meth:`read_arrays`). ``options``: the reader's own (``beam``)."""
        if isinstance(batch, np.ndarray) or not self.reads_pixels:
            return self.read_arrays(np.stack(batch) if isinstance(batch, list) else batch, attention=attention,
                                    **options)
        out: list[Reading | None] = [None] * len(batch)
        for members in size_groups(batch):
            readings = self.read_pixels(np.stack([batch[k] for k in members]), attention=attention, **options)
            for k, reading in zip(members, readings):
                out[k] = reading
        return out  # type: ignore[return-value]

    def detector_threads(self) -> int:
        """The threads the text detector runs on where images are preprocessed outside the model (``model.crop:
        lines``, or an ONNX file from before the crop was in the graph): the reader's own, else ``OMP_NUM_THREADS``,
        else every core."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return self.threads or default_threads() or cores
