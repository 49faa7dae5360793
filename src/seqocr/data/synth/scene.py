"""The scene around the plate: procedural walls, foliage and sky, the post, the plate's shadow, occluders, another
sign above it and other clutter (:mod:`.clutter`), and one view of it all under its own viewpoint (scale,
perspective, rotation, offset, crop)."""

from __future__ import annotations

import functools
import math
import random
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .camera import TILE, _camera, _lut, _sensor
from .clutter import clutter_kind, house_number, other_sign, paste_other, paste_panel, traffic_panel
from .cover import cover_word
from .fonts import FONTS, PLAIN_FONTS, pick_font
from .plate import _display, draw_plate, footer_text, paint_accents, plate_style, sign_lines


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
    glyphs: np.ndarray  # (G, 4) each painted character's box on the plate, fractions of its size (draw_plate)
    above: bool = False  # clutter: the other sign is large and shows most of itself (sample 005's plate above)
    panel: Image.Image | None = None  # clutter: a traffic panel beside or below the plate (not read)


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """Coefficients for ``Image.transform(PERSPECTIVE)`` mapping output points ``dst`` to input points ``src``."""
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
    return np.linalg.solve(np.array(a, float), np.array(src, float).reshape(8)).tolist()


OBLIQUE_ANGLE = (35.0, 55.0)  # seen at a sharp angle: the plate turned this many degrees from facing the camera
OBLIQUE_YAW = (0.08, 0.18)    # and its near edge this much taller than the middle, the far edge as much shorter


def _quad(scene: Scene, rng: random.Random, oblique: random.Random | None = None) -> list[tuple[float, float]]:
    """Where the plate's corners land in the tile: scale, aspect, yaw/pitch, rotation, offset, maybe cropped. With
    ``oblique`` (a generator of its own: ``rng``'s draws stay as they were), the plate is seen at a sharp angle, as
    a plate on a wall along the street is from the car: narrowed by the cosine of :data:`OBLIQUE_ANGLE`, its near
    edge taller than its far edge (:data:`OBLIQUE_YAW`)."""
    pw, ph = scene.plates[0].size
    w = scene.width * rng.uniform(0.9, 1.1)
    h = min(w * ph / pw, 0.85 * TILE)
    w = h * pw / ph
    yaw, pitch = rng.uniform(-0.18, 0.18), rng.uniform(-0.06, 0.06)
    if oblique is not None:
        w *= math.cos(math.radians(oblique.uniform(*OBLIQUE_ANGLE)))
        yaw = oblique.choice((-1, 1)) * oblique.uniform(*OBLIQUE_YAW)
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
    high = scene.other is not None and not scene.above  # so that the other sign above is cut by the top edge
    where = rng.uniform(0.2, 0.9) if scene.above else rng.uniform(-0.9, 0.0) if high else rng.uniform(-0.8, 0.8)
    cy = TILE / 2 - (max(ys) + min(ys)) / 2 + slack_y * where
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


def glyphs_in_view(glyphs: np.ndarray, quad: list[tuple[float, float]]) -> np.ndarray:
    """Plate boxes (G, 4) in fractions of the plate -> boxes in fractions of the view, whose plate corners land on
    ``quad`` (fractions too): the bounding box of each box's four warped corners, clipped to the view; NaN for a
    box wholly outside it."""
    h = _perspective_coeffs([(0, 0), (1, 0), (1, 1), (0, 1)], quad)  # plate fractions -> view fractions
    x0, y0, x1, y1 = glyphs.T
    u = np.stack([x0, x1, x1, x0], 1)
    v = np.stack([y0, y0, y1, y1], 1)
    den = h[6] * u + h[7] * v + 1
    x, y = (h[0] * u + h[1] * v + h[2]) / den, (h[3] * u + h[4] * v + h[5]) / den
    out = np.stack([x.min(1), y.min(1), x.max(1), y.max(1)], 1).clip(0, 1)
    out[(out[:, 2] <= out[:, 0]) | (out[:, 3] <= out[:, 1])] = np.nan
    return out.astype(np.float32)


LIMIT_CAPS = (5.0, 7.0)   # at the legibility limit: capitals this tall (px) as the camera recorded them
LIMIT_BLUR = (0.55, 0.9)  # and a defocus of this many of those pixels (a gaussian's radius)


def at_limit(cap: float, limit: random.Random) -> tuple[int, float]:
    """Where a view at the legibility limit of a plate whose capitals are ``cap`` px tall in the
    tile is recorded: the size n of the view, so that they are 5-7 px tall as the camera recorded them
    (:data:`LIMIT_CAPS`; the view is scaled up to TILE after JPEG, and the reader's text crop enlarges it again,
    neither adding detail), and the radius in those pixels of the blur over it (:data:`LIMIT_BLUR`)."""
    n = round(TILE * limit.uniform(*LIMIT_CAPS) / max(cap, 1.0))
    return max(24, min(TILE, n)), limit.uniform(*LIMIT_BLUR)


