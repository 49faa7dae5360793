"""Labels files: one ``path<TAB>text`` line per image, paths relative to the labels file (the reference's
``train.txt`` layout, without its absolute-path quirk). No torch: the ONNX evaluator reads them too."""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..charset import Charset
from ..errors import DataError
from ..fsutil import atomic_write
from ..imaging.preprocess import IMAGE_SUFFIXES, load_image


@dataclass
class Sample:
    path: Path
    text: str
    where: str  # "labels.tsv:12", for messages
    name: str = ""  # the image as the labels file names it ("007.png")

    @property
    def named(self) -> str:
        """The image's name and its line, as evaluation results show them: ``007.png (labels.tsv:8)``."""
        return f"{self.name} ({self.where})" if self.name else self.where


@dataclass
class SkipReport:
    """Samples left out of a dataset, counted by reason."""

    total: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def skip(self, reason: str, message: str) -> None:
        self.reasons[reason] += 1
        if len(self.examples) < 3:
            self.examples.append(message)

    @property
    def skipped(self) -> int:
        return sum(self.reasons.values())

    def summary(self) -> str:
        why = ", ".join(f"{n} {r}" for r, n in self.reasons.most_common())
        return f"skipped {self.skipped} of {self.total} samples ({why})"

    def check(self, name: str, max_fraction: float) -> None:
        """Raise when more than ``max_fraction`` of the samples were bad (at least one bad always passes if the
        fraction allows it; a dataset with no good sample never passes)."""
        if self.skipped and (self.skipped > max_fraction * self.total or self.skipped == self.total):
            raise DataError(f"{name}: {self.summary()}, above the limit of {max_fraction:.1%}; first: "
                            + "; ".join(self.examples))


def label_problem(text: str, charset: Charset | None, max_chars: int | None, where: str
                  ) -> tuple[str, str] | None:
    """``(reason, message)`` when ``text`` cannot be a label, else None: the reason is short (reports count
    samples by it), the message names ``where``. ``None`` for ``charset`` or ``max_chars`` skips that check."""
    if not text.strip():
        return "empty label", f"{where}: empty label"
    if max_chars is not None and len(text) > max_chars:
        reason = f"label longer than {max_chars} characters"
        return reason, f"{where}: {reason} ({len(text)}: {text!r})"
    if charset is not None and charset.missing(text):
        return "character not in charset", (f"{where}: characters {charset.missing(text)} of {text!r} are not in "
                                            f"charset {charset.name}")
    return None


def sample_problem(image: bytes, text: str, where: str, charset: Charset | None, max_chars: int | None,
                   decode: bool = True) -> tuple[str, str] | None:
    """(reason, message) if the sample cannot go into a dataset, else None: its label (:func:`label_problem`),
    then its image. With ``decode`` the image is decoded in full, with the same :func:`load_image` training uses;
    without, only Pillow's ``verify()`` runs (structure and checksums: ~30x cheaper, for converting a million
    records, but it passes truncated JPEGs)."""
    problem = label_problem(text, charset, max_chars, where)
    if problem is not None:
        return problem
    if not image:
        return "missing or empty image", f"{where}: image file missing or empty"
    try:
        if decode:
            load_image(image, where)
        else:
            Image.open(io.BytesIO(image)).verify()
    except DataError as e:
        return "unreadable image", str(e)
    except Exception as e:  # noqa: BLE001 - verify() raises many types for a damaged file
        return "unreadable image", f"{where}: unreadable image ({type(e).__name__})"
    return None


def label_rows(path: str | Path) -> list[tuple[int, str, str]]:
    """``(line number, image name, text)`` of every non-blank line; a line without a tab is an error. Nothing
    else is validated here (see :func:`read_labels`)."""
    path = Path(path)
    try:
        # utf-8-sig: a BOM (Windows editors write one) is not part of the first name. Lines end at "\n", "\r\n"
        # or "\r" (read_text's universal newlines turn each into "\n"), never at \x0b, \x1c, \x85, U+2028...,
        # where str.splitlines would also cut and which a label may hold
        lines = path.read_text(encoding="utf-8-sig").split("\n")
    except FileNotFoundError:
        raise DataError(f"{path}: labels file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory; expected a labels file of path<TAB>text lines") from None
    except UnicodeDecodeError as e:
        hint = "; expected a labels file of path<TAB>text lines" if path.suffix.lower() in IMAGE_SUFFIXES else ""
        raise DataError(f"{path}: not UTF-8 ({e.reason} at byte {e.start}){hint}") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DataError(f"{path}:{n}: expected path<TAB>text, found no tab")
        name, text = line.split("\t", 1)
        rows.append((n, name, text))
    return rows


