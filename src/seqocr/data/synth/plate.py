"""The enamel plate: a label laid out in 1-3 display lines (particles small or inline, long names cut in two),
painted in a sign font on a plate with its border, corners and sometimes a district header."""

from __future__ import annotations

import random
from typing import NamedTuple

from PIL import Image, ImageDraw

from ...fsns import APOSTROPHE as APOS
from ...fsns import HYPHEN, PARTICLES
from .fonts import _cap_height, load_font

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


def is_first_name(words: list[str]) -> bool:
    """Whether ``words`` (the name after the street type) start with what a plate may paint as a first name: a
    capitalised word (``Victor``), not a particle, followed by more of the name."""
    first = words[0] if words else ""
    return len(words) >= 2 and first not in PARTICLES and first[:1].isupper() and first[1:].isalpha() and \
        first[1:].islower()


def sign_lines(text: str, rng: random.Random, small_first: random.Random | None = None) -> list[list[Segment]]:
    """Split a label into 1-3 display lines: the street type, maybe a line of small particles, then the name
    (cut in two when long). Particles are painted small lowercase, on their own line or inline, or uppercase.
    With ``small_first`` (a generator of its own: ``rng``'s draws stay as they were) a first name is painted
    small as written, on its own line above the surname or before it (as real plates paint a first name)."""
    words = text.split()
    particles = rng.choices(("line", "lower", "upper"), weights=(3, 4, 3))[0]
    small_caps = rng.random() < 0.15
    if len(words) == 1 or (len(text) <= 15 and rng.random() < 0.25):
        return [_segments(words, "upper" if particles == "upper" else "lower")]
    rest, lead = words[1:], []
    while len(rest) > 1 and rest[0] in PARTICLES:
        lead.append(rest.pop(0))
    lines = [_segments(words[:1], "upper")]
    if small_first is not None and not lead and is_first_name(rest):
        first, tail = [(rest[0], small_first.uniform(0.5, 0.7), False)], _segments(rest[1:], particles, small_caps)
        return lines + ([first, tail] if small_first.random() < 0.6 else [first + tail])
    if lead and particles == "line":
        lines.append(_segments(lead, "lower"))
    else:
        rest = lead + rest
    names = [w for w in rest if w not in PARTICLES]
    if len(" ".join(rest)) > rng.choice((11, 14, 17)) and len(names) > 1 and len(lines) == 1:
        cut = _balanced_cut(rest)
        return lines + [_segments(rest[:cut], particles, small_caps), _segments(rest[cut:], particles, small_caps)]
    return lines + [_segments(rest, particles, small_caps)]


_BARE = str.maketrans("ÀÂÄÉÈÊËÎÏÔÖÙÛÜŸ", "AAAEEEEIIOOUUUY")  # capitals without their accents (Ç and Œ apart)
_OTHER = {"É": "È", "È": "É", "Ê": "É", "Ë": "É", "À": "Â", "Ô": "Ö", "Î": "Ï", "Û": "Ü", "Ï": "Î"}  # another accent
_ADDED = {"E": "Ë", "I": "Ï"}  # a diaeresis the map name may not write (Noel, Raphael)


def paint_accents(lines: list[list[Segment]], rng: random.Random) -> list[list[Segment]]:
    """The capitals of ``lines`` as many French plates paint them, the label keeping the map's accents: mostly
    without any accent (``EGLISE``, the cedilla dropped half the time), and a fifth of the time with one letter's
    accent other than the map's: a grave for an acute (``LIBÈRATION``), or a diaeresis or an acute the map name
    does not carry (``NOËL`` for Noel). Lowercase segments (small particles, first names painted as written) keep
    theirs. Every character stays one character, so the glyph boxes still match the label."""
    capitals = [(i, k) for i, line in enumerate(lines) for k, (t, _, _) in enumerate(line)
                if any(c.isalpha() for c in t) and t == t.upper()]
    if not capitals:
        return lines
    out = [list(line) for line in lines]
    if rng.random() < 0.8:
        cedilla = rng.random() < 0.5
        for i, k in capitals:
            t, scale, joined = out[i][k]
            t = t.translate(_BARE)
            out[i][k] = (t.replace("Ç", "C") if cedilla else t, scale, joined)
        return out
    letters = [(i, k, n, t) for i, k in capitals for t in [out[i][k][0]] for n in range(len(t))]
    spots, swap = [(i, k, n) for i, k, n, t in letters if t[n] in _OTHER], _OTHER
    if not spots:  # no accent to change: add one where a plate might (a diaeresis after a vowel, else an acute)
        spots, swap = [(i, k, n) for i, k, n, t in letters if t[n] in "EI" and n and t[n - 1] in "AO"], _ADDED
    if not spots:
        spots = [(i, k, n) for i, k, n, t in letters if t[n] == "E" and n + 1 < len(t) and t[n + 1].isalpha()]
        swap = {"E": "É"}
    if spots:
        i, k, n = rng.choice(spots)
        t, scale, joined = out[i][k]
        out[i][k] = (t[:n] + swap[t[n]] + t[n + 1:], scale, joined)
    return out


