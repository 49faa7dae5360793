"""Beam search over any one-step decoder, in numpy: the bookkeeping that the PyTorch reader (:mod:`.predictor`) and
the ONNX Runtime reader (:mod:`.onnx_reader`) share, so that both keep, rank and stop their hypotheses alike and
read the same texts. Torch-free.

A decoder holds ``B·K`` rows, image ``b``'s K hypotheses in rows ``b·K .. b·K+K-1`` (the encoder ran once per image
and its output was repeated K times). :meth:`StepDecoder.step` first moves every row's state to the row given by
``parents`` (always a row of the same image), then feeds it one token and returns the log-probabilities of the next.

Scoring: a hypothesis scores the sum of its tokens' log-probabilities, EOS included (the log of greedy's
confidence), divided by ``length ** length_penalty`` to rank (0: the raw sum, which favours shorter texts; 1: the
mean per token). A finished hypothesis (it wrote EOS) stays in the beam and competes with the live ones, extended
by PAD at no cost; the search stops when no live hypothesis can overtake an image's best finished one, or after
``max_len`` steps. With K = 1 this is greedy decoding, token for token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from ..charset import EOS, GO, PAD

MAX_BEAM = 32        # widest beam the command line and the service accept: memory grows with it (K copies per image)
LENGTH_PENALTY = 0.0  # no length normalisation: on generated signs it read no better (BENCHMARKS.md, beam search)
ATTENTION_NEEDS_GREEDY = "attention maps come from greedy reading; read them with --beam 1"


class Prior(Protocol):
    """What the search adds to the decoder's log-probabilities, from the tokens each row has written so far: a
    language model's weighted log-probabilities, a gazetteer's constraint. ``max_gain``: the most it can add in
    one step (the search stops only once no live hypothesis can overtake a finished one)."""
    max_gain: float

    def __call__(self, history: np.ndarray) -> np.ndarray:
        """``history`` (B·K, t) each row's tokens so far -> (B·K, C) scores to add to the next token's."""


class StepDecoder(Protocol):
    def step(self, tokens: np.ndarray, parents: np.ndarray | None) -> np.ndarray:
        """Reorder the rows' state by ``parents`` (B·K,) int64 (None: as they are), feed ``tokens`` (B·K,) int64,
        return the next token's log-probabilities (B·K, C)."""


def check_beam(beam: int) -> int:
    """``beam`` itself when it is a usable beam width, 1 (greedy) to :data:`MAX_BEAM`."""
    if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or not 1 <= beam <= MAX_BEAM:
        raise ValueError(f"beam must be an integer from 1 to {MAX_BEAM}, got {beam!r}")
    return int(beam)


def step_path(path: str | Path) -> Path:
    """The decoder's step graph that ONNX Runtime's beam search reads beside ``NAME.onnx`` (written by
    ``seqocr export --beam``): ``NAME.step.onnx``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.step{path.suffix}")


def beam_search(decoder: StepDecoder, batch: int, beam: int, max_len: int,
                length_penalty: float = LENGTH_PENALTY, prior: Prior | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each image's best hypothesis: token ids (B, T) int64 and their probabilities (B, T) float32, T = ``max_len``,
    PAD with probability 1 after the first EOS, as the greedy decoder returns them (``decode_batch`` reads both).
    With a ``prior`` the hypotheses are ranked by the decoder's log-probabilities plus the prior's scores (shallow
    fusion); the probabilities returned stay the decoder's own."""
    ids, probs, _ = beam_hypotheses(decoder, batch, beam, max_len, length_penalty, prior)
    return ids[:, 0], probs[:, 0]


def beam_hypotheses(decoder: StepDecoder, batch: int, beam: int, max_len: int,
                    length_penalty: float = LENGTH_PENALTY, prior: Prior | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every image's K hypotheses, best first: ids (B, K, T), the decoder's probabilities (B, K, T) and the
    ranking scores (B, K) (-inf for a hypothesis that never was: a beam wider than the texts possible)."""
    k, rows = check_beam(beam), batch * beam
    group = np.repeat(np.arange(batch) * k, k)                   # (B·K,) each row's image's first row
    scores = np.tile(np.r_[0.0, np.full(k - 1, -np.inf)], batch)  # one live hypothesis per image at first
    lengths = np.zeros(rows)                                     # tokens written, EOS included
    done = np.zeros(rows, dtype=bool)
    ids = np.full((rows, max_len), PAD, dtype=np.int64)
    probs = np.ones((rows, max_len), dtype=np.float32)
    tokens, parents = np.full(rows, GO, dtype=np.int64), None
    for t in range(max_len):
        logp = decoder.step(tokens, parents)                     # (B·K, C)
        c = logp.shape[1]
        fused = logp.astype(np.float64) if prior is None else logp + prior(ids[:, :t])  # rows' texts so far
        total = scores[:, None] + np.where(done[:, None], _pad_only(c), fused)
        length = np.where(done, lengths, t + 1.0)[:, None]
        key = (total / length ** length_penalty).reshape(batch, k * c)
        best = np.argsort(-key, axis=1, kind="stable")[:, :k]   # (B, K) ties: the lower beam, then the lower id
        parents = (group.reshape(batch, k) + best // c).reshape(-1)
        tokens = (best % c).reshape(-1)
        scores = total.reshape(batch, k * c)[np.arange(batch)[:, None], best].reshape(-1)
        ids, probs, lengths, done = ids[parents], probs[parents], lengths[parents], done[parents]
        ids[:, t] = np.where(done, PAD, tokens)
        probs[:, t] = np.where(done, 1.0, np.exp(logp[parents, tokens]))
        lengths = np.where(done, lengths, t + 1.0)
        done = done | (tokens == EOS)
        gain = 0.0 if prior is None else prior.max_gain * (max_len - t - 1)
        if _settled(scores, lengths, done, batch, k, max_len, length_penalty, gain):
            break
    final = np.where(done, scores / np.maximum(lengths, 1.0) ** length_penalty, scores / float(max_len) ** length_penalty)
    return ids.reshape(batch, k, -1), probs.reshape(batch, k, -1), final.reshape(batch, k)


def _pad_only(classes: int) -> np.ndarray:
    """The continuation of a finished hypothesis: PAD at no cost, nothing else."""
    row = np.full(classes, -np.inf)
    row[PAD] = 0.0
    return row


def _settled(scores: np.ndarray, lengths: np.ndarray, done: np.ndarray, batch: int, k: int, max_len: int,
             length_penalty: float, gain: float = 0.0) -> bool:
    """True when every image's best finished hypothesis ranks at least as high as any live one could ever rank: a
    live sum falls, or rises by at most ``gain`` more (a prior's bonus over the steps left), and its divisor grows
    at most to ``max_len ** length_penalty``. With no length penalty and no gain that is "each image's top
    hypothesis has finished", and stopping there changes no reading."""
    finished = np.where(done, scores / np.maximum(lengths, 1.0) ** length_penalty, -np.inf).reshape(batch, k)
    ceiling = np.where(done, -np.inf, (scores + gain) / float(max_len) ** length_penalty).reshape(batch, k)
    return bool(np.all(finished.max(1) >= ceiling.max(1)))
