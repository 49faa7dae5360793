"""Realistic synthetic FSNS samples: a French street name and a 600x150 image of 4 views of its enamel sign.

Sample ``i`` is a pure function of ``(seed, index, split)``: no global random state, a fixed font set (a missing
font is an error, never a silent fallback) and word lists sorted at import, so every machine that ran ``make``
(which runs ``scripts/install_fonts.sh``) draws the same sample ``i``. The ``train`` and ``test`` splits draw
proper names (first names, surnames, towns, regions, saints) from disjoint vocabularies (see
:mod:`seqocr.data.synth_words`), so a held-out synthetic set measures generalisation rather than memorisation.

Each image shows one plate (dark blue enamel mostly, white inset border, rounded or notched corners, uppercase
condensed bold lettering, 1-3 centred lines, sometimes a district header) on a procedural wall, foliage or sky,
under 4 independent viewpoints (scale, perspective, rotation, offset, crop) and degradations (blur, resampling,
lighting, colour cast, noise, JPEG, occlusion). About 5 % of samples end with 1-3 views of uniform noise, as FSNS
fills views that are missing: :func:`synth_record` returns how many views are real.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import random
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from ..errors import DataError
from .synth_words import (
    ADJECTIVE_STREETS,
    COMMON_NOUNS,
    DATES,
    PARTICLES,
    STREET_TYPES,
    TITLES,
    VOCAB,
    VOWELS,
)

TILE, VIEWS, MAX_LEN = 150, 4, 37
APOS = "\u2018"  # FSNS's canonical apostrophe: charset id 2 lists ’ ' ‘ and decodes to the last
HYPHEN = "\u2014"  # FSNS's canonical hyphen: id 17 lists - and — (labels use it, signs show "-")
INSTALL_HINT = "run `make` or `bash scripts/install_fonts.sh`"


class SignFont(NamedTuple):
    """A font of the fixed set and the Debian package that ships it."""
    name: str
    path: str
    package: str  # the Debian package that ships it
    weight: float  # how often it is drawn
    squeeze: tuple[float, float]  # horizontal scale range applied to the whole plate


# The fixed font set (see scripts/install_fonts.sh). Order matters: a font lacking a glyph hands over to the next.
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
)
_TYPES, _TYPE_WEIGHTS = list(STREET_TYPES), list(STREET_TYPES.values())


# ---------------------------------------------------------------------------------------------- names
def proper_names(split: str) -> frozenset[str]:
    """Every proper-name token (first name, surname, town, region, saint) the given split may use, as in labels."""
    _check_split(split)
    return frozenset(_label_form(t[1] if isinstance(t, tuple) else t) for cat in VOCAB.values() for t in cat[split])


def _label_form(token: str) -> str:
    """A token in FSNS's canonical characters: ``‘`` for the apostrophe, ``—`` for the hyphen."""
    return token.replace("'", APOS).replace("-", HYPHEN)


def _check_split(split: str) -> None:
    """:class:`DataError` unless ``split`` is "train" or "test"."""
    if split not in ("train", "test"):
        raise DataError(f"synthetic split must be 'train' or 'test', got {split!r}")


def elide(particle: str, word: str) -> str:
    """``de`` + ``word`` with French elision: ``d‘Orbey``, ``de Lunel``, ``de l‘Église`` stays as given."""
    return f"d{APOS}{word}" if particle == "de" and word[:1].upper() in VOWELS else f"{particle} {word}"


def _noun_phrase(rng: random.Random) -> str:
    """``du Moulin``, ``de la Gare``, ``de l‘Église``, ``des Lilas``."""
    gender = rng.choices("mfp", weights=(4, 4, 2))[0]
    noun = rng.choice(COMMON_NOUNS[gender].split()).replace("_", " ")
    if gender == "p":
        return f"des {noun}"
    if noun[0].upper() in VOWELS:
        return f"de l{APOS}{noun}"
    return f"du {noun}" if gender == "m" else f"de la {noun}"


def _region_phrase(name: str, rng: random.Random) -> str:
    """A region or department after ``de``, with the article its ending suggests half the time (``de la Somme``,
    ``des Landes``, ``du Gard``, ``de l‘Ain``), else bare (``de Bretagne``)."""
    if name[0].upper() in VOWELS:
        return f"de l{APOS}{name}" if rng.random() < 0.5 else elide("de", name)
    if rng.random() < 0.5:
        return f"de {name}"
    return f"des {name}" if name.endswith("s") else f"de la {name}" if name.endswith("e") else f"du {name}"


def _place_phrase(rng: random.Random, split: str) -> str:
    """``de Toulon``, ``d‘Épinal``, ``du Havre``, ``de la Somme``."""
    v = VOCAB
    r = rng.random()
    if r < 0.1 and v["article_town"][split]:
        art, town = rng.choice(v["article_town"][split])
        return {"le": f"du {town}", "la": f"de la {town}", "les": f"des {town}"}[art]
    if r < 0.4:
        return _region_phrase(rng.choice(v["region"][split]), rng)
    return elide("de", rng.choice(v["town"][split]))


def _name_phrase(rng: random.Random, split: str) -> str:
    """The part after the street type: a person, a title, a place, a saint, a common noun or a date."""
    v = VOCAB
    kind = rng.choices(("person", "surname", "title", "place", "saint", "noun", "date"),
                       weights=(26, 14, 6, 16, 7, 28, 3))[0]
    if kind == "person":
        return f"{rng.choice(v['first'][split])} {rng.choice(v['surname'][split])}"
    if kind == "surname":
        return rng.choice(v["surname"][split])
    if kind == "title":
        title = rng.choice(TITLES.split())
        head = f"de l{APOS}{title}" if title[0] in VOWELS else f"du {title}"
        return f"{head} {rng.choice(v['surname'][split])}"
    if kind == "place":
        return _place_phrase(rng, split)
    if kind == "saint":
        return rng.choice(v["saint"][split])
    return f"du {rng.choice(DATES)}" if kind == "date" else _noun_phrase(rng)


