"""Character sets: text <-> token ids for the attention decoder.

Pure Python (no numpy, no torch) so that the torch-free ONNX reader can use it.

Token layout, shared by every model::

    0 = PAD   padding after EOS (the reference trains on it; our default model masks it)
    1 = GO    decoder input at step 0 only; never a target
    2 = EOS   end of text
    3.. = characters, in the order of the charset file's ids

Two file formats are read:

* FSNS's ``id<TAB>char`` (``charset_size=134.txt``): ``<nul>`` is FSNS's padding (id 133) and is not a
  character; an id listed on several lines (``’ ' ‘`` all are id 2) encodes every listed variant and decodes
  to the *last* listed one, which is why FSNS labels read ``Rue d‘Orbey``.
* a plain file of one character per line (``<space>`` or a line holding one space means the space).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from .errors import DataError

PAD, GO, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<go>", "<eos>")
FSNS_NULL = "<nul>"
_FSNS_LINE = re.compile(r"(\d+)\t(.+)")


class Charset:
    """An ordered list of characters plus aliases that encode to the same id.

    ``chars[k]`` is the canonical character of token ``k + len(SPECIALS)``. ``aliases`` maps every accepted
    input character (variants included) to its token id. ``source_ids`` keeps the charset file's own ids so
    that FSNS's ``image/class`` arrays can be decoded (see :meth:`decode_source_ids`).
    """

    def __init__(self, chars: Sequence[str], aliases: dict[str, int] | None = None,
                 source_ids: Sequence[int] | None = None, name: str = "custom", source_null: int | None = None):
        if len(set(chars)) != len(chars):
            dup = sorted({c for c in chars if list(chars).count(c) > 1})
            raise DataError(f"charset {name}: duplicate characters {dup!r}")
        if not chars:
            raise DataError(f"charset {name}: no characters")
        self.chars = list(chars)
        self.name = name
        self.offset = len(SPECIALS)
        self.aliases = {c: i + self.offset for i, c in enumerate(self.chars)}
        self.aliases.update(aliases or {})
        self.source_ids = list(source_ids) if source_ids is not None else list(range(len(self.chars)))
        self._source_to_token = {s: i + self.offset for i, s in enumerate(self.source_ids)}
        self.source_null = source_null

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def fsns(cls) -> Charset:
        """The FSNS charset shipped inside the package (the default)."""
        text = resources.files("seqocr").joinpath("resources/charset_fsns.txt").read_text(encoding="utf-8")
        return cls.parse(text, name="fsns")

    @classmethod
    def from_file(cls, path: str | Path) -> Charset:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"{path}: charset file not found") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: charset file is not UTF-8 ({e.reason} at byte {e.start})") from None
        return cls.parse(text, name=str(path))

    @classmethod
    def load(cls, spec: str | None) -> Charset:
        """``None``/``""``/``"fsns"`` -> the packaged FSNS charset, anything else is a file path."""
        return cls.fsns() if not spec or spec == "fsns" else cls.from_file(spec)

    @classmethod
    def parse(cls, text: str, name: str = "custom") -> Charset:
        lines = [ln for ln in text.splitlines() if ln != ""]
        if lines and all(_FSNS_LINE.fullmatch(ln) for ln in lines):
            return cls._parse_fsns(lines, name)
        chars = []
        for n, ln in enumerate(lines, 1):
            c = " " if ln in (" ", "<space>") else ln.strip()
            if len(c) != 1:
                raise DataError(f"charset {name} line {n}: expected one character per line, got {ln!r}")
            chars.append(c)
        return cls(chars, name=name)

    @classmethod
    def _parse_fsns(cls, lines: list[str], name: str) -> Charset:
        by_id: dict[int, list[str]] = {}
        for ln in lines:
            m = _FSNS_LINE.fullmatch(ln)
            assert m is not None
            by_id.setdefault(int(m.group(1)), []).append(m.group(2))
        ids = sorted(i for i, v in by_id.items() if v[-1] != FSNS_NULL)
        chars = [by_id[i][-1] for i in ids]  # the last listed variant wins, as in attention_ocr's read_charset
        aliases = {}
        for k, i in enumerate(ids):
            for variant in by_id[i]:
                aliases[variant] = k + len(SPECIALS)
        null_ids = [i for i, v in by_id.items() if v[-1] == FSNS_NULL]
        return cls(chars, aliases, source_ids=ids, name=name, source_null=null_ids[0] if null_ids else None)

    # -- encoding -----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of tokens, specials included: the decoder's output size."""
        return self.offset + len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.aliases

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` that this charset cannot encode, in order of appearance, once each."""
        return list(dict.fromkeys(c for c in text if c not in self.aliases))

    def encode(self, text: str, where: str = "") -> list[int]:
        """Token ids of ``text`` (no GO, no EOS). Unknown characters raise :class:`DataError` naming ``where``."""
        try:
            return [self.aliases[c] for c in text]
        except KeyError:
            bad = self.missing(text)
            at = f"{where}: " if where else ""
            raise DataError(f"{at}character {bad[0]!r} (U+{ord(bad[0]):04X}) of {text!r} is not in charset "
                            f"{self.name}") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of a token-id sequence: stops at the first EOS, skips PAD/GO and ids beyond the charset."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            k = i - self.offset
            if 0 <= k < len(self.chars):
                out.append(self.chars[k])
        return "".join(out)

    def normalize(self, text: str) -> str:
        """``decode(encode(text))``: each character replaced by its canonical variant."""
        return self.decode(self.encode(text))

    def decode_source_ids(self, ids: Iterable[int]) -> str:
        """Text of ids in the charset *file's* numbering (FSNS ``image/class``); stops at the null id."""
        out = []
        for s in ids:
            s = int(s)
            if s == self.source_null:
                break
            if s not in self._source_to_token:
                raise DataError(f"charset {self.name}: id {s} is not in the file")
            out.append(self.chars[self._source_to_token[s] - self.offset])
        return "".join(out)

    # -- serialisation (checkpoints, ONNX metadata) -------------------------------------------------------
    def to_dict(self) -> dict:
        return {"name": self.name, "chars": self.chars, "aliases": self.aliases, "source_ids": self.source_ids,
                "source_null": self.source_null}

    @classmethod
    def from_dict(cls, d: dict) -> Charset:
        return cls(d["chars"], {k: int(v) for k, v in d["aliases"].items()}, d.get("source_ids"),
                   d.get("name", "custom"), d.get("source_null"))
