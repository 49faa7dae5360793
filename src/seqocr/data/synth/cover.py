"""What hides part of a plate's text: a sticker pasted over a few letters of one word, or a smear
of paint (a tag, a streak of dirt or tar) across them. The plate still paints every character of the label, so the
glyph boxes stay where the letters are, under the cover, and the label keeps the word: only knowledge of street
names can restore what is hidden. Drawn on the plate itself, so every view of the sign shows it."""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw, ImageFilter

Segment = tuple[str, float, bool]

COVERED = (0.6, 1.6)  # how many letters of the word a cover hides, drawn uniformly and rounded (at most the word)
COVER_PART = (0.3, 0.8)  # the share of those letters' width it covers, from one side (the rest of them shows)
STICKERS = ((238, 238, 230), (245, 242, 225), (250, 212, 45), (215, 45, 40), (245, 130, 30), (70, 150, 210),
            (35, 35, 38), (70, 160, 80))  # white and cream (most stickers), yellow, red, orange, blue, black, green
PAINTS = ((22, 22, 24), (40, 40, 45), (115, 28, 30), (170, 170, 176), (85, 66, 48), (30, 60, 40))  # tags and dirt


def word_glyphs(lines: list[list[Segment]]) -> list[list[int]]:
    """The indices of each word's painted characters in :func:`.plate.draw_plate`'s glyph order: a segment joined
    to the one before it (an elided article's ``D'`` and its name, a name in small capitals) continues its word."""
    words: list[list[int]] = []
    n = 0
    for line in lines:
        for i, (text, _, joined) in enumerate(line):
            span = list(range(n, n + len(text)))
            n += len(text)
            if joined and i and words:
                words[-1] += span
            else:
                words.append(span)
    return words


def covered_run(lines: list[list[Segment]], rng: random.Random) -> list[int]:
    """Which painted characters a cover hides: mostly one letter, sometimes two (:data:`COVERED`: a sticker a few
    centimetres wide on letters about as wide), of one word drawn uniformly: the whole word when it is that short
    (a particle)."""
    words = [w for w in word_glyphs(lines) if w]
    word = rng.choice(words)
    k = max(1, min(len(word), round(rng.uniform(*COVERED))))
    start = rng.randrange(len(word) - k + 1)
    return word[start:start + k]


def _run_box(glyphs: list[tuple[float, float, float, float]], run: list[int], size: tuple[int, int]
             ) -> tuple[float, float, float, float]:
    """The ink box of the characters ``run`` in pixels of a plate of ``size``."""
    w, h = size
    x0, y0, x1, y1 = (f([glyphs[i][j] for i in run]) for f, j in ((min, 0), (min, 1), (max, 2), (max, 3)))
    return x0 * w, y0 * h, x1 * w, y1 * h


def _sticker(box: tuple[float, ...], rng: random.Random) -> tuple[Image.Image, float, float]:
    """A paper or vinyl sticker a little larger than ``box`` (slightly rotated, its print unreadable at this size:
    bars of small text, a disc), and where its centre goes."""
    x0, y0, x1, y1 = box
    h = max(3.0, y1 - y0)
    angle = rng.uniform(-9, 9)
    tilt = abs(math.sin(math.radians(angle)))
    sw = x1 - x0 + 2 * rng.uniform(0.0, 0.12) * h + tilt * h
    sh = h * (1 + 2 * rng.uniform(0.15, 0.35)) + tilt * (x1 - x0)
    colour = rng.choices(STICKERS, weights=(5, 2, 2, 2, 1, 1, 1, 1))[0]
    colour = tuple(max(0, min(255, c + rng.randint(-12, 12))) for c in colour)
    ink = (20, 20, 22) if sum(colour) > 330 else (240, 240, 235)
    img = Image.new("RGBA", (max(2, round(sw)), max(2, round(sh))), colour + (255,))  # paper or vinyl: opaque
    d = ImageDraw.Draw(img)
    kind = rng.choice(("text", "text", "disc", "plain"))
    if kind == "text":
        rows = rng.randint(1, 3)
        for r in range(rows):
            y = img.height * (0.2 + 0.6 * (r + 0.5) / rows)
            t = max(1.0, img.height * rng.uniform(0.05, 0.1))
            a, b = sorted(rng.uniform(0.1, 0.9) * img.width for _ in range(2))
            d.rectangle((a, y - t, max(a + 2, b), y + t), fill=ink + (255,))
    elif kind == "disc":
        r = 0.3 * min(img.size)
        cx, cy = rng.uniform(0.3, 0.7) * img.width, img.height / 2
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rng.choice(STICKERS) + (255,), outline=ink + (255,))
    if rng.random() < 0.5:  # a printed border
        d.rectangle((1, 1, img.width - 2, img.height - 2), outline=ink + (255,), width=1)
    return img.rotate(angle, Image.Resampling.BICUBIC, expand=True), (x0 + x1) / 2, (y0 + y1) / 2


