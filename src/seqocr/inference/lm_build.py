"""Building a :class:`~.lm.NgramLM` from texts: counts in numpy, interpolated Kneser-Ney, pruning.

Every n-gram is packed into one unsigned 64-bit integer, its last token in the low byte and each earlier one a
byte higher, so counting is sorting (``np.unique``): an order of at most 8 over at most 256 token ids. The top
order counts n-grams; each lower order counts, for each of its n-grams, how many distinct tokens precede it (the
continuation counts of Kneser-Ney), so that a backed-off estimate says how many contexts a token follows, not
how often. Each order's discount is ``D = n1 / (n1 + 2 n2)`` (n1, n2: how many of its n-grams count 1 and 2).
Pruning drops the n-grams of order 3 and more that count less than ``min_count``; their context's backoff weight
takes over the mass they held, so every distribution still sums to 1.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..charset import EOS, GO, PAD, Charset
from ..errors import ConfigError
from .lm import NgramLM, Order

MAX_ORDER = 8  # 8 tokens of 8 bits fill a 64-bit key


def pack(texts: Iterable[str], charset: Charset, order: int) -> np.ndarray:
    """Every n-gram of every text (``order - 1`` GO tokens before it, EOS after it) as a packed key (N,) uint64."""
    if not 2 <= order <= MAX_ORDER or len(charset) > 256:
        raise ConfigError(f"a language model needs an order from 2 to {MAX_ORDER} and a charset of at most 256 "
                          f"tokens (order {order}, {len(charset)} tokens)")
    pad = [GO] * (order - 1)
    stream, ends = [], []
    for text in texts:
        ids = pad + charset.encode(text, "language model text") + [EOS]
        stream.extend(ids)
        ends.append(len(stream))
    tokens = np.asarray(stream, dtype=np.uint64)
    target = np.ones(len(tokens), dtype=bool)                       # the positions a key ends at: not the pads
    starts = np.r_[0, np.asarray(ends[:-1], dtype=np.int64)]
    for j in range(order - 1):
        target[starts + j] = False
    where = np.flatnonzero(target)
    keys = np.zeros(len(where), dtype=np.uint64)
    for j in range(order):
        keys |= tokens[where - j] << np.uint64(8 * j)
    return keys


def build(texts: Iterable[str], charset: Charset, order: int = 7, min_count: int = 2,
          meta: dict | None = None) -> NgramLM:
    """An interpolated Kneser-Ney model of ``texts`` (label form, every character in ``charset``)."""
    keys, counts = np.unique(pack(texts, charset, order), return_counts=True)
    levels = [(keys, counts)]                                       # order n, then n-1, ..., 1
    for k in range(order - 1, 0, -1):
        shorter = levels[-1][0] & np.uint64((1 << (8 * k)) - 1)     # drop the farthest token: distinct ones before
        levels.append(np.unique(shorter, return_counts=True))
    levels.reverse()                                                # index k - 1: order k
    unigram = _unigram(*levels[0], len(charset))
    orders = [_order(keys, counts, min_count if k >= 3 else 1) for k, (keys, counts) in enumerate(levels[1:], 2)]
    return NgramLM(charset, unigram, orders, meta)


def _discount(counts: np.ndarray) -> float:
    n1, n2 = np.count_nonzero(counts == 1), np.count_nonzero(counts == 2)
    return float(np.clip(n1 / (n1 + 2 * n2), 0.05, 0.95)) if n1 + n2 else 0.5


def _unigram(keys: np.ndarray, counts: np.ndarray, classes: int) -> np.ndarray:
    """Order 1, dense over the token ids, its discounted mass spread evenly over EOS and the characters."""
    d, total = _discount(counts), counts.sum()
    p = np.zeros(classes)
    p[keys.astype(np.int64)] = np.maximum(counts - d, 0) / total
    allowed = np.ones(classes, dtype=bool)
    allowed[[PAD, GO]] = False
    p[allowed] += d * len(keys) / total / allowed.sum()
    return p


def _order(keys: np.ndarray, counts: np.ndarray, min_count: int) -> Order:
    """One order of at least 2 from its sorted keys and their (continuation) counts."""
    d = _discount(counts)
    context = keys >> np.uint64(8)
    first = np.r_[True, context[1:] != context[:-1]]
    group = np.cumsum(first) - 1                                    # each n-gram's context index
    total = np.bincount(group, weights=counts)
    alpha = np.maximum(counts - d, 0) / total[group]
    keep = counts >= min_count
    kept_mass = np.bincount(group[keep], weights=alpha[keep], minlength=len(total))
    used = np.bincount(group[keep], minlength=len(total)) > 0       # a context with no entry left backs off whole
    gamma = 1.0 - kept_mass                                         # d·types/total, plus what pruning let go
    remap = np.cumsum(used) - 1
    entries = keep & used[group]
    starts = np.r_[0, np.cumsum(np.bincount(remap[group[entries]], minlength=int(used.sum())))]
    return Order(context[first][used], gamma[used], starts.astype(np.int64),
                 (keys[entries] & np.uint64(255)).astype(np.uint8), alpha[entries])