@functools.lru_cache(maxsize=1)
def _syllables() -> tuple[tuple[str, ...], str]:
    """Syllables cut from every proper name of the train split (consonants, then vowels, then one consonant when
    another follows), and the lower-case letters they use weighted by how often they occur."""
    vowels = "aeiouyéèêëàâîïôûüœ"
    cut = re.compile(f"[^{vowels}]*[{vowels}]+(?:[^{vowels}](?=[^{vowels}]))?|[^{vowels}]+$")
    found, letters = set(), []
    for word in proper_names("train"):
        for part in re.split(f"[{APOS}{HYPHEN}]", word.lower()):
            found.update(cut.findall(part))
            letters.extend(part)
    return tuple(sorted(found)), "".join(sorted(letters))


def invented_word(rng: random.Random, length: int, vowel_first: bool = False) -> str:
    """A capitalised word no vocabulary holds, about ``length`` letters: shuffled syllables of real names
    (``Morlaveyn``) or, a third of the time, letters drawn by their frequency in those names (``Tsaerlnu``)."""
    syllables, letters = _syllables()
    while True:
        word = ""
        if rng.random() < 2 / 3:
            while len(word) < length:
                word += rng.choice(syllables)
            word = word[:length + 2]
        else:
            word = "".join(rng.choice(letters) for _ in range(length))
        if word and (not vowel_first or word[0] in "aeiouyéèêàâîôû"):
            return word[:1].upper() + word[1:]


def invent_names(text: str, rng: random.Random) -> str:
    """``text`` with its proper names replaced by invented words of similar length (Wan et al., CVPR 2020: names
    no prior can guess make a recogniser read letters). The street type and particles stay."""
    words = text.split(" ")
    for _ in range(10):
        out = words[:1]
        for word in words[1:]:
            head, sep, tail = word.rpartition(APOS)
            if not tail[:1].isupper() or rng.random() < 0.2:
                out.append(word)
                continue
            length = max(2, len(tail) + rng.randint(-2, 2))
            out.append(f"{head}{sep}{invented_word(rng, length, vowel_first=bool(sep))}")
        new = " ".join(out)
        if new != text and len(new) <= MAX_LEN:
            return new
    return text


def street_name(rng: random.Random, split: str = "train") -> str:
    """A French street name in FSNS's canonical label form (title case, ``‘`` and ``—``), at most 37 characters."""
    _check_split(split)
    if rng.random() < 0.03:
        return _label_form(rng.choice(ADJECTIVE_STREETS))
    while True:
        text = f"{rng.choices(_TYPES, weights=_TYPE_WEIGHTS)[0]} {_name_phrase(rng, split)}"
        if len(text) <= MAX_LEN:
            return _label_form(text)


# ---------------------------------------------------------------------------------------------- fonts
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


def pick_font(display: str, rng: random.Random) -> int:
    """Index of the font for a sign showing ``display``: drawn by weight; if it lacks a glyph, the next font in
    :data:`FONTS` order that has them all. :class:`DataError` if none can render it."""
    first = rng.choices(range(len(FONTS)), weights=[f.weight for f in FONTS])[0]
    paths = font_paths()
    for k in [*range(first, len(FONTS)), *range(first)]:
        if not missing_glyphs(paths[k], display):
            return k
    raise DataError(f"cannot render {display!r}: no sign font has a glyph for {missing_glyphs(paths[0], display)!r}")


@functools.lru_cache(maxsize=512)
def _cap_height(size: int, k: int) -> float:
    """Height of a capital (the ``H``) of font ``k`` at ``size`` pixels."""
    box = load_font(size, k).getbbox("H", anchor="ls")
    return float(-box[1])


# ---------------------------------------------------------------------------------------------- sign layout
# A display line is a list of segments (text, scale, joined): ``joined`` = no space before it.
Segment = tuple[str, float, bool]


def _word_segments(word: str, particles: str, small_caps: bool) -> list[Segment]:
    """How one label word is painted: uppercase; particles small lowercase or uppercase (``particles`` "lower" or
    "upper"); ``small_caps`` paints a name's first letter large and the rest in smaller capitals."""
    lower = particles == "lower"
    if word in PARTICLES:
        return [(word, 0.68, False) if lower else (word.upper(), 1.0, False)]
    if word[:2] in (f"d{APOS}", f"l{APOS}") and len(word) > 2:
        if lower:
            return [(word[:2], 0.68, False), (word[2:].upper(), 1.0, True)]
        return [(word.upper(), 1.0, False)]
    if small_caps and len(word) > 2 and word[0].isalpha():
        return [(word[0].upper(), 1.0, False), (word[1:].upper(), 0.78, True)]
    return [(word.upper(), 1.0, False)]


def _segments(words: list[str], particles: str, small_caps: bool = False) -> list[Segment]:
    """Segments of a line made of ``words``."""
    return [s for w in words for s in _word_segments(w, particles, small_caps)]


def _balanced_cut(words: list[str]) -> int:
    """Where to cut ``words`` into two lines of similar length."""
    half = len(" ".join(words)) / 2
    return min(range(1, len(words)), key=lambda k: abs(len(" ".join(words[:k])) - half))


def sign_lines(text: str, rng: random.Random) -> list[list[Segment]]:
    """Split a label into 1-3 display lines: the street type, maybe a line of small particles, then the name
    (cut in two when long). Particles are painted small lowercase, on their own line or inline, or uppercase."""
    words = text.split()
    particles = rng.choices(("line", "lower", "upper"), weights=(3, 4, 3))[0]
    small_caps = rng.random() < 0.15
    if len(words) == 1 or (len(text) <= 15 and rng.random() < 0.25):
        return [_segments(words, "upper" if particles == "upper" else "lower")]
    rest, lead = words[1:], []
    while len(rest) > 1 and rest[0] in PARTICLES:
        lead.append(rest.pop(0))
    lines = [_segments(words[:1], "upper")]
    if lead and particles == "line":
        lines.append(_segments(lead, "lower"))
    else:
        rest = lead + rest
    names = [w for w in rest if w not in PARTICLES]
    if len(" ".join(rest)) > rng.choice((11, 14, 17)) and len(names) > 1 and len(lines) == 1:
        cut = _balanced_cut(rest)
        return lines + [_segments(rest[:cut], particles, small_caps), _segments(rest[cut:], particles, small_caps)]
    return lines + [_segments(rest, particles, small_caps)]


