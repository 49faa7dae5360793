"""A gazetteer: the street names a user expects (a mapping team reading one town's signs), one a line, as a
constraint on the beam search (:class:`Lexicon` is a :class:`~.beam.Prior` that allows only the tokens that
continue one of its names) and the rule that falls back to free reading when none of them fits the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..charset import EOS, Charset
from ..errors import DataError
from .accents import without_accents

# A lexicon name is taken when its visual log-probability is at most this far below free reading's: the names
# of a gazetteer are likelier than any text, so a name a little less likely to the eye than the free reading
# still wins; one much less likely means the sign is not in the gazetteer. Chosen on generated signs
# (BENCHMARKS, "the gazetteer").
FALLBACK_MARGIN = 3.0


class Lexicon:
    """Names as token ids in a prefix tree: each prefix a node, each node the tokens that may follow it (EOS where
    a name ends)."""

    max_gain = 0.0  # it only forbids

    def __init__(self, names: list[str], charset: Charset, where: str = "lexicon"):
        if not names:
            raise DataError(f"{where}: no names")
        self.names, self.charset = names, charset
        self._node: dict[tuple[int, ...], int] = {(): 0}
        follow: list[set[int]] = [set()]
        for n, name in enumerate(names, 1):
            missing = charset.missing(name)
            if missing:
                raise DataError(f"{where}: line {n} ({name!r}): characters the model cannot read: "
                                f"{''.join(sorted(set(missing)))!r}")
            ids = (*charset.encode(name), EOS)
            for t in range(len(ids)):
                follow[self._node[ids[:t]]].add(ids[t])
                if ids[:t + 1] not in self._node:
                    self._node[ids[:t + 1]] = len(follow)
                    follow.append(set())
        self._allowed = [np.fromiter(sorted(f), dtype=np.int64) for f in follow]

    def painted(self, ids: np.ndarray) -> str:
        """A reading's text (token ids, up to EOS) as a plate may paint it: without accents, case folded."""
        return without_accents(self.charset.decode(ids)).casefold()

    def holds(self, ids: np.ndarray) -> bool:
        """Whether token ids (a reading: characters, then EOS, then anything) spell one of the names."""
        ends = np.flatnonzero(np.asarray(ids) == EOS)
        return bool(len(ends)) and tuple(int(t) for t in ids[:ends[0] + 1]) in self._node

    @classmethod
    def from_file(cls, path: str | Path, charset: Charset) -> Lexicon:
        """One name a line, UTF-8; blank lines and surrounding spaces ignored. A missing file, one that is not
        UTF-8, holds no name or a name the charset cannot encode is a :class:`DataError` naming it."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"{path}: lexicon not found") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: the lexicon is not UTF-8 text (byte {e.start})") from None
        except OSError as e:
            raise DataError(f"{path}: the lexicon cannot be read ({e.strerror or type(e).__name__})") from None
        names = list(dict.fromkeys(" ".join(line.split()) for line in text.splitlines() if line.strip()))
        return cls(names, charset, str(path))

    def __len__(self) -> int:
        return len(self.names)

    def __call__(self, history: np.ndarray) -> np.ndarray:
        """0 for the tokens that continue a name from each row's text so far, -inf for every other."""
        out = np.full((history.shape[0], len(self.charset)), -np.inf)
        for r, row in enumerate(history.tolist()):
            node = self._node.get(tuple(row))
            if node is not None:
                out[r, self._allowed[node]] = 0.0
        return out
