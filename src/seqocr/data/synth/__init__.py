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

The drawing is split by what it draws: :mod:`.names` (the label), :mod:`.fonts`, :mod:`.plate`, :mod:`.scene`
(background, viewpoints) and :mod:`.camera` (lighting, noise, blur, JPEG); this module puts them together.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
from PIL import Image

from ...errors import DataError
from ...fsns import APOSTROPHE as APOS
from ...fsns import HYPHEN
from ...fsns import MAX_LABEL as MAX_LEN
from ...shares import PLAIN, Shares
from .camera import TILE, VIEWS, _banks, _encode
from .fonts import (
    FONTS,
    PLAIN_FONTS,
    SHARE_FONTS,
    SignFont,
    font_path,
    font_paths,
    load_font,
    missing_glyphs,
    pick_font,
)
from .names import (
    _check_split,
    elide,
    independent_name,
    invent_names,
    invented_word,
    person_name,
    proper_names,
    street_name,
)
from .plate import PlateStyle, draw_plate, footer_text, plate_style, sign_lines
from .scene import _scene, _view, textures

__all__ = [
    "APOS",
    "FONTS",
    "HYPHEN",
    "MAX_LEN",
    "PLAIN_FONTS",
    "SHARE_FONTS",
    "TILE",
    "VIEWS",
    "PlateStyle",
    "SignFont",
    "draw_plate",
    "elide",
    "font_path",
    "font_paths",
    "footer_text",
    "independent_name",
    "invent_names",
    "invented_word",
    "label_glyphs",
    "load_font",
    "missing_glyphs",
    "person_name",
    "pick_font",
    "plate_style",
    "proper_names",
    "render_glyphs",
    "render_sign",
    "render_views",
    "sign_images",
    "sign_lines",
    "street_name",
    "synth_glyphs",
    "synth_record",
    "synth_sample",
    "textures",
]


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


def label_glyphs(text: str, painted: list[np.ndarray]) -> np.ndarray:
    """Each label character's box in each view, (len(text), VIEWS, 4) in fractions of the view (x0, y0, x1, y1),
    from the boxes of the painted characters per view (:func:`.scene.glyphs_in_view`): the plate paints the
    label's non-space characters in order, one each. NaN where there is no box: spaces, views that are noise or
    where the character is out of frame, and a whole label whose painted form has another length (an uppercase
    that changes the length, as ß -> SS)."""
    out = np.full((len(text), VIEWS, 4), np.nan, np.float32)
    drawn = [i for i, ch in enumerate(text) if not ch.isspace()]
    for k, boxes in enumerate(painted):
        if len(boxes) == len(drawn):
            out[drawn, k] = boxes
    return out


def render_glyphs(text: str, rng: random.Random, extras: random.Random | None = None,
                  small_first: random.Random | None = None, clutter: random.Random | None = None,
                  numbers: random.Random | None = None, few_views: random.Random | None = None,
                  fonts: tuple[int, ...] = PLAIN_FONTS, accents: random.Random | None = None,
                  limit: random.Random | None = None, cover: random.Random | None = None,
                  one_view: random.Random | None = None, oblique: random.Random | None = None
                  ) -> tuple[Image.Image, int, np.ndarray]:
    """A 600x150 RGB image of 4 views (150x150 each) of one sign reading ``text`` (shown uppercased), how many
    views are real (about 5 % of images end with 1-3 views of noise, as FSNS fills missing views), and where
    each character of ``text`` is in each view (:func:`label_glyphs`). With ``extras``, the plate carries a
    secondary line under the name (house numbers, a subtitle, the district: :func:`footer_text`); with
    ``small_first``, a first name is painted small (:func:`.plate.sign_lines`); with ``clutter``, something that
    is not the name is beside it (:func:`.clutter.clutter_kind`); with ``numbers``, a house-number plate of its own
    (:func:`.clutter.house_number`); with ``few_views``, 1, 2 or 3 real views, as many of each; the plate is
    painted in one of ``fonts`` (:func:`.fonts.pick_font`); with ``accents``, its capitals lose their accents or
    take others (:func:`.plate.paint_accents`); with ``limit``, every view is at the legibility limit
    (:func:`.scene.at_limit`); with ``cover``, a sticker or a smear hides a few letters of one word
    (:func:`.cover.cover_word`); with ``one_view``, one real view and three of noise (``few_views`` aside); with
    ``oblique``, the plate is seen at a sharp angle in every view (:func:`.scene._quad`)."""
    if not text.strip():
        raise DataError("cannot render an empty label")
    scene = _scene(text, rng, extras, small_first, clutter, numbers, fonts, accents, cover)
    present = VIEWS - rng.choices((0, 1, 2, 3), weights=(95, 3, 1, 1))[0]  # drawn in any case: the rest stays
    if few_views is not None:
        present = few_views.choice((1, 2, 3))
    if one_view is not None:
        present = 1
    canvas = np.empty((TILE, TILE * VIEWS, 3), np.uint8)
    views, painted = zip(*[_view(scene, rng, limit, oblique) for _ in range(present)])
    for k, view in enumerate(_encode(list(views), rng)):
        canvas[:, k * TILE:(k + 1) * TILE] = np.asarray(view)
    _noise_fill(canvas, present, rng)
    return Image.fromarray(canvas, "RGB"), present, label_glyphs(text, list(painted))