def _display(segments: list[list[Segment]], apostrophe: str) -> list[list[Segment]]:
    """Label characters as painted on signs: a plain apostrophe and ``-``."""
    return [[(t.replace(APOS, apostrophe).replace(HYPHEN, "-"), s, j) for t, s, j in line] for line in segments]


def _header_text(rng: random.Random) -> str:
    """A district header painted above the name (never part of the label): ``15E ARRT``, ``ARRONDISSEMENT``."""
    n = rng.randint(1, 20)
    nth = "1ER" if n == 1 else f"{n}E"
    return rng.choice((f"{nth} ARRT", f"{nth} ARR", f"{nth} ARRONDISSEMENT", "ARRONDISSEMENT", f"{nth} ARR T",
                       "QUARTIER"))


# ---------------------------------------------------------------------------------------------- plate
class PlateStyle(NamedTuple):
    """How a plate looks, apart from its text."""
    plate: tuple[int, int, int]
    ink: tuple[int, int, int]
    corners: str  # "round" or "notch" (concave corners of the inset border, as on Paris plates)
    header: str  # "" or the header text
    arms: bool  # a small coat-of-arms shield top left


def _jitter(c: tuple[int, ...], rng: random.Random, d: int = 14) -> tuple[int, int, int]:
    """Colour ``c`` with each channel moved by up to ``d``."""
    r, g, b = (max(0, min(255, v + rng.randint(-d, d))) for v in c)
    return r, g, b


def plate_style(rng: random.Random) -> PlateStyle:
    """Colours and ornaments: mostly white on dark blue; also green, black, red, brown, white plates."""
    kind = rng.choices(("blue", "navy", "green", "black", "red", "brown", "white"),
                       weights=(50, 25, 6, 6, 2, 3, 8))[0]
    plate = {"blue": (30, 55, 150), "navy": (25, 35, 85), "green": (25, 95, 60), "black": (30, 30, 34),
             "red": (130, 30, 35), "brown": (95, 60, 40), "white": (232, 232, 225)}[kind]
    ink = (245, 245, 240)
    if kind == "white":
        ink = rng.choice(((25, 45, 120), (20, 20, 22), (30, 90, 55)))
    header = _header_text(rng) if rng.random() < 0.18 else ""
    return PlateStyle(_jitter(plate, rng), _jitter(ink, rng, 8), rng.choice(("round", "round", "notch")), header,
                      rng.random() < (0.5 if header else 0.06))


def _border(d: ImageDraw.ImageDraw, box: tuple[float, ...], r: float, width: int, style: PlateStyle) -> None:
    """The inset border line: rounded corners, or notched (quarter circles cut into each corner)."""
    x0, y0, x1, y1 = box
    if style.corners == "round":
        d.rounded_rectangle(box, radius=r, outline=style.ink + (255,), width=width)
        return
    ink = style.ink + (255,)
    for a, b in (((x0 + r, y0), (x1 - r, y0)), ((x0 + r, y1), (x1 - r, y1)),
                 ((x0, y0 + r), (x0, y1 - r)), ((x1, y0 + r), (x1, y1 - r))):
        d.line((a, b), fill=ink, width=width)
    for (cx, cy), start in (((x0, y0), 0), ((x1, y0), 90), ((x1, y1), 180), ((x0, y1), 270)):
        d.arc((cx - r, cy - r, cx + r, cy + r), start, start + 90, fill=ink, width=width)


def _arms(d: ImageDraw.ImageDraw, x: float, y: float, s: float, style: PlateStyle) -> None:
    """A tiny coat-of-arms blob: a white shield with a cross of the plate colour."""
    ink, plate = style.ink + (255,), style.plate + (255,)
    d.polygon([(x, y), (x + s, y), (x + s, y + 0.75 * s), (x + s / 2, y + 1.15 * s), (x, y + 0.75 * s)], fill=ink)
    t = max(1.0, s * 0.16)
    d.rectangle((x + s / 2 - t, y + 0.12 * s, x + s / 2 + t, y + 0.95 * s), fill=plate)
    d.rectangle((x + 0.15 * s, y + 0.4 * s - t, x + 0.85 * s, y + 0.4 * s + t), fill=plate)


def _measure(lines: list[list[Segment]], k: int, size: int) -> list[tuple[float, float, list]]:
    """Per line: (width, cap height, [(x, font, text)]) with segments laid out left to right."""
    out = []
    for line in lines:
        x, cap, placed = 0.0, 0.0, []
        for text, scale, joined in line:
            font = load_font(max(8, round(size * scale)), k)
            if placed and not joined:
                x += load_font(size, k).getlength(" ") * 0.85
            placed.append((x, font, text))
            x += font.getlength(text)
            cap = max(cap, _cap_height(font.size, k))
        out.append((x, cap, placed))
    return out


