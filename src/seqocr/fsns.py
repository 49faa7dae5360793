"""FSNS's conventions, in one place: its canonical apostrophe and hyphen, the particles of French street names,
the longest label and the token count of its charset. Pure Python."""

from __future__ import annotations

APOSTROPHE = "\u2018"  # ‘ the canonical apostrophe: charset id 2 lists ’ ' ‘ and decodes to the last
HYPHEN = "\u2014"  # — the canonical hyphen: id 17 lists - and — (labels use it, signs show "-")
APOSTROPHES = "'’‘`´ʼ"  # what a reader may see for the apostrophe
HYPHENS = "-‐‑‒–—−"  # what a reader may see for the hyphen

#: The particles of generated street names (``Rue de la Gare``), painted small on signs.
PARTICLES = frozenset({"de", "du", "des", "la", "le", "les"})
#: Words a label keeps lowercase unless they start it: the particles and a few more (``Rue sur l‘Eau``).
LOWERCASE_WORDS = PARTICLES | {"et", "sur", "sous", "aux", "à", "en"}
#: Every function word of a street name that an analysis of readings sets apart from the name: the lowercase words,
#: ``au``, ``a`` (``à`` without its accent) and the elided ``d`` and ``l`` (``d‘``, ``l‘`` once apostrophes are spaces).
FUNCTION_WORDS = LOWERCASE_WORDS | {"a", "au", "d", "l"}

MAX_LABEL = 37  # attention_ocr datasets/fsns.py: max_sequence_length (image/class is padded with null_code 133)
DECODER_STEPS = MAX_LABEL + 1  # a label and its end token
NUM_CLASSES = 136  # the FSNS charset's 133 characters (<nul> excluded) + PAD, GO, EOS