def _at_limit(view: Image.Image, cap: float, limit: random.Random) -> Image.Image:
    """``view`` as the camera records it at the legibility limit (:func:`at_limit`): shrunk (never enlarged), its
    sensor noise drawn again at that size, and blurred."""
    n, blur = at_limit(cap, limit)  # the view is drawn at the panorama's resolution, which may already be lower
    if n < view.width:
        view = _sensor(view.resize((n, n), Image.Resampling.BOX), limit)
    return view.filter(ImageFilter.GaussianBlur(blur))


def _view(scene: Scene, rng: random.Random, limit: random.Random | None = None,
          oblique: random.Random | None = None) -> tuple[Image.Image, np.ndarray]:
    """One view of the scene's sign, drawn at the panorama's resolution: n x n with n = TILE / (1 to 1.8); it is
    scaled up to TILE x TILE after JPEG (see :func:`_encode`), which gives the soft, blocky look of FSNS views.
    Also where each painted character landed in it (:func:`glyphs_in_view`). With ``limit`` (a generator of its
    own: ``rng``'s draws stay as they were), the view is at the legibility limit (:func:`at_limit`), the same
    view otherwise; with ``oblique`` (another), the plate is seen at a sharp angle (:func:`_quad`)."""
    coarsest = min(1.8, max(1.0, scene.cap / 5))  # keep capitals at least ~5 px tall before scaling up
    n = round(TILE / rng.uniform(1.0, coarsest)) if rng.random() < 0.6 else TILE
    view = _background(scene, n, rng)
    tile_quad = _quad(scene, rng, oblique)
    quad = [(x * n / TILE, y * n / TILE) for x, y in tile_quad]
    if scene.pole is not None:
        _pole(view, quad, scene.pole, rng)
    _paste_plate(view, scene, quad, rng)
    if scene.other is not None:
        paste_other(view, scene.other, quad, rng, scene.above)
    if scene.panel is not None:
        paste_panel(view, scene.panel, quad, rng)
    _occlude(view, rng)
    _shade(view, rng)
    view = _camera(view, rng)
    if limit is not None:
        view = _at_limit(view, scene.cap, limit)
    return view, glyphs_in_view(scene.glyphs, [(x / TILE, y / TILE) for x, y in tile_quad])


def _scene(text: str, rng: random.Random, extras: random.Random | None = None,
           small_first: random.Random | None = None, clutter: random.Random | None = None,
           numbers: random.Random | None = None, fonts: tuple[int, ...] = PLAIN_FONTS,
           accents: random.Random | None = None, cover: random.Random | None = None) -> Scene:
    """Lay out and draw the plate, and pick what the views share (size, texture, post, tilt). With ``extras`` (a
    generator of its own, so that ``rng``'s draws stay as they were), the plate also carries a secondary line under
    the name (:func:`footer_text`); with ``small_first`` (another) a first name is painted small; with ``clutter``
    (another) something that is not the name is beside it (:func:`clutter_kind`); with ``numbers`` (another) a
    house-number plate is beside the plate, where no traffic panel is (:func:`house_number`); the plate is painted in
    one of ``fonts``; with ``accents`` (another) its capitals are painted as plates paint them, not as the map
    writes them (:func:`paint_accents`); with ``cover`` (another) a sticker or a smear of paint hides a few letters
    of one word (:func:`.cover.cover_word`)."""
    lines = sign_lines(text, rng, small_first)
    if accents is not None:
        lines = paint_accents(lines, accents)
    lines = _display(lines, rng.choice(("'", "\u2019")))
    style = plate_style(rng)
    if extras is not None:
        style = style._replace(footer=footer_text(text, extras))
    kind = clutter_kind(clutter) if clutter is not None else ""
    if kind == "arrow":
        style = style._replace(arrow=clutter.choice(("left", "right")))
    k = pick_font("".join(t for line in lines for t, _, _ in line) + style.header + style.footer, rng, fonts)
    plate, cap, glyphs = draw_plate(lines, k, style, rng)
    if cover is not None:
        cover_word(plate, lines, glyphs, cover)
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
    other = other_sign(rng, width) if rng.random() < 0.06 else None
    if kind == "above":
        other = other_sign(clutter, width, (0.9, 1.4))
    panel = traffic_panel(clutter, target[1] * clutter.uniform(0.5, 1.1)) if kind == "panel" else None
    if numbers is not None and panel is None:
        panel = house_number(numbers, target[1] * numbers.uniform(0.35, 0.8), style)
    return Scene((plate, half), width, bank[rng.randrange(len(bank))].point(tint), pole, tilt, shadow,
                 cap * width / (plate_width * squeeze), other, np.asarray(glyphs, np.float64).reshape(-1, 4),
                 kind == "above", panel)