def draw_plate(lines: list[list[Segment]], k: int, style: PlateStyle,
               rng: random.Random) -> tuple[Image.Image, float]:
    """The sign face as RGBA (rounded plate, inset border, optional header and shield, centred lines) and the
    height of its largest capitals in pixels."""
    size = rng.randrange(24, 34, 2)
    laid = _measure(lines, k, size)
    gap, pad_x, pad_y = size * rng.uniform(0.24, 0.38), size * rng.uniform(0.35, 0.62), size * rng.uniform(0.34, 0.52)
    head_size = round(size * rng.uniform(0.36, 0.46))
    head_h = _cap_height(head_size, k) + gap * 0.9 if style.header else 0.0
    w = max(lw for lw, _, _ in laid) + 2 * pad_x
    h = sum(cap for _, cap, _ in laid) + gap * (len(laid) - 1) + 2 * pad_y + head_h
    w = max(w, rng.uniform(1.15, 1.5) * h)
    img = Image.new("RGBA", (round(w), round(h)), style.plate + (0,))
    d = ImageDraw.Draw(img)
    r, inset, bw = size * rng.uniform(0.15, 0.35), size * rng.uniform(0.1, 0.2), max(2, round(size * 0.075))
    d.rounded_rectangle((0, 0, img.width - 1, img.height - 1), radius=r, fill=style.plate + (255,))
    _border(d, (inset, inset, img.width - 1 - inset, img.height - 1 - inset), r * 0.8, bw, style)
    y = pad_y
    if style.header:
        y = _draw_header(d, img.width, y, head_size, k, style) + gap * 0.9
    for lw, cap, placed in laid:
        y += cap
        x0 = (img.width - lw) / 2
        for x, font, text in placed:
            d.text((x0 + x, y), text, font=font, fill=style.ink + (255,), anchor="ls")
        y += gap
    if style.arms and not style.header:
        _arms(d, inset + bw + 2, inset + bw + 2, size * 0.45, style)
    return img, max(cap for _, cap, _ in laid)


