"""Street names in FSNS's label form: a grammar of French street names over the vocabulary of
:mod:`seqocr.data.synth_words`, and invented proper names (``Rue Morlaveyn``) that no prior over names can guess.
The ``train`` and ``test`` splits draw proper names from disjoint vocabularies."""

from __future__ import annotations

import functools
import random
import re

from ...errors import DataError
from ...fsns import APOSTROPHE as APOS
from ...fsns import HYPHEN
from ...fsns import MAX_LABEL as MAX_LEN
from ..synth_words import ADJECTIVE_STREETS, COMMON_NOUNS, DATES, STREET_TYPES, TITLES, VOCAB, VOWELS

_TYPES, _TYPE_WEIGHTS = list(STREET_TYPES), list(STREET_TYPES.values())


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


PARTICLES = ("de", "du", "de la", "des", "")  # drawn uniformly by independent_name ("de" elides to "d‘")


def independent_name(rng: random.Random, split: str = "train") -> str:
    """A street name whose type, particle and name are drawn independently of each other, each uniformly: the
    type from every street type (not by its frequency), the particle from :data:`PARTICLES` whatever the name's
    gender or number, the name from surnames, first names with a surname, common nouns, towns and regions. Many
    are not grammatical French (``Cour des Moulin``, ``Venelle du Lunel``): nothing but the letters tells the type
    or the particle, so a model trained on them must read those too (on real signs a model trained on grammatical names swapped
    ``Route`` for ``Cour``, ``de`` for ``du``). Elision is kept (``d‘Orbey``, ``de l‘Étang``)."""
    _check_split(split)
    v = VOCAB
    while True:
        kind = rng.choice(("surname", "person", "noun", "town", "region"))
        if kind == "surname":
            name = rng.choice(v["surname"][split])
        elif kind == "person":
            name = f"{rng.choice(v['first'][split])} {rng.choice(v['surname'][split])}"
        elif kind == "noun":
            name = rng.choice(COMMON_NOUNS[rng.choice("mfp")].split()).replace("_", " ")
        else:
            name = rng.choice(v[kind][split])
        particle = rng.choice(PARTICLES)
        if name[:1].upper() in VOWELS and particle in ("de", "de la"):
            phrase = f"d{APOS}{name}" if particle == "de" else f"de l{APOS}{name}"
        else:
            phrase = f"{particle} {name}".strip()
        text = f"{rng.choice(_TYPES)} {phrase}"
        if len(text) <= MAX_LEN:
            return _label_form(text)


def person_name(rng: random.Random, split: str = "train") -> str:
    """A street named after a person: a street type (by its frequency), a first name and a surname of the split
    (``Rue Victor Hugo``, ``Avenue Jean—Baptiste Dumas``), at most 37 characters; what the ``person`` share draws,
    so that every sign of it carries a first name a plate may paint small above the surname (``small_names``)."""
    _check_split(split)
    v = VOCAB
    while True:
        text = f"{rng.choices(_TYPES, weights=_TYPE_WEIGHTS)[0]} {rng.choice(v['first'][split])} " \
               f"{rng.choice(v['surname'][split])}"
        if len(text) <= MAX_LEN:
            return _label_form(text)
