"""What share of generated signs departs from the plain set, and how: one small value passed from the config and
``synth:...`` names down to the generator. Torch- and Pillow-free, so that configs and sources can hold one."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Shares:
    """Each a share in [0, 1] of the generated signs, drawn from a generator of its own (so that a share of 0 leaves
    every sign as it was, and one share does not move another's draws)."""

    invented: float = 0.0     # proper names invented (random letters or syllables), not drawn from the word lists
    independent: float = 0.0  # street type, particle and name drawn independently, not by the grammar
    extras: float = 0.0       # a secondary line under the name (house numbers, a subtitle, the district)
    small_names: float = 0.0  # a first name painted small, above or before the surname
    clutter: float = 0.0      # what is not the name beside it: a second sign in the scene, an arrow on the plate
    numbers: float = 0.0      # a house-number plate of its own beside the name plate (never read)
    few_views: float = 0.0    # photographed 1-3 times, not 4: the other tiles are FSNS's noise filler
    fonts: float = 0.0        # painted in a typeface of the split's own, not one of the plain set's five (a test
                              # sign's typeface is never a training sign's: synth/fonts.py SHARE_FONTS)
    accents: float = 0.0      # capitals painted as many French plates paint them: without their accents, or (a
                              # fifth of the share) with another accent than the map's; the label keeps the map's
    legibility: float = 0.0   # at the legibility limit: every view far and blurred, its capitals 5-7 px tall as the
                              # camera recorded them (synth/scene.py at_limit)
    sticker: float = 0.0      # a sticker or a smear of paint over part of one word of the plate; the label keeps the
                              # word (synth/cover.py)
    one_view: float = 0.0     # photographed once: one real view, the other three tiles FSNS's noise filler
    oblique: float = 0.0      # seen at a sharp angle (35-55 degrees) in every view, as a plate along the street is
    person: float = 0.0       # the street is named after a person: type, first name and surname (Rue Victor Hugo)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The share names, as ``synth:NAME=F`` and ``data.synth_NAME`` spell them."""
        return tuple(f.name for f in fields(cls))


PLAIN = Shares()  # the plain set: no share departs from it
