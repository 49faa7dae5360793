"""Streaming many shard files (FSNS TFRecords) straight into training, with no conversion.

The stream is split across *consumers*: every DataLoader worker of every distributed rank. Consumer k of n
reads, each epoch:

* whole shards ``order[k::n]`` when there are at least n shards (FSNS train: 512 shards), where ``order`` is
  the shard list permuted from ``seed + epoch``;
* otherwise every shard, keeping record i of a shard when ``i % n == k``.

Either way every record is read by exactly one consumer per epoch. Records then pass a shuffle buffer seeded
from (seed, epoch, k). Memory stays flat: one shard is streamed at a time and the buffer holds raw payloads.

Resumption: a DataLoader hands batch j of a rank to worker ``j % W``, so after S steps worker w has produced
``ceil((S - w) / W)`` batches; it skips that many × B records (framing only, no decoding) and continues
exactly where an uninterrupted run would be. Physical worker w plays logical worker (w + S) % W, since the
DataLoader starts its round-robin at worker 0 again.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from torch.utils.data import IterableDataset, get_worker_info

from ..charset import Charset
from ..errors import DataError
from ..imaging.preprocess import ImageSpec, fsns_views, load_image
from .items import item_augmentation, make_item
from .labels import label_problem

Payload = tuple[str, bytes]  # (where, raw record)


def batches_done_by_worker(steps: int, worker: int, workers: int) -> int:
    """Batches a DataLoader with ``workers`` workers took from worker ``worker`` in its first ``steps`` batches."""
    return max(0, (steps - worker + workers - 1) // workers)


class ShardStream(IterableDataset):
    """An endless, sharded, shuffled stream of ``(image, text, where)`` items from record files.

    ``read(path)`` yields ``(record index, payload)``; ``parse(payload, where)`` returns an object with
    ``encoded`` (image bytes), ``text``, ``width`` and ``orig_width`` (FSNS's view count; 0 if unknown).
    """

    def __init__(self, shards: list[Path], read: Callable[[Path], Iterator[tuple[int, bytes]]],
                 parse: Callable[[bytes, str], object], spec: ImageSpec, charset: Charset, max_chars: int, *,
                 augment: bool | str = False, seed: int = 0,
                 shuffle: bool = True, buffer: int = 256, batch_size: int = 1, start_step: int = 0,
                 rank: int = 0, world: int = 1, epochs: int | None = None):
        if not shards:
            raise DataError("no shard files to stream")
        self.shards, self.read, self.parse, self.spec = list(shards), read, parse, spec
        self.charset, self.max_chars = charset, max_chars
        self.augment, self.seed, self.shuffle, self.buffer = augment, seed, shuffle, buffer
        self.batch_size, self.start_step, self.rank, self.world, self.epochs = (batch_size, start_step, rank,
                                                                                  world, epochs)

    # -- which records this consumer reads --------------------------------------------------------------
    def _consumer(self) -> tuple[int, int, int, int]:
        """(consumer k, consumers n, logical worker, workers). After resuming at step S the DataLoader's first
        batch comes from physical worker 0 but must be logical batch S, so worker w plays ``(w + S) % W``."""
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        worker = (worker + self.start_step) % workers
        return self.rank * workers + worker, self.world * workers, worker, workers

    def _epoch_payloads(self, epoch: int, k: int, n: int) -> Iterator[Payload]:
        order = list(self.shards)
        if self.shuffle:
            random.Random(self.seed + epoch).shuffle(order)
        if len(order) >= n:
            units, keep = order[k::n], (lambda i: True)
        else:
            units, keep = order, (lambda i: i % n == k)
        for shard in units:
            for i, payload in self.read(shard):
                if keep(i):
                    yield f"{shard}:{i}", payload

    def _shuffled(self, payloads: Iterator[Payload], rng: random.Random) -> Iterator[Payload]:
        if not self.shuffle or self.buffer <= 1:
            yield from payloads
            return
        pool: list[Payload] = []
        for item in payloads:
            if len(pool) < self.buffer:
                pool.append(item)
                continue
            j = rng.randrange(len(pool))
            pool[j], item = item, pool[j]
            yield item
        rng.shuffle(pool)
        yield from pool

    def payloads(self) -> Iterator[tuple[int, Payload]]:
        """This consumer's records as ``(epoch, (where, payload))``, endless unless ``epochs`` is set."""
        k, n, _, _ = self._consumer()
        epoch = 0
        while self.epochs is None or epoch < self.epochs:
            rng = random.Random(zlib.crc32(f"{self.seed}:{epoch}:{k}".encode()))
            for item in self._shuffled(self._epoch_payloads(epoch, k, n), rng):
                yield epoch, item
            epoch += 1

    # -- items ----------------------------------------------------------------------------------------------
    def decode(self, epoch: int, where: str, payload: bytes):
        augmentation = item_augmentation(self.augment, self.seed, zlib.crc32(f"{epoch}:{where}".encode()))
        return make_item(lambda: self._load(where, payload), where, self.spec, *augmentation)

    def _load(self, where: str, payload: bytes):
        rec = self.parse(payload, where)
        problem = label_problem(rec.text, self.charset, self.max_chars, where)
        if problem is not None:
            raise DataError(problem[1])
        present = fsns_views(getattr(rec, "width", 0) or 0, getattr(rec, "orig_width", 0) or 0,
                             self.spec.num_views)
        return load_image(rec.encoded, where), rec.text, present

    def __iter__(self):
        _, _, worker, workers = self._consumer()
        skip = batches_done_by_worker(self.start_step, worker, workers) * self.batch_size
        for count, (epoch, (where, payload)) in enumerate(self.payloads()):
            if count >= skip:
                yield self.decode(epoch, where, payload)