def _draw_header(d: ImageDraw.ImageDraw, width: int, y: float, size: int, k: int, style: PlateStyle) -> float:
    """The small district header line with its underline (and shield); returns the y below it."""
    font, cap = load_font(size, k), _cap_height(size, k)
    tw = font.getlength(style.header)
    x = (width - tw) / 2
    d.text((x, y + cap), style.header, font=font, fill=style.ink + (255,), anchor="ls")
    d.line(((x, y + cap * 1.35), (x + tw, y + cap * 1.35)), fill=style.ink + (255,), width=max(1, size // 10))
    if style.arms:
        _arms(d, x - cap * 1.6, y - cap * 0.1, cap * 1.2, style)
    return y + cap * 1.35


# ---------------------------------------------------------------------------------------------- backgrounds
def _smooth_noise(nrng: np.random.Generator, cells: int, size: int = 256) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a ``cells`` x ``cells`` normal grid upsampled bicubically."""
    small = Image.fromarray(nrng.standard_normal((cells, cells)).astype(np.float32), "F")
    return np.asarray(small.resize((size, size), Image.Resampling.BICUBIC), np.float32)


def _stucco(nrng: np.random.Generator, base: tuple[int, ...]) -> np.ndarray:
    """A rendered or painted wall: base colour, blotches at three scales and fine grain."""
    n = 14 * _smooth_noise(nrng, 4) + 8 * _smooth_noise(nrng, 16) + 5 * _smooth_noise(nrng, 64)
    n += nrng.normal(0, 4, (256, 256)).astype(np.float32)
    return np.asarray(base, np.float32)[None, None] + n[..., None]


def _masonry(nrng: np.random.Generator, base: tuple[int, ...], brick: bool) -> np.ndarray:
    """Stone blocks or bricks: per-block colour, mortar joints, grain."""
    img = Image.new("RGB", (256, 256), tuple(min(255, v + 45) for v in base))  # the mortar
    d = ImageDraw.Draw(img)
    y, row = 0, 0
    while y < 256:
        bh = int(nrng.integers(11, 16)) if brick else int(nrng.integers(28, 60))
        x = -int(nrng.integers(0, 40)) if not brick else -(row % 2) * 18
        while x < 256:
            bw = 36 if brick else int(nrng.integers(40, 110))
            c = tuple(int(v) for v in np.clip(np.add(base, nrng.normal(0, 14 if brick else 9)), 0, 255))
            d.rectangle((x + 1, y + 1, x + bw - 2, y + bh - 2), fill=c)
            x += bw
        y, row = y + bh, row + 1
    return np.asarray(img, np.float32) + (6 * _smooth_noise(nrng, 32) + nrng.normal(0, 5, (256, 256)))[..., None]


def _foliage(nrng: np.random.Generator, dark: bool) -> np.ndarray:
    """Leaves: noise at several scales mapped through a dark-to-sunlit green ramp (with gaps to sky if not dark)."""
    n = 0.5 * _smooth_noise(nrng, 10) + 0.35 * _smooth_noise(nrng, 40) + 0.3 * _smooth_noise(nrng, 110)
    hue = _smooth_noise(nrng, 6)[..., None] * 0.25
    shadow, leaf, sun = (np.array(c, np.float32) for c in ((12, 22, 10), (55, 85, 35), (135, 150, 80)))
    t = np.clip(n * 0.55 + (0.35 if dark else 0.55), 0, 1)[..., None]
    img = np.where(t < 0.5, shadow + (leaf - shadow) * (t * 2), leaf + (sun - leaf) * (t * 2 - 1))
    img = img * (1 + hue * np.array((0.6, 0.1, -0.4), np.float32))
    if not dark:
        sky = np.array((175, 190, 200), np.float32)
        img = np.where((n > 0.9)[..., None], sky, img)
    return img


def _sky(nrng: np.random.Generator) -> np.ndarray:
    """Sky or overcast: a vertical gradient with soft clouds."""
    top, bottom = np.array(nrng.choice([(150, 180, 215), (200, 205, 210), (120, 150, 190)]), np.float32), \
        np.array((225, 228, 230), np.float32)
    t = np.linspace(0, 1, 256, dtype=np.float32)[:, None, None]
    return top * (1 - t) + bottom * t + (15 * _smooth_noise(nrng, 5))[..., None]


def _facade(nrng: np.random.Generator, base: tuple[int, ...]) -> np.ndarray:
    """A wall with a window or a door, a drainpipe or a building corner in shadow."""
    img = Image.fromarray(np.clip(_stucco(nrng, base), 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img, "RGBA")
    x = int(nrng.integers(20, 200))
    if nrng.random() < 0.5:  # a corner: one side darker
        d.rectangle((x, 0, 256, 256), fill=(0, 0, 0, int(nrng.integers(40, 110))))
    else:  # a window
        y = int(nrng.integers(0, 120))
        d.rectangle((x, y, x + 70, y + 110), fill=(230, 230, 225))
        d.rectangle((x + 6, y + 6, x + 64, y + 104), fill=(35, 40, 45))
    px = int(nrng.integers(0, 240))
    d.rectangle((px, 0, px + 7, 256), fill=(110, 110, 105, 255))
    return np.asarray(img, np.float32)


def _fence(nrng: np.random.Generator) -> np.ndarray:
    """A chain-link fence over foliage."""
    img = Image.fromarray(np.clip(_foliage(nrng, True), 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img, "RGBA")
    step = int(nrng.integers(9, 15))
    for o in range(-256, 512, step):
        d.line(((o, 0), (o + 256, 256)), fill=(150, 160, 160, 70), width=1)
        d.line(((o, 256), (o + 256, 0)), fill=(150, 160, 160, 70), width=1)
    return np.asarray(img, np.float32)


def _split(nrng: np.random.Generator, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """A wall or sky above a hedge: ``top`` over ``bottom`` along a wavy horizontal edge."""
    edge = nrng.integers(90, 200) + 12 * _smooth_noise(nrng, 8)[0]
    rows = np.arange(256, dtype=np.float32)[:, None]
    return np.where((rows < edge[None, :])[..., None], top, bottom)


_WALLS = ((205, 190, 165), (200, 160, 140), (160, 160, 155), (225, 222, 215), (200, 170, 120), (205, 150, 125),
          (120, 118, 112), (185, 175, 160))


@functools.lru_cache(maxsize=1)
def textures() -> tuple[Image.Image, ...]:
    """The background bank: 256x256 RGB textures, generated once from a fixed seed."""
    nrng = np.random.default_rng(20240611)
    out = [_stucco(nrng, w) for w in _WALLS]
    out += [_masonry(nrng, w, False) for w in _WALLS[1::2]]
    out += [_masonry(nrng, b, True) for b in ((150, 70, 50), (170, 95, 70), (120, 60, 45))]
    out += [_foliage(nrng, True) for _ in range(4)] + [_foliage(nrng, False) for _ in range(2)]
    out += [_sky(nrng) for _ in range(3)] + [_fence(nrng) for _ in range(2)]
    out += [_facade(nrng, w) for w in _WALLS]
    out += [_split(nrng, out[int(nrng.integers(0, 8))], _foliage(nrng, bool(k % 2))) for k in range(4)]
    out += [_split(nrng, _sky(nrng), _foliage(nrng, True)) for _ in range(2)]
    return tuple(Image.fromarray(np.clip(t, 0, 255).astype(np.uint8), "RGB") for t in out)


NOISE_SIGMAS = (2, 4, 6, 9)
SHADING = (0.12, 0.22, 0.32, 0.45)  # strengths of the linear shading ramps


@functools.lru_cache(maxsize=1)
def _banks() -> tuple[tuple[Image.Image, ...], np.ndarray, tuple[Image.Image, ...]]:
    """Fixed banks: gaussian sensor noise around 128 (one image per sigma of :data:`NOISE_SIGMAS`), FSNS-style
    uniform RGB noise, and linear shading ramps in 8 directions x :data:`SHADING` strengths (L masks)."""
    nrng = np.random.default_rng(20240612)
    unit = nrng.standard_normal((2 * TILE, 2 * TILE, 3), dtype=np.float32)
    gauss = tuple(Image.fromarray(np.clip(128 + unit * s, 0, 255).astype(np.uint8), "RGB") for s in NOISE_SIGMAS)
    uniform = nrng.integers(0, 256, (2 * TILE, 2 * TILE * VIEWS, 3), dtype=np.uint8)
    t = np.linspace(0.0, 1.0, TILE, dtype=np.float32)
    ramps = []
    for k in range(8):
        a = k * math.pi / 4
        r = np.add.outer(t * np.float32(round(math.sin(a), 6)), t * np.float32(round(math.cos(a), 6)))
        r = (r - r.min()) / max(float(r.max() - r.min()), 1e-6)
        ramps += [Image.fromarray((r * amount * 255).astype(np.uint8), "L") for amount in SHADING]
    return gauss, uniform, tuple(ramps)


# ---------------------------------------------------------------------------------------------- one view
class Scene(NamedTuple):
    """What all views of one sample share."""
    plates: tuple[Image.Image, Image.Image]  # RGBA at about the views' size in the tile, and at half that
    width: float  # nominal plate width in the tile (px)
    texture: Image.Image  # the background, tinted for this sample
    pole: tuple[int, int, int] | None  # colour of the post the sign is fixed on, or None (wall)
    tilt: float  # typical rotation (degrees)
    shadow: int  # opacity (0-255) of the plate's shadow on the wall
    cap: float  # height of the plate's largest capitals in the tile at ``width`` (px)
    other: Image.Image | None  # another sign above this one, cut by the top of the view (not read)


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """Coefficients for ``Image.transform(PERSPECTIVE)`` mapping output points ``dst`` to input points ``src``."""
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
    return np.linalg.solve(np.array(a, float), np.array(src, float).reshape(8)).tolist()


def _quad(scene: Scene, rng: random.Random) -> list[tuple[float, float]]:
    """Where the plate's corners land in the tile: scale, aspect, yaw/pitch, rotation, offset, maybe cropped."""
    pw, ph = scene.plates[0].size
    w = scene.width * rng.uniform(0.9, 1.1)
    h = min(w * ph / pw, 0.85 * TILE)
    w = h * pw / ph
    yaw, pitch = rng.uniform(-0.18, 0.18), rng.uniform(-0.06, 0.06)
    ang = math.radians(scene.tilt + rng.uniform(-4, 4))
    ca, sa = math.cos(ang), math.sin(ang)
    corners = [(-w / 2 * (1 + pitch), -h / 2 * (1 + yaw)), (w / 2 * (1 + pitch), -h / 2 * (1 - yaw)),
               (w / 2 * (1 - pitch), h / 2 * (1 - yaw)), (-w / 2 * (1 - pitch), h / 2 * (1 + yaw))]
    quad = [(x * ca - y * sa + rng.uniform(-1.5, 1.5), x * sa + y * ca + rng.uniform(-1.5, 1.5)) for x, y in corners]
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    crop = 0.15 * w if rng.random() < 0.1 else 0.0
    slack_x = max(0.0, (TILE - (max(xs) - min(xs))) / 2 - 2 + crop)
    slack_y = max(0.0, (TILE - (max(ys) - min(ys))) / 2 - 2)
    cx = TILE / 2 - (max(xs) + min(xs)) / 2 + slack_x * rng.uniform(-0.75, 0.75) * (1.3 if crop else 1)
    high = scene.other is not None  # so that the other sign above is cut by the top edge
    cy = TILE / 2 - (max(ys) + min(ys)) / 2 + slack_y * (rng.uniform(-0.9, 0.0) if high else rng.uniform(-0.8, 0.8))
    return [(x + cx, y + cy) for x, y in quad]


def _pole(view: Image.Image, quad: list[tuple[float, float]], colour: tuple[int, int, int], r: random.Random):
    """The post behind the sign: from under the plate (sometimes from above it) down out of the view."""
    (x3, y3), (x2, y2) = quad[3], quad[2]
    cx, cy, n = (x2 + x3) / 2, (y2 + y3) / 2, view.height
    half = max(1.5, math.dist(quad[0], quad[1]) * r.uniform(0.035, 0.065))
    slope = (y3 - y2) / (x2 - x3) if abs(x2 - x3) > 1 else 0.0  # keeps the post square to the plate's bottom
    top = min(quad[0][1], quad[1][1]) - 0.4 * n if r.random() < 0.35 else cy - 3
    pts = [(cx - half + slope * (n - cy), n + 2), (cx + half + slope * (n - cy), n + 2),
           (cx + half + slope * (top - cy), top), (cx - half + slope * (top - cy), top)]
    d = ImageDraw.Draw(view)
    d.polygon(pts, fill=colour)
    d.line((pts[1], pts[2]), fill=tuple(max(0, v - 40) for v in colour), width=max(1, round(half * 0.6)))


def _paste_plate(view: Image.Image, scene: Scene, quad: list[tuple[float, float]], rng: random.Random) -> None:
    """Warp the plate onto ``quad`` (only over the quad's bounding box) and paste it, after its shadow on the
    wall when it is not on a post."""
    x0, y0 = math.floor(min(p[0] for p in quad)), math.floor(min(p[1] for p in quad))
    x1, y1 = math.ceil(max(p[0] for p in quad)) + 1, math.ceil(max(p[1] for p in quad)) + 1
    plate = scene.plates[0] if x1 - x0 > 0.6 * scene.plates[0].width else scene.plates[1]
    pw, ph = plate.size
    coeffs = _perspective_coeffs([(x - x0, y - y0) for x, y in quad], [(0, 0), (pw, 0), (pw, ph), (0, ph)])
    warped = plate.transform((x1 - x0, y1 - y0), Image.Transform.PERSPECTIVE, coeffs,
                                   Image.Resampling.BILINEAR)
    alpha = warped.getchannel("A")
    if scene.pole is None and scene.shadow > 0:
        shade = ImageChops.multiply(alpha, Image.new("L", alpha.size, scene.shadow))
        dx, dy = (max(1, round(rng.uniform(1, 5) * view.width / TILE)) for _ in range(2))
        view.paste((0, 0, 0), (x0 + dx, y0 + dy), shade)
    view.paste(warped, (x0, y0), alpha)


def _occlude(view: Image.Image, rng: random.Random) -> None:
    """Sometimes a branch with leaves, a leafy blob or a post in front of the sign."""
    r = rng.random()
    if r > 0.2:
        return
    d, f = ImageDraw.Draw(view, "RGBA"), view.width / TILE
    if r < 0.03:  # a post in front
        x, w = rng.uniform(0, TILE), rng.uniform(4, 14)
        d.rectangle((x * f, 0, (x + w) * f, TILE), fill=(rng.randint(60, 140),) * 3 + (255,))
        return
    x, y = rng.uniform(0, TILE), rng.choice((rng.uniform(-20, 30), rng.uniform(120, 170)))
    pts = [(x, y)]
    for _ in range(rng.randint(2, 5)):
        x, y = x + rng.uniform(-40, 40), y + rng.uniform(-35, 35)
        pts.append((x, y))
    pts = [(x * f, y * f) for x, y in pts]
    if r < 0.12:
        d.line(pts, fill=(rng.randint(30, 70), rng.randint(25, 55), 20, 235), width=max(1, round(rng.randint(1, 4) * f)))
    for px, py in pts:
        for _ in range(rng.randint(3, 9)):
            lx, ly, lr = px + rng.uniform(-12, 12) * f, py + rng.uniform(-12, 12) * f, rng.uniform(2, 6) * f
            g = rng.uniform(0.4, 1.2)
            d.ellipse((lx - lr, ly - lr * 0.6, lx + lr, ly + lr * 0.6),
                      fill=(int(50 * g), int(90 * g), int(30 * g), rng.randint(170, 255)))


def _shade(view: Image.Image, rng: random.Random) -> None:
    """Sometimes a hard-edged shadow over part of the view (a roof, a tree, a building)."""
    if rng.random() > 0.15:
        return
    d, n = ImageDraw.Draw(view, "RGBA"), view.width
    a, b = rng.uniform(-0.3, 1.3) * n, rng.uniform(-0.3, 1.3) * n
    pts = rng.choice(([(a, 0), (n, 0), (n, n), (b, n)], [(0, 0), (a, 0), (b, n), (0, n)],
                      [(0, a), (n, b), (n, n), (0, n)]))
    d.polygon(pts, fill=(0, 0, 10, rng.randint(50, 120)))


def _background(scene: Scene, n: int, rng: random.Random) -> Image.Image:
    """An n x n crop of the scene's texture, maybe mirrored."""
    y, x = rng.randrange(256 - n), rng.randrange(256 - n)
    crop = scene.texture.crop((x, y, x + n, y + n))
    return crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop


def _lut(gains: list[float], contrast: float, brightness: float) -> list[int]:
    """A 768-entry RGB lookup table: ``(v - 128) * contrast * gain + 128 + brightness``, clipped."""
    v = np.arange(256, dtype=np.float32) - 128
    out = v[None] * (np.asarray(gains, np.float32)[:, None] * np.float32(contrast)) + np.float32(128 + brightness)
    return np.clip(out, 0, 255).astype(np.uint8).ravel().tolist()


def _light(view: Image.Image, rng: random.Random) -> Image.Image:
    """Lighting and colour, each a single Pillow call: linear shading, darkening with a colour cast, haze (lower
    contrast towards a light or dark tone), brightening, desaturation."""
    _, _, ramps = _banks()
    size = view.size
    if rng.random() < 0.6:
        view.paste((0, 0, 0), (0, 0), ramps[rng.randrange(len(ramps))].crop((0, 0) + size))
    if rng.random() < 0.7:
        g = rng.uniform(0.65, 1.0)
        view = ImageChops.multiply(view, Image.new("RGB", size, tuple(round(255 * g * rng.uniform(0.88, 1.0))
                                                                      for _ in range(3))))
    if rng.random() < 0.45:
        tone = rng.choice((rng.randint(150, 230), rng.randint(20, 70)))
        haze = tuple(max(0, min(255, tone + rng.randint(-15, 15))) for _ in range(3))
        view = Image.blend(view, Image.new("RGB", size, haze), rng.uniform(0.05, 0.3))
    if rng.random() < 0.3:
        view = ImageChops.screen(view, Image.new("RGB", size, (rng.randint(10, 70),) * 3))
    sat = rng.uniform(0.5, 1.15)
    if abs(sat - 1) > 0.03:
        view = Image.blend(view.convert("L").convert("RGB"), view, sat)
    return view


def _sensor(view: Image.Image, rng: random.Random) -> Image.Image:
    """Gaussian sensor noise from the bank (a random crop of one of :data:`NOISE_SIGMAS`), sometimes none."""
    gauss, _, _ = _banks()
    k = rng.randrange(len(NOISE_SIGMAS) + 1)
    if k == len(NOISE_SIGMAS):
        return view
    x, y = rng.randrange(2 * TILE - view.width + 1), rng.randrange(2 * TILE - view.height + 1)
    return ImageChops.add(view, gauss[k].crop((x, y, x + view.width, y + view.height)), 1.0, -128)


def _camera(view: Image.Image, rng: random.Random) -> Image.Image:
    """Camera: lighting, sensor noise, blur (gaussian, motion or defocus)."""
    view = _sensor(_light(view, rng), rng)
    r, f = rng.random(), view.width / TILE  # blur sizes are in tile pixels
    if r < 0.25:
        return view.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5) * f))
    if r < 0.31 and view.width > 100:
        return view.filter(_motion_kernel(rng.randrange(4)))
    if r < 0.41:
        return view.filter(ImageFilter.BoxBlur(rng.uniform(2.5, 5.0) * f))
    return view