def _smear(size: tuple[int, int], box: tuple[float, ...], rng: random.Random) -> tuple[Image.Image, tuple[int, ...]]:
    """A smear of paint across ``box``: a brush stroke that wanders along it, taller than the letters, soft-edged
    (a tag sprayed over the name, a streak of tar or dirt); its mask over the whole plate and its colour."""
    x0, y0, x1, y1 = box
    h = max(3.0, y1 - y0)
    mask = Image.new("L", size, 0)
    d = ImageDraw.Draw(mask)
    steps = max(3, round((x1 - x0) / (0.4 * h)) + 2)
    a, b = x0 + rng.uniform(0.0, 0.2) * h, x1 - rng.uniform(0.0, 0.2) * h
    cy, r = (y0 + y1) / 2, h * rng.uniform(0.62, 0.8)
    for s in range(steps):
        x = a + (b - a) * s / (steps - 1)
        y = cy + rng.uniform(-0.12, 0.12) * h
        rx = r * rng.uniform(0.55, 0.9)
        d.ellipse((x - rx, y - r * rng.uniform(0.9, 1.05), x + rx, y + r * rng.uniform(0.9, 1.05)), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(0.6, 0.06 * h)))
    mask = mask.point([min(255, round(v * 1.4 * rng.uniform(0.92, 1.0))) for v in range(256)])
    colour = rng.choice(PAINTS)
    return mask, tuple(max(0, min(255, c + rng.randint(-10, 10))) for c in colour)


def cover_word(plate: Image.Image, lines: list[list[Segment]], glyphs: list[tuple[float, float, float, float]],
               rng: random.Random) -> list[int]:
    """Hide a letter or two of one word of ``plate`` (RGBA, drawn by :func:`.plate.draw_plate` from ``lines``, its
    painted characters' boxes ``glyphs``), in place, wholly or from one side (:data:`COVER_PART`): under a sticker
    two times in three, else under a smear of paint. Nothing is drawn off the plate. Returns the indices of the
    characters under it."""
    run = covered_run(lines, rng)
    x0, y0, x1, y1 = _run_box(glyphs, run, plate.size)
    cut = (x1 - x0) * (1 - rng.uniform(*COVER_PART))
    box = (x0 + cut, y0, x1, y1) if rng.random() < 0.5 else (x0, y0, x1 - cut, y1)
    alpha = plate.getchannel("A")
    layer = Image.new("RGBA", plate.size, (0, 0, 0, 0))
    if rng.random() < 2 / 3:
        img, cx, cy = _sticker(box, rng)
        layer.alpha_composite(img, (round(cx - img.width / 2), round(cy - img.height / 2)))
    else:
        mask, colour = _smear(plate.size, box, rng)
        layer.paste(colour + (255,), (0, 0), mask)
        layer.putalpha(mask)
    plate.alpha_composite(layer)
    plate.putalpha(alpha)  # the plate's own outline: a cover hanging over its edge is cut there
    return run
