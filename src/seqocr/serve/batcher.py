"""Reading the images of concurrent requests together: the batcher and the allocator it keeps settled
(:mod:`seqocr.serve`)."""

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import replace

import numpy as np

from ..inference.reader import Reader
from .limits import Limits


class Allocator:
    """glibc's malloc, kept from holding on to memory under a long load (Linux with glibc; elsewhere nothing).

    Without this a service's resident memory crept up for the whole of a long soak (BENCHMARKS.md, the soak):
    each thread that decodes images gets its own malloc arena (up to 8 per core), whose freed pages glibc keeps.
    ``settle`` (before any thread starts) caps the arenas at 2; ``trim``
    hands the arenas' free pages back: the batcher calls it after a batch when no other is waiting, and once more
    when it has been idle for ``trim_every_s``, so memory goes back after a burst too (at most every
    ``trim_every_s``, and only after work)."""

    # glibc's mallopt parameter (malloc.h). A fixed M_MMAP_THRESHOLD (-3) was tried as well: it cost much of the
    # service's capacity, every large buffer then a fresh mmap (BENCHMARKS.md, the allocator).
    M_ARENA_MAX = -8

    def __init__(self, trim_every_s: float = 10.0, clock=time.monotonic):
        import ctypes

        try:
            self.libc = ctypes.CDLL("libc.so.6")
            self.libc.mallopt, self.libc.malloc_trim  # noqa: B018 - glibc's, or no libc to work with
        except (OSError, AttributeError):
            self.libc = None
        self.clock = clock  # seconds, monotonic (a test gives its own)
        self.trim_every_s, self.last_trim = trim_every_s, clock()
        self.owed = False  # work was done (memory used) since the last trim

    def settle(self) -> bool:
        """Cap the arenas; False where there is no glibc."""
        return self.libc is not None and bool(self.libc.mallopt(self.M_ARENA_MAX, 2))

    def trim(self) -> bool:
        """Give free memory back to the system if work was done since the last trim and ``trim_every_s`` has passed
        since it; whether it ran."""
        if self.libc is None or not self.owed or self.clock() - self.last_trim < self.trim_every_s:
            return False
        self.libc.malloc_trim(0)
        self.last_trim, self.owed = self.clock(), False
        return True


class Batcher:
    """One worker thread that reads prepared images (:meth:`~seqocr.inference.reader.Reader.prepare`) in batches of up to ``max_batch``, taking them from the
    clients in turn (fair queuing): a client that queued many images delays another's by at most one image per
    batch, however long its own queue."""

    def __init__(self, reader: Reader, limits: Limits, allocator: Allocator | None = None):
        self.reader, self.limits, self.allocator = reader, limits, allocator
        self.queues: dict[str, deque] = {}  # client -> its jobs, in order; a client's entry goes when it empties
        self.ready = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="seqocr-batcher", daemon=True)
        self.thread.start()

    def submit(self, arrays: list[np.ndarray], attention: bool = False, beam: int | None = None, client: str = ""
               ) -> list[Future]:
        """Queue images to read for ``client``; ``beam`` None: the reader's own beam width."""
        futures: list[Future] = [Future() for _ in arrays]
        with self.ready:
            self.queues.setdefault(client, deque()).extend(
                (x, attention, beam, f) for x, f in zip(arrays, futures))
            self.ready.notify()
        return futures

    def _take(self, room: int) -> list[tuple]:
        """Up to ``room`` jobs, one per client in turn (the clients served go to the back of the rotation)."""
        batch: list[tuple] = []
        while len(batch) < room and self.queues:
            for client in list(self.queues):
                jobs = self.queues.pop(client)
                batch.append(jobs.popleft())
                if jobs:
                    self.queues[client] = jobs  # re-inserted last: next time the others come first
                if len(batch) == room:
                    break
        return batch

    def _run(self) -> None:
        idle_s = self.allocator.trim_every_s if self.allocator is not None else None
        while True:
            with self.ready:
                batch = []
                if self.ready.wait_for(lambda: self.queues, timeout=idle_s):  # else idle for idle_s: batch stays []
                    batch = self._take(self.limits.max_batch)
                    deadline = time.monotonic() + self.limits.max_wait_ms / 1000  # for the whole batch
                    while len(batch) < self.limits.max_batch and self.ready.wait_for(
                            lambda: self.queues, timeout=max(0.0, deadline - time.monotonic())):
                        batch += self._take(self.limits.max_batch - len(batch))
            for beam in dict.fromkeys(b for _, _, b, _ in batch):  # one pass per beam width asked
                self._read([job for job in batch if job[2] == beam], beam)
            if self.allocator is not None:
                if batch:
                    self.allocator.owed = True
                if not self.queues:  # nothing waiting (or idle for trim_every_s): a moment to give memory back
                    self.allocator.trim()

    def _read(self, batch: list[tuple], beam: int | None) -> None:
        attention = any(a for _, a, _, _ in batch)  # one pass for all; the maps are dropped where not asked
        options = {"attention": attention} if beam is None else {"attention": attention, "beam": beam}
        try:
            readings = self.reader.read_prepared([x for x, _, _, _ in batch], **options)  # pixels: by size
        except Exception as e:  # noqa: BLE001 - handed to every waiting request, never kills the thread
            for *_, f in batch:
                f.set_exception(e)
            return
        for (_, a, _, f), r in zip(batch, readings):
            f.set_result(r if a else replace(r, attention=None))
