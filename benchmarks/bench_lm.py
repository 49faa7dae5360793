"""Reading with and without the language model and the gazetteer, on generated columns: every search setting
over the same encodings (issue 36; BENCHMARKS.md "the language model").

    python -m benchmarks.bench_lm --lm LM.npz --column heldout=synth:split=test,n=500,seed=1 [--column NAME=SOURCE ...]
        --setting greedy=beam=1 --setting lm=beam=8,lm=0.3,bonus=1.0 [--lexicon NAME=FILE] [--checkpoint CKPT]
        [--cache build/lm-cache] [--predictions build/lm-pred] [--json out.json]

Each column's signs are encoded once with the model's reading views (the ``read_views`` sharpest, and one more for
the early exit) and the encodings kept (``--cache``: on disk, reused by a later run with the same model); each
setting then only decodes, with :func:`seqocr.inference.decoding.read_with_exit` as the readers do. A setting is
``beam=K,lm=WEIGHT,bonus=B,gate=G`` (``lm=0``: no language model; ``gate``: guided search only under that
greedy confidence, 1 by default: every sign), optionally ``lexicon=NAME``: a ``--lexicon`` file, or
``with`` / ``without``: a gazetteer of ``--gazetteer`` names made for each column, its truths with names one letter
from them and other generated street names, or the same without the truths (a user whose list lacks the sign). Prints one line a setting
and column (exact, character precision, ECE of the confidence); ``--predictions DIR`` writes each as a
``seqocr eval --predictions`` file, for ``benchmarks/mcnemar.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch

from seqocr.calibration import expected_calibration_error
from seqocr.data import iter_labelled
from seqocr.imaging.preprocess import ImageSpec, eval_batch
from seqocr.inference.decoding import Search, gated, read_with_exit, search
from seqocr.inference.lexicon import Lexicon
from seqocr.inference.lm import NgramLM
from seqocr.inference.postprocess import decode_batch, write_predictions
from seqocr.metrics import compute_metrics
from seqocr.model.base import split_views
from seqocr.model.views import views_by_detail
from seqocr.model.weights import load_model


class MemorySteps:
    """The model's decoder over encodings at hand (B, S, d), each repeated for ``beam`` hypotheses."""

    def __init__(self, model, memory: torch.Tensor, beam: int):
        rows = torch.arange(memory.shape[0]).repeat_interleave(beam)
        self.model, self.memory = model, memory.index_select(0, rows)
        self.state = tuple(s.index_select(0, rows) for s in model.init_state(memory))

    def step(self, tokens: np.ndarray, parents: np.ndarray | None) -> np.ndarray:
        if parents is not None:
            self.state = self.model.reorder_state(self.state, torch.from_numpy(parents))
        with torch.no_grad():
            logp, self.state, _ = self.model.step(torch.from_numpy(tokens), self.state, self.memory)
        return logp.float().numpy()