def _display(segments: list[list[Segment]], apostrophe: str) -> list[list[Segment]]:
    """Label characters as painted on signs: a plain apostrophe and ``-``."""
    return [[(t.replace(APOS, apostrophe).replace(HYPHEN, "-"), s, j) for t, s, j in line] for line in segments]


def _header_text(rng: random.Random) -> str:
    """A district header painted above the name (never part of the label): ``15E ARRT``, ``ARRONDISSEMENT``."""
    n = rng.randint(1, 20)
    nth = "1ER" if n == 1 else f"{n}E"
    return rng.choice((f"{nth} ARRT", f"{nth} ARR", f"{nth} ARRONDISSEMENT", "ARRONDISSEMENT", f"{nth} ARR T",
                       "QUARTIER"))


class PlateStyle(NamedTuple):
    """How a plate looks, apart from its text."""
    plate: tuple[int, int, int]
    ink: tuple[int, int, int]
    corners: str  # "round" or "notch" (concave corners of the inset border, as on Paris plates)
    header: str  # "" or the header text
    arms: bool  # a small coat-of-arms shield top left
    footer: str = ""  # "" or a secondary line under the name (footer_text), never part of the label
    arrow: str = ""  # "", "left" or "right": an arrow painted at that end of the plate, pointing out (clutter)


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
    header = _header_text(rng) if rng.random() < 0.3 else ""
    return PlateStyle(_jitter(plate, rng), _jitter(ink, rng, 8), rng.choice(("round", "round", "notch")), header,
                      rng.random() < (0.5 if header else 0.06))


PROFESSIONS = ("PEINTRE", "ÉCRIVAIN", "POÈTE", "RÉSISTANT", "MÉDECIN", "HOMME POLITIQUE", "COMPOSITEUR", "AVIATEUR",
               "MAIRE", "SAVANT", "SCULPTEUR", "INSTITUTRICE", "ARCHITECTE", "CHIMISTE", "MUSICIEN", "PHILOSOPHE",
               "DÉPUTÉ", "ABBÉ", "HISTORIEN", "GÉNÉRAL")