def _encode(views: list[Image.Image], rng: random.Random) -> list[Image.Image]:
    """JPEG at a random quality 20-70 (most of the time), applied to the small views side by side in one strip,
    then each view scaled back up to TILE x TILE."""
    if rng.random() < 0.88:
        strip = Image.new("RGB", (sum(v.width for v in views), max(v.height for v in views)))
        x = 0
        for v in views:
            strip.paste(v, (x, 0))
            x += v.width
        buf = io.BytesIO()
        strip.save(buf, "JPEG", quality=rng.randint(20, 70))
        strip = Image.open(buf).convert("RGB")
        xs = np.cumsum([0] + [v.width for v in views]).tolist()
        views = [strip.crop((x0, 0, x0 + v.width, v.height)) for x0, v in zip(xs, views)]
    return [v if v.width == TILE else v.resize((TILE, TILE), Image.Resampling.BILINEAR) for v in views]


@functools.lru_cache(maxsize=4)
def _motion_kernel(direction: int) -> ImageFilter.Kernel:
    """A 5x5 line kernel: motion blur horizontal, vertical or along a diagonal."""
    k = np.zeros((5, 5), np.float32)
    for i in range(5):
        k[((2, i, i, 4 - i)[direction], (i, 2, i, i)[direction])] = 1
    return ImageFilter.Kernel((5, 5), k.ravel().tolist(), scale=5)


