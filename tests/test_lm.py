"""The character n-gram language model (seqocr.inference.lm, lm_build): Kneser-Ney on hand-worked strings, every
distribution summing to 1 with and without pruning, the file's round trip, and shallow fusion in the beam search
changing a reading only where the visual model is unsure."""

from __future__ import annotations

import numpy as np
import pytest

from seqocr.charset import EOS, GO, PAD, Charset
from seqocr.errors import DataError
from seqocr.inference.beam import beam_search
from seqocr.inference.lm import LanguagePrior, NgramLM
from seqocr.inference.lm_build import build

FSNS = Charset.fsns()
STREETS = ["Rue de la Gare", "Rue de la Poste", "Avenue de la Gare", "Rue du Moulin", "Rue Victor Hugo",
           "Place de la Gare", "Rue de la Mairie", "Impasse du Moulin"] * 4


def ids(text: str) -> list[int]:
    return FSNS.encode(text)


def test_kneser_ney_on_hand_worked_counts():
    """ab, ab, ac at order 2, nothing pruned. Order 1 counts how many tokens each follows: a 1 (GO), b 1, c 1,
    EOS 2 (b and c), discount 3 / (3 + 2) = 0.6, its mass 0.6 · 4 / 5 spread over the 134 tokens a text may hold.
    Order 2 after a: b twice, c once, discount n1 / (n1 + 2 n2) = 2 / (2 + 4) = 1/3 over the order's counts
    (GO a 3, a b 2, a c 1, b EOS 2, c EOS 1)."""
    lm = build(["ab", "ab", "ac"], FSNS, order=2, min_count=1)
    allowed = len(FSNS) - 2
    p1 = {t: max(c - 0.6, 0) / 5 + 0.6 * 4 / 5 / allowed for t, c in
          {ids("a")[0]: 1, ids("b")[0]: 1, ids("c")[0]: 1, EOS: 2}.items()}
    after_a = np.exp(lm.logprobs(np.array([ids("a")])))[0]
    assert after_a[ids("b")[0]] == pytest.approx((2 - 1 / 3) / 3 + (1 / 3) * 2 / 3 * p1[ids("b")[0]])
    assert after_a[ids("c")[0]] == pytest.approx((1 - 1 / 3) / 3 + (1 / 3) * 2 / 3 * p1[ids("c")[0]])
    assert after_a[EOS] == pytest.approx((1 / 3) * 2 / 3 * p1[EOS])
    unseen = np.exp(lm.logprobs(np.array([ids("z")])))[0]       # a context never seen: order 1 alone
    assert unseen[ids("a")[0]] == pytest.approx(p1[ids("a")[0]])
    assert unseen[ids("z")[0]] == pytest.approx(0.6 * 4 / 5 / allowed)
    start = np.exp(lm.logprobs(np.zeros((1, 0), dtype=np.int64))[0])  # the first token: after GO, always a
    assert start[ids("a")[0]] == pytest.approx((3 - 1 / 3) / 3 + (1 / 3) / 3 * p1[ids("a")[0]])
    assert start[PAD] == start[GO] == 0.0


@pytest.mark.parametrize("min_count", [1, 2, 3])
def test_every_distribution_sums_to_one_pruned_or_not(min_count):
    lm = build(STREETS + ["Rue Pasteur", "Allée des Lilas"], FSNS, order=5, min_count=min_count)
    history = np.array([ids(t)[-6:] for t in ("Rue de la ", "Rue du Mou", "Allée des", "Zzzzzz", "Rue Vic")
                        if len(ids(t)) >= 6] + [ids("Place")[:5] + [0]])
    p = np.exp(lm.logprobs(history))
    assert np.allclose(p.sum(1), 1.0)
    assert (p[:, [PAD, GO]] == 0).all() and (p[:, 3:] > 0).all()  # every character keeps some mass


def test_pruning_makes_a_smaller_model_that_still_knows_frequent_words():
    full, pruned = (build(STREETS + ["Rue Pasteur"], FSNS, order=6, min_count=m) for m in (1, 3))
    assert sum(len(o.tokens) for o in pruned.orders) < sum(len(o.tokens) for o in full.orders)
    assert pruned.score("Rue de la Gare") > pruned.score("Rue de la Sare") + 5


