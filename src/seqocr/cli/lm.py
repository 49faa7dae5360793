"""`seqocr lm`: build the language model of street names that the beam search reads with."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import POSITIVE

ORDER, NAMES, MIN_COUNT = 6, 1_500_000, 2  # the shipped model's, chosen on generated signs (BENCHMARKS.md)


def _build(args: argparse.Namespace) -> int:
    from ..charset import Charset
    from ..data.lm_corpus import SOURCES, lm_names, word_lists
    from ..inference.lm_build import build

    start = time.monotonic()
    lists = word_lists()
    meta = {"sources": SOURCES, "names": args.names, "seed": args.seed, "min_count": args.min_count,
            "words": {k: len(v) for k, v in lists.items()}}
    lm = build(lm_names(args.names, args.seed), Charset.fsns(), args.order, args.min_count, meta)
    path = lm.save(Path(args.out))
    entries = sum(len(o.tokens) for o in lm.orders)
    print(f"{path}: order {lm.order}, {entries:,} n-grams, {path.stat().st_size / 1e6:.1f} MB, from {args.names:,} "
          f"generated street names over {sum(meta['words'].values()):,} words, in {time.monotonic() - start:.0f} s")
    if args.heldout:
        print(f"{held_out_bits(lm, args.heldout):.3f} bits per character on {args.heldout:,} held-out street names")
    return 0


def held_out_bits(lm, n: int, seed: int = 5) -> float:
    """The model's cross-entropy, in bits per character (EOS included), on ``n`` street names of the generator's
    test split: names whose proper nouns the model's curated and Faker word lists never held."""
    import math
    import random

    from ..data.synth.names import street_name

    rng = random.Random(seed)
    names = [street_name(rng, "test") for _ in range(n)]
    return -sum(lm.score(name) for name in names) / sum(len(name) + 1 for name in names) / math.log(2)


def add(command) -> None:
    """Register the command of this module; ``command(name, help)`` makes a subparser."""
    m = command("lm", "build the language model of French street names that beam search reads with (needs the "
                      "word lists: pip install 'seqocr[lm]')")
    m.add_argument("--out", required=True, help="the model file to write (.npz)")
    m.add_argument("--order", type=POSITIVE, default=ORDER, help="characters of context, plus one")
    m.add_argument("--names", type=POSITIVE, default=NAMES, help="generated street names to count")
    m.add_argument("--min-count", type=POSITIVE, default=MIN_COUNT,
                   help="n-grams of 3 characters and more seen fewer times are left out (a smaller file)")
    m.add_argument("--seed", type=int, default=0, help="the names are a function of the seed")
    m.add_argument("--heldout", type=POSITIVE, metavar="N",
                   help="then print its bits per character on N street names of the generator's test split")
    m.set_defaults(func=_build)