def _view(scene: Scene, rng: random.Random) -> Image.Image:
    """One view of the scene's sign, drawn at the panorama's resolution: n x n with n = TILE / (1 to 2.4); it is
    scaled up to TILE x TILE after JPEG (see :func:`_encode`), which gives the soft, blocky look of FSNS views."""
    coarsest = min(2.4, max(1.0, scene.cap / 5))  # keep capitals at least ~5 px tall before scaling up
    n = round(TILE / rng.uniform(1.0, coarsest)) if rng.random() < 0.75 else TILE
    view = _background(scene, n, rng)
    quad = [(x * n / TILE, y * n / TILE) for x, y in _quad(scene, rng)]
    if scene.pole is not None:
        _pole(view, quad, scene.pole, rng)
    _paste_plate(view, scene, quad, rng)
    if scene.other is not None:
        _paste_other(view, scene.other, quad, rng)
    _occlude(view, rng)
    _shade(view, rng)
    return _camera(view, rng)


def _other_sign(rng: random.Random, width: float) -> Image.Image:
    """A second plate (shared vocabulary only: a street type and a common noun), at about ``width`` px."""
    text = f"{rng.choice(list(STREET_TYPES))} {_noun_phrase(rng)}".replace(APOS, "'").replace(HYPHEN, "-")
    lines = _display(sign_lines(text, rng), "'")
    k = pick_font("".join(t for line in lines for t, _, _ in line), rng)
    plate, _ = draw_plate(lines, k, plate_style(rng)._replace(header="", arms=False), rng)
    w = width * rng.uniform(0.6, 0.9)
    return plate.resize((max(8, round(w)), max(4, round(w * plate.height / plate.width))), Image.Resampling.BOX)


