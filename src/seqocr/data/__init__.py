"""Data: a source string from a config or the command line turned into a dataset (:func:`build_dataset`) or into
labelled images (:func:`iter_labelled`), for any kind of source in the registry (:mod:`.sources`):

* ``synth`` or ``synth:split=test,n=256,seed=1``: the generator (train split by default; ``invented=0.4``
  invents the proper names of that share of signs, ``independent=F`` draws their type, particle and name apart,
  ``extras=F`` paints a secondary line under the name of that share of plates);
* a path to a labels file of ``path<TAB>text`` lines;
* an LMDB folder (``data.mdb`` inside) in the field's layout (``num-samples``, ``image-%09d``, ``label-%09d``);
* a folder of FSNS TFRecord shards (e.g. ``fsns/train``), streamed with no conversion (:mod:`.stream`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..charset import Charset
from ..config import DataConfig
from ..imaging.preprocess import ImageSpec
from ..shares import PLAIN, Shares
from .sources import SOURCES, Source, SynthDefaults, find_source, parse_synth

__all__ = ["EVAL_SYNTH_SEED", "SOURCES", "Source", "SynthDefaults", "build_dataset", "find_source", "iter_labelled",
           "parse_synth"]

log = logging.getLogger(__name__)

EVAL_SYNTH_SEED = 10_000  # `eval synth` and validation draw from here up, far from the training seeds (0, 1, 2...)


def build_dataset(source: str, charset: Charset, spec: ImageSpec, max_chars: int, *, augment: bool | str = False,
                  seed: int = 0, synth_n: int = 256, synth_split: str = "train", max_skip_fraction: float = 0.01,
                  stream: dict | None = None, synth_shares: Shares = PLAIN, synth_glyphs: bool = False):
    """The dataset of any source (:func:`~.sources.find_source`): map-style, or for TFRecord shards an endless
    :class:`~.stream.ShardStream` configured by ``stream`` (batch_size, start_step, rank, world). ``synth_*``
    and ``seed`` are what a ``synth`` name leaves unsaid; generated signs carry their glyph boxes with
    ``synth_glyphs`` (an attention loss needs them)."""
    defaults = SynthDefaults(synth_n, seed, synth_split, synth_shares, synth_glyphs)
    return find_source(source, defaults).dataset(charset, spec, max_chars, augment=augment, seed=seed,
                                                 max_skip_fraction=max_skip_fraction, stream=stream)


def iter_labelled(source: str, charset: Charset, max_chars: int, synth_n: int = 256,
                  max_skip_fraction: float = DataConfig.max_skip_fraction, warn: Callable[[str], None] = log.warning,
                  seed: int = EVAL_SYNTH_SEED, shard: tuple[int, int] = (0, 1)):
    """``(image, text, where)`` of any source (:meth:`~.sources.Source.labelled`), torch-free: what every
    evaluation reads (``seqocr eval``, the calibration set; training's validation asks its source directly), each
    reader preparing them (:func:`seqocr.inference.evaluate.evaluate_reader`).
    An unreadable image is ``(None, reason, where)``, and skipped labels are summed up to ``warn`` (more than
    ``max_skip_fraction`` of them is an error, as for training). A ``synth`` name draws ``synth_n`` held-out signs
    from ``seed`` unless it says otherwise. ``shard`` ``(rank, world)``: one torchrun rank's share."""
    defaults = SynthDefaults(synth_n, seed, "test")
    return find_source(source, defaults).labelled(charset, max_chars, max_skip_fraction, warn, shard)