def render_views(text: str, rng: random.Random) -> tuple[Image.Image, int]:
    """:func:`render_glyphs` without the glyph boxes."""
    return render_glyphs(text, rng)[:2]


def render_sign(text: str, rng: random.Random) -> Image.Image:
    """A 600x150 RGB image of 4 views of one sign reading ``text`` (see :func:`render_views`)."""
    return render_views(text, rng)[0]


def _derived_seed(seed: int, index: int, split: str) -> int:
    """A stable 64-bit seed for one sample (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{split}:{index}".encode(), digest_size=8).digest(), "big")


def synth_record(seed: int, index: int, split: str = "train", shares: Shares = PLAIN
                 ) -> tuple[Image.Image, str, int]:
    """Sample ``index`` of the synthetic set ``(seed, split)``: ``(600x150 RGB image, label, views_present)``,
    where views ``views_present..3`` are noise; a pure function of its arguments. ``shares`` says which share of
    the signs departs from the plain set and how (:class:`~seqocr.shares.Shares`): names drawn independently
    (:func:`independent_name`) or invented (:func:`invent_names`), a secondary line under the name
    (:func:`footer_text`), a first name painted small, clutter beside the name (:func:`.clutter.clutter_kind`), a
    house-number plate beside the sign (:func:`.clutter.house_number`), fewer than 4 real views, a typeface of the
    split's own (:data:`.fonts.SHARE_FONTS`), capitals painted without the map's accents (never on invented names,
    whose accents nothing could tell), and the hard phenomena of real signs: every view at the legibility limit
    (:func:`.scene.at_limit`), a sticker or a smear over a few letters (:func:`.cover.cover_word`), one real view
    among three of noise, a plate seen at a sharp angle (:func:`.scene._quad`), a street named after a person
    (:func:`person_name`); with every share 0
    the set is what it always was."""
    return synth_glyphs(seed, index, split, shares)[:3]


def _drawn(derived: int, salt: int, share: float) -> random.Random | None:
    """A generator of its own for a share of the signs (so that the rendering's draws, and the rest of the set, stay
    as they were), when this sign is in the share; else None."""
    if not share:
        return None
    own = random.Random(derived ^ salt)
    return own if own.random() < share else None


def synth_glyphs(seed: int, index: int, split: str = "train", shares: Shares = PLAIN
                 ) -> tuple[Image.Image, str, int, np.ndarray]:
    """:func:`synth_record` and where each character of the label is in each view (:func:`label_glyphs`)."""
    _check_split(split)
    derived = _derived_seed(seed, index, split)
    rng = random.Random(derived)
    text = street_name(rng, split)
    if grammar := _drawn(derived, 0x1D3A, shares.independent):
        text = independent_name(grammar, split)
    if person := _drawn(derived, 0x9E50, shares.person):
        text = person_name(person, split)
    if names := _drawn(derived, 0x5EED, shares.invented):
        text = invent_names(text, names)
    image, present, glyphs = render_glyphs(text, rng, _drawn(derived, 0xF007, shares.extras),
                                           _drawn(derived, 0x5A11, shares.small_names),
                                           _drawn(derived, 0xC1A7, shares.clutter),
                                           _drawn(derived, 0x4E05, shares.numbers),
                                           _drawn(derived, 0xFE35, shares.few_views),
                                           SHARE_FONTS[split] if _drawn(derived, 0xF047, shares.fonts) else PLAIN_FONTS,
                                           None if names else _drawn(derived, 0xACC5, shares.accents),
                                           _drawn(derived, 0x1E61, shares.legibility),
                                           _drawn(derived, 0x571C, shares.sticker),
                                           _drawn(derived, 0x0E1F, shares.one_view),
                                           _drawn(derived, 0x0B11, shares.oblique))
    return image, text, present, glyphs


VERIFY_SEED = 12345  # the generated test-split signs an exported model is verified on
CALIBRATION_SEED = 3  # the generated training-split signs int8 quantisation is calibrated on (never the held-out split)


def sign_images(seed: int, n: int, split: str = "test") -> list[Image.Image]:
    """Samples 0..n-1 of the generated set ``(seed, split)``, images only: what the command line hands to
    :func:`~seqocr.inference.export.verify_onnx` and :func:`~seqocr.inference.export.quantize_int8` (the inference
    layer reads images it is given and never draws them)."""
    return [synth_sample(seed, i, split)[0] for i in range(n)]


def synth_sample(seed: int, index: int, split: str = "train", shares: Shares = PLAIN) -> tuple[Image.Image, str]:
    """Sample ``index`` of the synthetic set ``(seed, split)``: ``(600x150 RGB image, label)``; a pure function."""
    image, text, _ = synth_record(seed, index, split, shares)
    return image, text