def _paste_other(view: Image.Image, other: Image.Image, quad: list[tuple[float, float]], rng: random.Random):
    """The other sign just above the main one, at least 25 % cut off by the top edge of the view."""
    f = view.width / TILE
    w, h = max(4, round(other.width * f)), max(3, round(other.height * f))
    y = min(quad[0][1], quad[1][1]) - h - rng.uniform(1, 4) * f
    if y > -0.25 * h:  # it would show more than 75 % of its height: leave it out of this view
        return
    x = (quad[0][0] + quad[1][0]) / 2 - w / 2 + rng.uniform(-0.1, 0.1) * w
    small = other.resize((w, h), Image.Resampling.BILINEAR)
    view.paste(small, (round(x), round(y)), small)


# ---------------------------------------------------------------------------------------------- whole image
def _scene(text: str, rng: random.Random) -> Scene:
    """Lay out and draw the plate, and pick what the views share (size, texture, post, tilt)."""
    lines = _display(sign_lines(text, rng), rng.choice(("'", "\u2019")))
    style = plate_style(rng)
    k = pick_font("".join(t for line in lines for t, _, _ in line) + style.header, rng)
    plate, cap = draw_plate(lines, k, style, rng)
    squeeze = rng.uniform(*FONTS[k].squeeze)
    legible = rng.uniform(8.5, 13.0) * plate.width * squeeze / cap  # plate width giving capitals that tall
    width = min(max(rng.uniform(0.5, 0.85) * TILE, legible), 0.97 * TILE)
    plate_width = plate.width
    target = (round(width * 1.1), max(6, round(width * 1.1 * plate.height / (plate.width * squeeze))))
    plate = plate.resize(target, Image.Resampling.BOX if target[0] < plate.width else Image.Resampling.BILINEAR)
    half = plate.resize((max(4, target[0] // 2), max(3, target[1] // 2)), Image.Resampling.BOX)
    bank = textures()
    tint = _lut([rng.uniform(0.85, 1.15) for _ in range(3)], rng.uniform(0.8, 1.1), rng.uniform(-20, 20))
    pole = rng.choice(((120, 120, 118), (60, 62, 60), (40, 60, 45), (150, 150, 145))) if rng.random() < 0.3 else None
    tilt = rng.uniform(-30, 30) if rng.random() < 0.08 else rng.uniform(-5, 5)
    shadow = rng.randint(50, 140) if rng.random() < 0.6 else 0
    other = _other_sign(rng, width) if rng.random() < 0.06 else None
    return Scene((plate, half), width, bank[rng.randrange(len(bank))].point(tint), pole, tilt, shadow,
                 cap * width / (plate_width * squeeze), other)


def _noise_fill(canvas: np.ndarray, views_present: int, rng: random.Random) -> None:
    """FSNS's filler: uniform RGB noise over the missing trailing views, and (rarely) a strip at a view's edge."""
    _, uniform, _ = _banks()
    y, x = rng.randrange(TILE), rng.randrange(TILE * VIEWS)
    noise = uniform[y:y + TILE, x:x + TILE * VIEWS]
    canvas[:, views_present * TILE:] = noise[:, views_present * TILE:]
    if views_present > 1 and rng.random() < 0.04:
        k, w = rng.randrange(views_present), rng.randint(8, 45)
        x0 = k * TILE if rng.random() < 0.5 else (k + 1) * TILE - w
        canvas[:, x0:x0 + w] = noise[:, x0:x0 + w]


def render_views(text: str, rng: random.Random) -> tuple[Image.Image, int]:
    """A 600x150 RGB image of 4 views (150x150 each) of one sign reading ``text`` (shown uppercased), and how many
    views are real: about 5 % of images end with 1-3 views of noise, as FSNS fills missing views."""
    if not text.strip():
        raise DataError("cannot render an empty label")
    scene = _scene(text, rng)
    present = VIEWS - rng.choices((0, 1, 2, 3), weights=(95, 3, 1, 1))[0]
    canvas = np.empty((TILE, TILE * VIEWS, 3), np.uint8)
    for k, view in enumerate(_encode([_view(scene, rng) for _ in range(present)], rng)):
        canvas[:, k * TILE:(k + 1) * TILE] = np.asarray(view)
    _noise_fill(canvas, present, rng)
    return Image.fromarray(canvas, "RGB"), present


def render_sign(text: str, rng: random.Random) -> Image.Image:
    """A 600x150 RGB image of 4 views of one sign reading ``text`` (see :func:`render_views`)."""
    return render_views(text, rng)[0]


def _derived_seed(seed: int, index: int, split: str) -> int:
    """A stable 64-bit seed for one sample (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{split}:{index}".encode(), digest_size=8).digest(), "big")


def synth_record(seed: int, index: int, split: str = "train", invented: float = 0.0
                 ) -> tuple[Image.Image, str, int]:
    """Sample ``index`` of the synthetic set ``(seed, split)``: ``(600x150 RGB image, label, views_present)``,
    where views ``views_present..3`` are noise; a pure function of its arguments. A share ``invented`` of the
    names have their proper names invented (:func:`invent_names`); with 0 the set is what it always was."""
    _check_split(split)
    derived = _derived_seed(seed, index, split)
    rng = random.Random(derived)
    text = street_name(rng, split)
    if invented:
        names = random.Random(derived ^ 0x5EED)
        if names.random() < invented:
            text = invent_names(text, names)
    image, present = render_views(text, rng)
    return image, text, present


def synth_sample(seed: int, index: int, split: str = "train", invented: float = 0.0) -> tuple[Image.Image, str]:
    """Sample ``index`` of the synthetic set ``(seed, split)``: ``(600x150 RGB image, label)``; a pure function."""
    image, text, _ = synth_record(seed, index, split, invented)
    return image, text
