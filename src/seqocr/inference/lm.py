"""A character n-gram language model of street names, in numpy: what the beam search adds to the visual model's
scores so that, between readings the image leaves open, it prefers the one a French street name would be.

The model is over the reader's own token ids (the charset's characters and EOS; GO pads the start), order ``n``:
``P(c | the n-1 tokens before)``, interpolated Kneser-Ney with one discount per order, pruned. It is stored in
one ``.npz`` file of plain arrays (no pickle) with its charset and provenance, loads without torch and answers a
whole beam's next-token distributions at once (:meth:`NgramLM.logprobs`).

Layout, per order ``k`` from 2 to ``n``: the contexts (``k - 1`` tokens packed into an integer, the nearest token
in the low byte, sorted), each with its backoff weight ``gamma`` and a run of (token, ``alpha``) entries, so that
``P_k(c | h) = alpha(h, c) + gamma(h) · P_{k-1}(c | h')`` (``h'``: ``h`` less its farthest token; ``alpha`` 0 for
the tokens not stored). A context not stored backs off entirely. Order 1 is a dense vector.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..charset import EOS, GO, Charset
from ..errors import DataError
from ..fsutil import atomic_write

FORMAT = "seqocr-char-ngram-1"


@dataclass
class Order:
    """One order's contexts: sorted packed keys (M,), backoff weights (M,), where each context's entries start
    (M + 1,), and the entries' tokens (E,) and interpolated probabilities (E,)."""
    keys: np.ndarray
    gamma: np.ndarray
    starts: np.ndarray
    tokens: np.ndarray
    alpha: np.ndarray


class NgramLM:
    """A character n-gram model over a charset's token ids (see the module's docstring)."""

    def __init__(self, charset: Charset, unigram: np.ndarray, orders: list[Order], meta: dict | None = None):
        self.charset, self.unigram, self.orders = charset, unigram.astype(np.float64), orders
        self.order = len(orders) + 1
        self.meta = dict(meta or {})
        self.classes = len(charset)

    # -- reading -----------------------------------------------------------------------------------------
    def logprobs(self, history: np.ndarray) -> np.ndarray:
        """``history`` (R, L) token ids, each row's tokens so far (the first L of a text; L may be 0) -> (R, C)
        natural-log probabilities of the next token over the charset's ids: EOS and the characters; -inf for PAD
        and GO, which a text never holds."""
        rows = history.shape[0]
        p = np.broadcast_to(self.unigram, (rows, self.classes)).copy()
        context = _pad_left(history, self.order - 1)                       # (R, n-1), the nearest token last
        key = np.zeros(rows, dtype=np.uint64)
        for k, order in enumerate(self.orders):                            # contexts of k + 1 tokens
            key |= context[:, -1 - k].astype(np.uint64) << np.uint64(8 * k)
            found, at = _lookup(order.keys, key)
            alive, at = np.flatnonzero(found), at[found]                    # a context not stored: backs off whole
            if not len(alive):
                continue
            p[alive] *= order.gamma[at, None]
            first, last = order.starts[at], order.starts[at + 1]
            counts = last - first
            entries = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            p[np.repeat(alive, counts), order.tokens[entries]] += order.alpha[entries]
        with np.errstate(divide="ignore"):
            return np.log(p)

    def score(self, text: str) -> float:
        """The log-probability of the whole ``text``, its end (EOS) included."""
        ids = self.charset.encode(text) + [EOS]
        history = np.zeros((len(ids), len(ids)), dtype=np.int64)
        for t in range(len(ids)):
            history[t, :t] = ids[:t]
        total = 0.0
        for t, token in enumerate(ids):  # one row per prefix length
            total += float(self.logprobs(history[t:t + 1, :t])[0, token])
        return total

    # -- files -------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (an ``.npz``), atomically."""
        arrays = {"unigram": self.unigram.astype(np.float32)}
        for k, o in enumerate(self.orders, start=2):
            arrays |= {f"o{k}.keys": o.keys, f"o{k}.gamma": o.gamma.astype(np.float32), f"o{k}.starts": o.starts,
                       f"o{k}.tokens": o.tokens, f"o{k}.alpha": o.alpha.astype(np.float16)}
        header = {"format": FORMAT, "order": self.order, "charset": self.charset.to_dict(), **self.meta}
        arrays["header"] = np.frombuffer(json.dumps(header, ensure_ascii=False).encode(), dtype=np.uint8)
        path = Path(path)
        with atomic_write(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> NgramLM:
        """A model written by :meth:`save`; a missing or foreign file is a :class:`DataError` naming it."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: language model not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(bytes(z["header"]).decode())
                if header.get("format") != FORMAT:
                    raise ValueError(f"format {header.get('format')!r}")
                orders = [Order(z[f"o{k}.keys"], z[f"o{k}.gamma"].astype(np.float64), z[f"o{k}.starts"],
                                z[f"o{k}.tokens"].astype(np.int64), z[f"o{k}.alpha"].astype(np.float64))
                          for k in range(2, int(header["order"]) + 1)]
                unigram = z["unigram"]
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"{path}: not a seqocr language model ({type(e).__name__}: {e})") from None
        charset = Charset.from_dict(header.pop("charset"))
        meta = {k: v for k, v in header.items() if k not in ("format", "order")}
        return cls(charset, unigram, orders, meta)

    def check_charset(self, charset: Charset, where: str) -> None:
        """:class:`DataError` unless the model speaks ``charset`` (the reader's), token for token."""
        if self.charset.chars != charset.chars:
            raise DataError(f"{where}: the language model was built for another charset than the model's")


def _pad_left(history: np.ndarray, width: int) -> np.ndarray:
    """The last ``width`` tokens of each row, GO before a text's start."""
    rows, length = history.shape
    out = np.full((rows, width), GO, dtype=np.int64)
    take = min(width, length)
    if take:
        out[:, width - take:] = history[:, length - take:]
    return out


def _lookup(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``wanted`` are among the sorted ``keys``, and where."""
    at = np.searchsorted(keys, wanted)
    at = np.minimum(at, len(keys) - 1) if len(keys) else np.zeros_like(at)
    found = keys[at] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
    return found, at


class LanguagePrior:
    """A language model as a :class:`~.beam.Prior` (shallow fusion): ``weight`` times its log-probability of each
    next token, plus ``bonus`` for every character (not for EOS), which offsets the model's cost per character so
    that fusion does not favour short readings."""

    def __init__(self, lm: NgramLM, weight: float, bonus: float):
        self.lm, self.weight, self.bonus = lm, float(weight), float(bonus)
        self.max_gain = max(self.bonus, 0.0)  # a log-probability adds at most 0

    def __call__(self, history: np.ndarray) -> np.ndarray:
        scores = self.weight * self.lm.logprobs(history)
        chars = np.ones(scores.shape[1], dtype=bool)
        chars[EOS] = False
        scores[:, chars] += self.bonus
        return scores
