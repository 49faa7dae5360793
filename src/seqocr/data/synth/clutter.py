"""What is not the name beside it in the scene: another street plate above the sign, a traffic
panel beside or below it, a direction arrow on the plate (drawn by :func:`.plate.draw_plate`), a house-number plate
of its own; never in the label."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from ...fsns import APOSTROPHE as APOS
from ...fsns import HYPHEN
from ..synth_words import STREET_TYPES
from .camera import TILE
from .fonts import _cap_height, load_font, pick_font
from .names import _noun_phrase
from .plate import _display, draw_plate, plate_style, sign_lines


def other_sign(rng: random.Random, width: float, scale: tuple[float, float] = (0.6, 0.9)) -> Image.Image:
    """A second plate (shared vocabulary only: a street type and a common noun), at ``scale`` times ``width`` px."""
    text = f"{rng.choice(list(STREET_TYPES))} {_noun_phrase(rng)}".replace(APOS, "'").replace(HYPHEN, "-")
    lines = _display(sign_lines(text, rng), "'")
    k = pick_font("".join(t for line in lines for t, _, _ in line), rng)
    plate, _, _ = draw_plate(lines, k, plate_style(rng)._replace(header="", arms=False), rng)
    w = width * rng.uniform(*scale)
    return plate.resize((max(8, round(w)), max(4, round(w * plate.height / plate.width))), Image.Resampling.BOX)


def _size_in(view: Image.Image, img: Image.Image) -> tuple[int, int]:
    """``img``'s size in ``view``, which may be drawn smaller than a tile."""
    f = view.width / TILE
    return max(4, round(img.width * f)), max(3, round(img.height * f))


def _paste(view: Image.Image, img: Image.Image, size: tuple[int, int], x: float, y: float) -> None:
    small = img.resize(size, Image.Resampling.BILINEAR)
    view.paste(small, (round(x), round(y)), small)


def paste_other(view: Image.Image, other: Image.Image, quad: list[tuple[float, float]], rng: random.Random,
                 above: bool = False):
    """The other sign just above the main one, at least 25 % cut off by the top edge of the view; ``above`` (clutter):
    at least 10 % cut off, so that its last line of text can show whole."""
    w, h = _size_in(view, other)
    y = min(quad[0][1], quad[1][1]) - h - rng.uniform(1, 4) * view.width / TILE
    if above:
        y = min(y, -rng.uniform(0.1, 0.5) * h)  # cut by the top edge even where the main plate sits low
    elif y > -0.25 * h:  # it would show more than 75 % of its height: leave it out of this view
        return
    _paste(view, other, (w, h), (quad[0][0] + quad[1][0]) / 2 - w / 2 + rng.uniform(-0.1, 0.1) * w, y)


CLUTTER = ("above", "panel", "arrow")  # the kinds of clutter (clutter_kind)
PANELS = ("CÉDEZ LE PASSAGE", "SAUF RIVERAINS", "IMPASSE", "VOIE SANS ISSUE", "STOP", "ZONE 30", "SENS UNIQUE",
          "PARKING", "ÉCOLE", "RALENTIR", "SORTIE DE VÉHICULES", "STATIONNEMENT INTERDIT", "PIÉTONS")


def clutter_kind(clutter: random.Random) -> str:
    """What is painted beside the name on a cluttered sign: ``above``, another street plate above
    it, large and mostly in view (sample 005); ``panel``, a traffic panel beside or below it (sample 002's CÉDEZ LE
    PASSAGE); ``arrow``, a direction arrow at one end of the plate. None of it is ever part of the label."""
    return clutter.choices(CLUTTER, weights=(4, 4, 2))[0]