def test_the_model_prefers_the_street_names_it_learnt_by_their_letters():
    lm = build(STREETS, FSNS, order=6, min_count=1)
    assert lm.score("Rue de la Gare") > lm.score("Rue de la Care") + 5
    assert lm.score("Rue du Moulin") > lm.score("Rue de Moulin")
    assert lm.score("Rue de la Gare") > lm.score("Rue de la Gar")  # the end of a name is part of it


def test_a_saved_model_loads_with_the_same_scores_and_a_foreign_file_is_refused(tmp_path):
    lm = build(STREETS, FSNS, order=5, min_count=2, meta={"sources": {"test": "hand-made"}})
    path = lm.save(tmp_path / "lm.npz")
    again = NgramLM.load(path)
    history = np.array([ids("Rue de"), ids("Avenu")[:5] + [ids("e")[0]]])
    assert np.allclose(again.logprobs(history), lm.logprobs(history), atol=1e-3)  # alpha is stored in float16
    assert again.meta["sources"] == {"test": "hand-made"} and again.order == 5
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(DataError, match="bad.npz: not a seqocr language model"):
        NgramLM.load(tmp_path / "bad.npz")
    with pytest.raises(DataError, match="missing.npz: language model not found"):
        NgramLM.load(tmp_path / "missing.npz")


class TableDecoder:
    """A decoder whose next-token distribution depends only on the step: ``table[t]`` maps token -> probability
    (the rest share what is left), the same for every row."""

    def __init__(self, table: list[dict[int, float]], classes: int):
        self.table, self.classes, self.t = table, classes, 0

    def step(self, tokens, parents):
        row = np.full(self.classes, 1e-9)
        for token, p in self.table[min(self.t, len(self.table) - 1)].items():
            row[token] = p
        self.t += 1
        return np.log(np.tile(row / row.sum(), (len(tokens), 1)))


def decoder_for(options: list[list[tuple[str, float]]]) -> TableDecoder:
    """Per position, the characters the eye sees and how sure it is (a text of fixed letters, then EOS)."""
    table = [{ids(c)[0] if c else EOS: p for c, p in pos} for pos in options]
    return TableDecoder(table + [{EOS: 1.0}], len(FSNS))


def read(decoder, lm=None, weight=1.0, bonus=0.0, beam=8):
    prior = None if lm is None else LanguagePrior(lm, weight, bonus)
    got, _ = beam_search(decoder, 1, beam, 20, prior=prior)
    return FSNS.decode(got[0])


def test_fusion_changes_a_reading_only_where_the_eye_is_unsure():
    lm = build(STREETS, FSNS, order=6, min_count=1)
    sure = [[(c, 0.999)] for c in "Rue de la Zorbu"]             # an invented name, clearly painted
    assert read(decoder_for(sure), lm, weight=0.3, bonus=1.0) == "Rue de la Zorbu"
    torn = [[(c, 0.999)] for c in "Rue de la "] + [[("S", 0.55), ("G", 0.45)]] + [[(c, 0.999)] for c in "are"]
    assert read(decoder_for(torn)) == "Rue de la Sare"              # the eye alone
    assert read(decoder_for(torn), lm, weight=0.3, bonus=1.0) == "Rue de la Gare"


def test_seqocr_lm_builds_a_model_of_generated_street_names_that_knows_unseen_ones(tmp_path, capsys):
    """`seqocr lm` counts street names generated from the registry word lists into one file that a reader loads;
    on names of the generator's test split (proper nouns it never counted) it is far better than chance (log2 of
    the charset's size, about 7 bits), and it says how it was made."""
    from seqocr.cli import main

    out = tmp_path / "streets.lm.npz"
    assert main(["lm", "--out", str(out), "--names", "3000", "--order", "4", "--heldout", "100"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"{out}: order 4,") and "3,000 generated street names" in printed[0]
    bits = float(printed[1].split()[0])
    assert 1.0 < bits < 3.0 and printed[1].endswith("on 100 held-out street names")
    lm = NgramLM.load(out)
    assert lm.order == 4 and lm.meta["names"] == 3000 and lm.meta["words"]["word"] > 10_000
    assert lm.score("Rue de la Gare") > lm.score("Rue ed al Gaer")
    with pytest.raises(SystemExit) as stop:  # argparse's usage error: one line, exit 2
        main(["lm", "--out", str(tmp_path / "x.npz"), "--order", "0"])
    assert stop.value.code == 2 and "--order: must be >= 1, got 0" in capsys.readouterr().err