def footer_text(text: str, rng: random.Random) -> str:
    """A secondary line painted under the name, as real French plates carry; never part of the
    label: house numbers (``N° 2 À N° 40``, ``DU N° 1 AU N° 25``), under a person's name their profession and
    years (``PEINTRE (1840-1926)``), or the arrondissement (``15E ARR.``)."""
    words = text.split()[1:]
    person = len(words) >= 2 and all(w[:1].isupper() for w in words) and not any(w in PARTICLES for w in words)
    kind = rng.choices(("numbers", "person", "district"), weights=(5, 4 if person else 0, 2))[0]
    if kind == "person":
        born = rng.randint(1650, 1950)
        died = born + rng.randint(25, 95)
        years = rng.choice((f"({born}-{died})", f"{born}-{died}", f"({born} - {died})"))
        return f"{rng.choice(PROFESSIONS)} {years}"
    if kind == "district":
        n = rng.randint(1, 20)
        return rng.choice((f"{'1ER' if n == 1 else f'{n}E'} ARR.", f"{'1ER' if n == 1 else f'{n}E'} ARRONDISSEMENT"))
    a = rng.randrange(1, 60)
    b = a + 2 * rng.randint(3, 60)
    return rng.choice((f"N° {a} À N° {b}", f"DU N° {a} AU N° {b}", f"{a} À {b}", f"N° {a} À {b}", f"{a} - {b}"))


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
               rng: random.Random) -> tuple[Image.Image, float, list[tuple[float, float, float, float]]]:
    """The sign face as RGBA (rounded plate, inset border, optional header and shield, centred lines), the
    height of its largest capitals in pixels, and where each painted character of ``lines`` landed, in order:
    its ink box (x0, y0, x1, y1) as fractions of the plate's width and height (the header is not counted)."""
    size = rng.randrange(24, 34, 2)
    laid = _measure(lines, k, size)
    gap, pad_x, pad_y = size * rng.uniform(0.35, 0.7), size * rng.uniform(0.35, 0.62), size * rng.uniform(0.5, 0.9)
    head_size = round(size * rng.uniform(0.36, 0.46))
    head_h = _cap_height(head_size, k) + gap * 0.9 if style.header else 0.0
    foot_size = round(size * 0.45)  # no draw from rng: a plate without a footer is drawn as it always was
    foot_h = _cap_height(foot_size, k) + gap * 0.8 if style.footer else 0.0
    w = max(lw for lw, _, _ in laid) + 2 * pad_x
    if style.footer:
        w = max(w, load_font(foot_size, k).getlength(style.footer) + 2 * pad_x)
    h = sum(cap for _, cap, _ in laid) + gap * (len(laid) - 1) + 2 * pad_y + head_h + foot_h
    w = max(w, rng.uniform(1.15, 1.5) * h)
    arrow_w = 1.8 * size if style.arrow else 0.0  # no draw from rng: a plate without an arrow is drawn as it was
    w += arrow_w
    shift = arrow_w / 2 if style.arrow == "left" else -arrow_w / 2  # the text centred beside the arrow
    img = Image.new("RGBA", (round(w), round(h)), style.plate + (0,))
    d = ImageDraw.Draw(img)
    r, inset, bw = size * rng.uniform(0.15, 0.35), size * rng.uniform(0.1, 0.2), max(2, round(size * 0.075))
    d.rounded_rectangle((0, 0, img.width - 1, img.height - 1), radius=r, fill=style.plate + (255,))
    _border(d, (inset, inset, img.width - 1 - inset, img.height - 1 - inset), r * 0.8, bw, style)
    y = pad_y
    if style.header:
        y = _draw_header(d, img.width, y, head_size, k, style) + gap * 0.9
    glyphs = []
    text_top = y
    for lw, cap, placed in laid:
        y += cap
        x0 = (img.width - lw) / 2 + shift
        for x, font, text in placed:
            d.text((x0 + x, y), text, font=font, fill=style.ink + (255,), anchor="ls")
            glyphs += _glyph_boxes(font, text, x0 + x, y, img.size)
        y += gap
    if style.footer:
        font = load_font(foot_size, k)
        y += gap * 0.8 - gap + _cap_height(foot_size, k)
        d.text(((img.width - font.getlength(style.footer)) / 2, y), style.footer, font=font,
               fill=style.ink + (255,), anchor="ls")
    if style.arms and not style.header:
        _arms(d, inset + bw + 2, inset + bw + 2, size * 0.45, style)
    if style.arrow:
        x = inset + bw + 0.3 * size if style.arrow == "left" else img.width - inset - bw - 0.3 * size - 1.3 * size
        _arrow(d, x, (text_top + y - gap) / 2, 1.3 * size, style.arrow, style)
    return img, max(cap for _, cap, _ in laid), glyphs


def _arrow(d: ImageDraw.ImageDraw, x: float, cy: float, length: float, side: str, style: PlateStyle) -> None:
    """A direction arrow ``length`` long from ``x``, centred on height ``cy``, pointing to ``side``."""
    head, shaft = 0.45 * length, 0.14 * length
    pts = [(0, -shaft), (length - head, -shaft), (length - head, -0.38 * length), (length, 0),
           (length - head, 0.38 * length), (length - head, shaft), (0, shaft)]
    if side == "left":
        pts = [(length - px, py) for px, py in pts]
    d.polygon([(x + px, cy + py) for px, py in pts], fill=style.ink + (255,))


def _glyph_boxes(font, text: str, x: float, baseline: float, size: tuple[int, int]
                 ) -> list[tuple[float, float, float, float]]:
    """The ink box of each character of ``text`` drawn from ``(x, baseline)`` (anchor "ls"), as fractions of
    ``size``; a character without ink (a space) gets the advance it takes on the baseline."""
    w, h = size
    out = []
    for j, ch in enumerate(text):
        left = x + font.getlength(text[:j])
        bx0, by0, bx1, by1 = font.getbbox(ch, anchor="ls")
        if bx1 <= bx0:
            bx0, by0, bx1, by1 = 0, -1, font.getlength(ch), 0
        out.append(((left + bx0) / w, (baseline + by0) / h, (left + bx1) / w, (baseline + by1) / h))
    return out


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