def traffic_panel(rng: random.Random, height: float) -> Image.Image:
    """A traffic panel about ``height`` px high: black capitals on a white panel with a red (or black) border, one
    or two lines, or a red disc with a white bar (no entry)."""
    if rng.random() < 0.15:  # sens interdit
        n = max(6, round(height))
        img = Image.new("RGBA", (n, n), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        d.ellipse((0, 0, n - 1, n - 1), fill=(200, 30, 35, 255))
        d.rectangle((0.2 * n, 0.42 * n, 0.8 * n, 0.58 * n), fill=(245, 245, 245, 255))
        return img
    words = rng.choice(PANELS).split(" ")
    cut = len(words) // 2 if len(words) > 1 and rng.random() < 0.6 else len(words)
    lines = [" ".join(words[:cut]), " ".join(words[cut:])] if cut < len(words) else [" ".join(words)]
    k = pick_font("".join(lines), rng)
    size = 28
    font = load_font(size, k)
    cap = _cap_height(size, k)
    pad = 0.6 * size
    w = max(font.getlength(t) for t in lines) + 2 * pad
    h = len(lines) * cap + (len(lines) - 1) * 0.5 * cap + 2 * pad
    img = Image.new("RGBA", (round(w), round(h)), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    border = rng.choice(((200, 30, 35), (20, 20, 20)))
    d.rounded_rectangle((0, 0, img.width - 1, img.height - 1), radius=0.2 * size, fill=border + (255,))
    d.rounded_rectangle((0.18 * size, 0.18 * size, img.width - 1 - 0.18 * size, img.height - 1 - 0.18 * size),
                        radius=0.15 * size, fill=(240, 240, 235, 255))
    y = pad
    for t in lines:
        y += cap
        d.text(((img.width - font.getlength(t)) / 2, y), t, font=font, fill=(20, 20, 22, 255), anchor="ls")
        y += 0.5 * cap
    scale = height / img.height
    return img.resize((max(6, round(img.width * scale)), max(4, round(height))), Image.Resampling.BOX)


def house_number(rng: random.Random, height: float, style) -> Image.Image:
    """A house-number plate about ``height`` px high, in the street plate's colours (``style``: a
    :class:`.plate.PlateStyle`) or the classic white on blue: a number, maybe with bis or ter, with a border."""
    number = str(rng.choice((rng.randint(1, 9), rng.randint(10, 99), rng.randint(100, 250))))
    if rng.random() < 0.15:
        number += rng.choice((" bis", " ter", "B"))
    ground, ink = (style.plate, style.ink) if rng.random() < 0.5 else ((25, 55, 140), (245, 245, 240))
    size = 28
    k = pick_font(number, rng)
    font, cap = load_font(size, k), _cap_height(size, k)
    pad = 0.55 * size
    img = Image.new("RGBA", (round(max(font.getlength(number) + 2 * pad, cap + 2 * pad)), round(cap + 2 * pad)),
                    (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, img.width - 1, img.height - 1), radius=0.15 * size, fill=tuple(ground) + (255,))
    if rng.random() < 0.7:
        d.rounded_rectangle((0.12 * size, 0.12 * size, img.width - 1 - 0.12 * size, img.height - 1 - 0.12 * size),
                            radius=0.1 * size, outline=tuple(ink) + (255,), width=max(1, round(0.06 * size)))
    d.text(((img.width - font.getlength(number)) / 2, pad + cap), number, font=font, fill=tuple(ink) + (255,),
           anchor="ls")
    scale = height / img.height
    return img.resize((max(6, round(img.width * scale)), max(4, round(height))), Image.Resampling.BOX)


def paste_panel(view: Image.Image, panel: Image.Image, quad: list[tuple[float, float]], rng: random.Random):
    """The traffic panel beside the plate (left or right) or below it, a little apart, maybe cut by the view's edge."""
    w, h = _size_in(view, panel)
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    gap = rng.uniform(2, 8) * view.width / TILE
    side = rng.choice(("left", "right", "below", "below"))
    if side == "below":
        x, y = (min(xs) + max(xs)) / 2 - w / 2 + rng.uniform(-0.2, 0.2) * w, max(ys) + gap
    else:
        x = min(xs) - gap - w if side == "left" else max(xs) + gap
        y = (min(ys) + max(ys)) / 2 - h / 2 + rng.uniform(-0.3, 0.3) * h
    _paste(view, panel, (w, h), x, y)
