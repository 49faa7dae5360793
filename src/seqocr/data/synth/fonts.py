"""The fixed set of sign fonts (a missing font is an error, never a silent fallback), their glyph coverage and
the choice of a font for a sign."""

from __future__ import annotations

import functools
import os
import random
from pathlib import Path
from typing import NamedTuple

from PIL import ImageFont

from ...errors import DataError

INSTALL_HINT = "run `make` or `bash scripts/install_fonts.sh`"


class SignFont(NamedTuple):
    """A font of the fixed set and the Debian package that ships it."""
    name: str
    path: str
    package: str  # the Debian package that ships it
    weight: float  # how often it is drawn, within its pool
    squeeze: tuple[float, float]  # horizontal scale range applied to the whole plate
    pool: str = "plain"  # "plain" (every sign outside the ``fonts`` share), or the split whose share draws it


# The fixed font set (see scripts/install_fonts.sh). The plain set's five come first, drawn by weight; order matters:
# a font lacking a glyph hands over to the next of its pool. Then the typefaces of the ``fonts`` share (real
# plates are painted in many more typefaces than five): a training sign of the share is painted in one of
# SHARE_FONTS["train"], a test-split one in one of SHARE_FONTS["test"], typefaces no training sign is painted in, so
# that a test column of the share measures reading a typeface never seen.
WIDE = (0.72, 0.92)  # wide typefaces, squeezed toward the condensed ones real plates mostly carry
FONTS = (
    SignFont("Nimbus Sans Narrow Bold", "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf",
             "fonts-urw-base35", 4, (0.9, 1.08)),
    SignFont("DejaVu Sans Condensed Bold", "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
             "fonts-dejavu-extra", 3, (0.82, 1.0)),
    SignFont("Roboto Condensed Bold", "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Bold.ttf",
             "fonts-roboto-unhinted", 3, (0.9, 1.08)),
    SignFont("Open Sans Condensed Bold", "/usr/share/fonts/truetype/open-sans/OpenSans-CondBold.ttf",
             "fonts-open-sans", 2, (0.9, 1.08)),
    SignFont("Nimbus Sans Bold", "/usr/share/fonts/opentype/urw-base35/NimbusSans-Bold.otf",
             "fonts-urw-base35", 2, (0.7, 0.88)),
    # the share's training typefaces
    SignFont("Lato Heavy", "/usr/share/fonts/truetype/lato/Lato-Heavy.ttf", "fonts-lato", 1, WIDE, "train"),
    SignFont("URW Gothic Demi", "/usr/share/fonts/opentype/urw-base35/URWGothic-Demi.otf",
             "fonts-urw-base35", 1, (0.68, 0.86), "train"),
    SignFont("Nimbus Roman Bold", "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Bold.otf",
             "fonts-urw-base35", 1, WIDE, "train"),
    SignFont("C059 Bold", "/usr/share/fonts/opentype/urw-base35/C059-Bold.otf", "fonts-urw-base35", 1, WIDE, "train"),
    SignFont("DejaVu Sans Bold", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "fonts-dejavu-core", 1,
             (0.68, 0.86), "train"),
    SignFont("Roboto Condensed", "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Regular.ttf",
             "fonts-roboto-unhinted", 1, (0.9, 1.08), "train"),
    SignFont("Open Sans Semibold", "/usr/share/fonts/truetype/open-sans/OpenSans-Semibold.ttf", "fonts-open-sans",
             1, WIDE, "train"),
    SignFont("Nimbus Sans Narrow", "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Regular.otf",
             "fonts-urw-base35", 1, (0.9, 1.08), "train"),
    # the share's test typefaces (test split only)
    SignFont("Cantarell Bold", "/usr/share/fonts/opentype/cantarell/Cantarell-Bold.otf", "fonts-cantarell", 1, WIDE,
             "test"),
    SignFont("Liberation Sans Bold", "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
             "fonts-liberation2", 1, WIDE, "test"),
    SignFont("P052 Bold", "/usr/share/fonts/opentype/urw-base35/P052-Bold.otf", "fonts-urw-base35", 1, WIDE, "test"),
    SignFont("URW Bookman Demi", "/usr/share/fonts/opentype/urw-base35/URWBookman-Demi.otf",
             "fonts-urw-base35", 1, (0.68, 0.86), "test"),
)
PLAIN_FONTS = tuple(k for k, f in enumerate(FONTS) if f.pool == "plain")  # indices into FONTS
SHARE_FONTS = {split: tuple(k for k, f in enumerate(FONTS) if f.pool == split) for split in ("train", "test")}