def encodings(model, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sign's memory from its ``read_views`` sharpest views, and from one view more."""
    x = torch.from_numpy(images)
    v, b, k = model.num_views, x.shape[0], model.read_views
    views = split_views(x, v)
    order = views_by_detail(views.unflatten(0, (v, b)))
    with torch.no_grad():
        first = model.encode_views(views, b, order[:k].sort(0).values).memory
        more = model.encode_views(views, b, order[:k + 1].sort(0).values).memory
    return first.half(), more.half()


def column(model, spec, charset, source: str, cache: Path | None, tag: str):
    """(truths, where, first memories, more memories) of a column, encoded or read from the cache."""
    rows = list(iter_labelled(source, charset, model.max_len - 1))
    truths, where = [r[1] for r in rows], [r[2] for r in rows]
    name = hashlib.blake2b(f"{tag}|{source}".encode(), digest_size=8).hexdigest()
    if cache is not None and (cache / f"{name}.pt").is_file():
        first, more = torch.load(cache / f"{name}.pt")
        return truths, where, first, more
    parts = [encodings(model, eval_batch([r[0] for r in rows[i:i + 16]], spec)) for i in range(0, len(rows), 16)]
    first, more = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        torch.save((first, more), cache / f"{name}.pt")
    return truths, where, first, more


def one_letter_off(name: str, rng: random.Random) -> str:
    """``name`` with one letter replaced by another of the same case."""
    spots = [i for i, c in enumerate(name) if c.isalpha()]
    i = rng.choice(spots)
    letters = [c for c in "abcdefghijklmnopqrstuvwxyzé" if c != name[i].lower()]
    c = rng.choice(letters)
    return name[:i] + (c.upper() if name[i].isupper() else c) + name[i + 1:]


def gazetteers(truths: list[str], size: int, charset, seed: int = 0) -> dict[str, Lexicon]:
    """A gazetteer of ``size`` names holding every truth, five names one letter from each, and generated street
    names for the rest; and the same less the truths."""
    from seqocr.data.lm_corpus import lm_names

    rng, held = random.Random(seed), set(truths)
    near = {one_letter_off(t, rng) for t in truths for _ in range(5)} - held
    others = [n for n in lm_names(2 * size, seed + 1) if n not in held and not charset.missing(n)]
    names = list(held) + sorted(near)
    names += others[:max(0, size - len(names))]
    return {"with": Lexicon(names, charset), "without": Lexicon([n for n in names if n not in held], charset)}


def parse_setting(text: str, lm: NgramLM | None, lexicons: dict) -> Search:
    opts = dict(kv.split("=") for kv in text.split(","))
    weight = float(opts.get("lm", 0))
    return Search(beam=int(opts.get("beam", 1)), lm=lm if weight else None, lm_weight=weight,
                  lm_bonus=float(opts.get("bonus", 0)), lexicon=lexicons.get(opts.get("lexicon")),
                  gate=float(opts.get("gate", 1)))


def run(model, charset, how: Search, first, more, batch: int = 32, greedy: list | None = None):
    """Each sign's (text, confidence, gazetteer flag) read with ``how`` as :func:`read_with_exit` reads; a gated
    search starts from ``greedy`` (each batch's greedy :class:`Found`, the same for every gated setting) where
    given, the reading it would make first."""
    out = []
    for n, i in enumerate(range(0, len(first), batch)):
        f, m = first[i:i + batch].float(), more[i:i + batch].float()
        again = lambda rows, k, m=m: MemorySteps(model, m[torch.from_numpy(rows)], k)
        if greedy is not None and how.guided and how.gate < 1:
            found = gated(greedy[n], lambda rows, again=again: search(lambda k: again(rows, k), len(rows),
                                                                     model.max_len, how), how, model.reread_below)
        else:
            found = read_with_exit(lambda k, f=f: MemorySteps(model, f, k), again, len(f), model.max_len, how,
                                   model.reread_below)
        readings = decode_batch(found.ids, found.probs, charset)
        used = found.lexicon if found.lexicon is not None else [None] * len(readings)
        out += [(r.text, r.confidence, u) for r, u in zip(readings, used)]
    return out


def first_greedy(model, first, batch: int = 32) -> list:
    """The greedy reading of each batch's first encodings, as a gated search makes it (:func:`search`, beam 1)."""
    out = []
    for i in range(0, len(first), batch):
        f = first[i:i + batch].float()
        out.append(search(lambda k, f=f: MemorySteps(model, f, k), len(f), model.max_len, Search()))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", help="the model (default: the shipped one)")
    p.add_argument("--lm", help="the language model file")
    p.add_argument("--column", action="append", required=True, metavar="NAME=SOURCE")
    p.add_argument("--setting", action="append", required=True, metavar="NAME=beam=K,lm=W,bonus=B")
    p.add_argument("--lexicon", action="append", default=[], metavar="NAME=FILE")
    p.add_argument("--gazetteer", type=int, default=10_000, help="names in each column's gazetteers")
    p.add_argument("--cache", type=Path, help="keep the encodings here")
    p.add_argument("--predictions", type=Path, help="write each setting's predictions here")
    p.add_argument("--json", type=Path)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, cfg, charset, state = load_model(args.checkpoint, {"read_views": 2, "reread_below": 0.9})
    model.eval()
    spec = ImageSpec.from_config(cfg.model)
    lm = NgramLM.load(args.lm) if args.lm else None
    lexicons = {n: Lexicon.from_file(f, charset) for n, f in (x.split("=", 1) for x in args.lexicon)}
    tag = f"{args.checkpoint}|{state.get('step')}|{model.read_views}"
    results = []
    for col in args.column:
        cname, source = col.split("=", 1)
        truths, where, first, more = column(model, spec, charset, source, args.cache, tag)
        own = gazetteers(truths, args.gazetteer, charset) if any("lexicon=with" in s for s in args.setting) else {}
        greedy = first_greedy(model, first)
        for setting in args.setting:
            sname, text = setting.split("=", 1)
            got = run(model, charset, parse_setting(text, lm, {**lexicons, **own}), first, more, greedy=greedy)
            m = compute_metrics(truths, [g[0] for g in got])
            ece = expected_calibration_error([g[1] for g in got], [g[0] == t for g, t in zip(got, truths)])
            taken = [g[2] for g in got if g[2] is not None]
            row = {"column": cname, "setting": sname, "n": len(truths), "exact": sum(g[0] == t for g, t in
                   zip(got, truths)), "char_precision": m["character_precision"], "ece": ece,
                   "lexicon_taken": int(sum(taken)) if taken else None}
            results.append(row)
            print(json.dumps(row), flush=True)
            if args.predictions:
                args.predictions.mkdir(parents=True, exist_ok=True)
                write_predictions(args.predictions / f"{cname}.{sname}.tsv",
                                  [(w, t, g[0], g[1]) for w, t, g in zip(where, truths, got)])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