def read_labels(path: str | Path, charset: Charset, max_chars: int, check_files: bool = True
                ) -> tuple[list[Sample], SkipReport]:
    """Parse and validate a labels file. Bad lines are skipped and counted; a line without a tab is an error."""
    path = Path(path)
    root, samples, report = path.parent, [], SkipReport()
    for n, name, text in label_rows(path):
        where = f"{path}:{n}"
        report.total += 1
        problem = label_problem(text, charset, max_chars, where)
        if problem is None and check_files and not (root / name).is_file():
            problem = "image file not found", f"{where}: image file not found"
        if problem is not None:
            report.skip(*problem)
            continue
        samples.append(Sample(root / name, text, where, name))
    if report.total == 0:
        raise DataError(f"{path}: no samples")
    return samples, report


def write_labels(path: str | Path, rows: list[tuple[str, str]]) -> None:
    """Write ``name<TAB>text`` lines atomically (temporary file, then rename). A name holding a tab or a line
    break, or a text holding a line break, is refused: it would not read back."""
    for name, text in rows:
        if "\t" in name or any(c in name + text for c in "\r\n"):
            raise DataError(f"{path}: cannot write {name!r}, {text!r} as a labels line (a tab in the name, or a "
                            "line break)")
    with atomic_write(path) as tmp:
        tmp.write_text("".join(f"{n}\t{t}\n" for n, t in rows), encoding="utf-8")


LABELS_ZIP_TSV = "labels.tsv"  # a labelled set's zip: labels.tsv beside images/ (write_labels_zip)


def zip_member_name(name: str, used: set[str]) -> str:
    """``images/NAME`` for an uploaded file name: its last path part, characters other than letters, digits, ``.``,
    ``_`` and ``-`` replaced by ``_``, an image suffix kept (``.png`` added otherwise), ``-2``... on a clash."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", re.split(r"[/\\]", name)[-1]).lstrip(".") or "image"
    stem, suffix = (base.rsplit(".", 1)[0], "." + base.rsplit(".", 1)[1].lower()) if "." in base else (base, "")
    suffix = suffix if suffix in IMAGE_SUFFIXES else suffix + ".png" if suffix else ".png"
    candidate, k = f"images/{stem}{suffix}", 1
    while candidate in used:
        k += 1
        candidate = f"images/{stem}-{k}{suffix}"
    used.add(candidate)
    return candidate


def write_labels_zip(items: list[tuple[str, bytes, str]], charset: Charset, max_chars: int) -> bytes:
    """``(file name, image bytes, text)`` items as a zip: ``images/NAME`` and ``labels.tsv`` (``images/NAME<TAB>
    text``, paths relative to it), the layout ``configs/finetune.yaml`` trains on (``data.train=DIR/labels.tsv``).
    A label that cannot be one (:func:`label_problem`: empty, too long, characters outside ``charset``, or a tab
    or line break) is a :class:`DataError` naming the item; the images are stored as given."""
    used: set[str] = set()
    lines, members = [], []
    for k, (name, data, text) in enumerate(items):
        where = f"label {k} ({name[:80]})"
        if "\t" in text or "\n" in text or "\r" in text:
            raise DataError(f"{where}: a label holds no tab or line break")
        problem = label_problem(text, charset, max_chars, where)
        if problem is not None:
            raise DataError(problem[1])
        member = zip_member_name(name, used)
        members.append((member, data))
        lines.append(f"{member}\t{text}\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:  # images are compressed already
        z.writestr(LABELS_ZIP_TSV, "".join(lines))
        for member, data in members:
            z.writestr(member, data)
    return buffer.getvalue()