def _font_file(font: SignFont) -> Path:
    """Where ``font`` is: its Debian path, or the same file name in ``$SEQOCR_FONT_DIR`` when that is set (a
    machine without the packages, e.g. one that trains from scripts/gpu_bundle.sh's folder)."""
    folder = os.environ.get("SEQOCR_FONT_DIR")
    return Path(folder) / Path(font.path).name if folder else Path(font.path)


@functools.lru_cache(maxsize=1)
def font_paths() -> tuple[Path, ...]:
    """Paths of the sign fonts (:data:`FONTS`); :class:`DataError` naming the packages of any that are missing."""
    missing = [f for f in FONTS if not _font_file(f).is_file()]
    if missing:
        files = ", ".join(f"{_font_file(f)} (Debian package {f.package})" for f in missing)
        packages = " ".join(sorted({f.package for f in missing}))
        raise DataError(f"sign font(s) not installed: {files}; {INSTALL_HINT} (apt-get install {packages})")
    return tuple(_font_file(f) for f in FONTS)


def font_path(k: int = 0) -> Path:
    """Path of sign font ``k`` (see :data:`FONTS`)."""
    return font_paths()[k]


@functools.lru_cache(maxsize=512)
def load_font(size: int, k: int = 0) -> ImageFont.FreeTypeFont:
    """Sign font ``k`` at ``size`` pixels, cached. Basic layout (no raqm shaping): faster, and the same glyph
    placement whether or not a machine's Pillow has libraqm."""
    return ImageFont.truetype(str(font_path(k)), size, layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=32)
def _cmap(path: str) -> frozenset[int]:
    """Code points a font file maps to a glyph (its best cmap, read with fontTools)."""
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as f:
        return frozenset(f.getBestCmap() or ())


def missing_glyphs(font: ImageFont.FreeTypeFont | str | Path, text: str) -> list[str]:
    """Characters of ``text`` (whitespace aside) that ``font`` (a loaded font or a font file) has no glyph for."""
    cmap = _cmap(str(font.path if isinstance(font, ImageFont.FreeTypeFont) else font))
    return list(dict.fromkeys(c for c in text if not c.isspace() and ord(c) not in cmap))


def pick_font(display: str, rng: random.Random, pool: tuple[int, ...] = PLAIN_FONTS) -> int:
    """Index of the font for a sign showing ``display``, one of ``pool`` (indices into :data:`FONTS`): drawn by
    weight; if it lacks a glyph, the next font of the pool that has them all, and where no share font has, the
    plain set's. :class:`DataError` if none can render it."""
    first = rng.choices(range(len(pool)), weights=[FONTS[k].weight for k in pool])[0]
    paths = font_paths()
    for i in [*range(first, len(pool)), *range(first)]:
        if not missing_glyphs(paths[pool[i]], display):
            return pool[i]
    if pool != PLAIN_FONTS:
        return pick_font(display, rng, PLAIN_FONTS)
    raise DataError(f"cannot render {display!r}: no sign font has a glyph for {missing_glyphs(paths[0], display)!r}")


@functools.lru_cache(maxsize=512)
def _cap_height(size: int, k: int) -> float:
    """Height of a capital (the ``H``) of font ``k`` at ``size`` pixels."""
    box = load_font(size, k).getbbox("H", anchor="ls")
    return float(-box[1])
