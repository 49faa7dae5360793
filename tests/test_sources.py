"""The source registry (data/sources.py): one test per kind, every kind packable, evaluable and trainable alike, a
new kind added by one class and one registry entry, and pack stopping at a record it cannot use."""

import io

import lmdb
import pytest
from PIL import Image

from seqocr.charset import Charset
from seqocr.cli import main
from seqocr.data import build_dataset, iter_labelled
from seqocr.data import sources as sources_module
from seqocr.data.labels import SkipReport
from seqocr.data.lmdb_store import pack_lmdb
from seqocr.data.sources import SOURCES, Source, find_source, parse_synth, stored
from seqocr.errors import DataError
from seqocr.imaging.preprocess import ImageSpec
from seqocr.shares import Shares
from tests.helpers import SAMPLES, samples_from_labels, small_samples

SPEC = ImageSpec(16, 16, 4)


def texts_of(db) -> list[str]:
    env = lmdb.open(str(db), readonly=True, lock=False)
    with env.begin() as txn:
        n = int(txn.get(b"num-samples"))
        out = [txn.get(b"label-%09d" % i).decode() for i in range(1, n + 1)]
    env.close()
    return out


@pytest.fixture()
def kinds(tmp_path):
    """One source of each kind holding the same 6 labelled images (the generator aside)."""
    labels = SAMPLES / "labels.tsv"
    pack_lmdb(tmp_path / "db", samples_from_labels(labels), progress=False)
    rows = [line.split("\t") for line in labels.read_text(encoding="utf-8").splitlines()]
    from seqocr.data.tfrecord import write_fsns

    (tmp_path / "shards").mkdir()
    write_fsns(tmp_path / "shards" / "x-00000-of-00001", [((SAMPLES / n).read_bytes(), t) for n, t in rows],
               Charset.fsns())
    return {"labels": str(labels), "lmdb": str(tmp_path / "db"), "tfrecords": str(tmp_path / "shards")}, \
        [t for _, t in rows]


def test_each_kind_is_recognised_by_one_test_and_a_missing_path_by_none(kinds, tmp_path):
    names, _ = kinds
    assert {kind: find_source(name).kind for kind, name in names.items()} == {k: k for k in names}
    assert find_source("synth").kind == find_source("synth:n=3,split=test").kind == "synth"
    assert [s.kind for s in SOURCES] == ["synth", "lmdb", "tfrecords", "labels"]
    with pytest.raises(DataError, match=r"nowhere: no such labels file, LMDB folder or TFRecord folder"):
        find_source(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("kind", ["labels", "lmdb", "tfrecords"])
def test_every_kind_packs_evaluates_and_trains_from_the_same_samples(kinds, tmp_path, capsys, kind):
    names, texts = kinds
    out = tmp_path / f"packed-{kind}"
    assert main(["pack", "--data", names[kind], "--out", str(out), "--no-progress"]) == 0
    assert texts_of(out) == texts and f"{len(texts)} samples" in capsys.readouterr().out
    fsns = Charset.fsns()
    assert [t for _, t, _ in iter_labelled(names[kind], fsns, 37)] == texts
    ds = build_dataset(names[kind], fsns, SPEC, 37, stream={"epochs": 1, "shuffle": False})
    assert sorted(item[1] for item in ds) == sorted(texts)  # (image, text, where)


def test_pack_draws_the_generator_by_name(tmp_path, capsys):
    assert main(["pack", "--data", "synth:n=3,seed=4,split=test", "--out", str(tmp_path / "g"), "--no-progress"]) == 0
    by_flags = tmp_path / "f"
    assert main(["pack", "--synth", "3", "--seed", "4", "--split", "test", "--out", str(by_flags), "--no-progress"]) == 0
    assert texts_of(tmp_path / "g") == texts_of(by_flags) == [t for _, t, _ in iter_labelled("synth:n=3,seed=4", None,
                                                                                              37)]


def test_pack_stops_at_a_record_with_no_text_unless_told_to_skip(tmp_path, capsys):
    db = tmp_path / "db"
    pack_lmdb(db, [(small_samples(1)[0][0], "Rue", "a"), (small_samples(1)[0][0], "Quai", "b")], progress=False)
    env = lmdb.open(str(db), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"label-000000002", b"\xff\xfe")
    env.close()
    assert main(["pack", "--data", str(db), "--out", str(tmp_path / "again"), "--no-progress"]) == 1
    assert f"{db}:2: label not UTF-8 (--skip-bad skips such records)" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()
    assert main(["pack", "--data", str(db), "--out", str(tmp_path / "again"), "--no-progress", "--skip-bad"]) == 0
    assert texts_of(tmp_path / "again") == ["Rue"]
    assert f"{db}: skipped 1 of 2 samples (1 label not UTF-8)" in capsys.readouterr().out


def test_a_synth_name_overrides_the_callers_defaults_and_checks_its_options():
    defaults = sources_module.SynthDefaults(n=9, seed=2, split="train", shares=Shares(invented=0.4))
    o = parse_synth("synth:n=3,invented=0", defaults)
    assert (o.n, o.seed, o.split, o.shares) == (3, 2, "train", Shares())
    for bad, message in [("synth:n=0", "n must be positive"), ("synth:k=1", "expected synth:"),
                         ("synth:seed=x", "seed must be a number"), ("synth:split=val", "split must be train or test")]:
        with pytest.raises(DataError, match=message):
            parse_synth(bad, defaults)


class Folder(Source):
    """A toy kind: a folder of PNG files named after their text (``Rue_X.png`` reads ``Rue X``)."""

    kind = "folder"

    @classmethod
    def recognises(cls, name: str) -> bool:
        return name.startswith("pngs:")

    def raw(self, charset, report, skip_bad=True):
        from pathlib import Path

        for path in sorted(Path(self.name[5:]).glob("*.png")):
            report.total += 1
            yield path.read_bytes(), path.stem.replace("_", " "), str(path)

    def dataset(self, charset, spec, max_chars, *, augment=False, seed=0, max_skip_fraction=0.01, stream=None):
        return list(self.labelled(charset, max_chars, max_skip_fraction, print))


def test_a_new_kind_is_one_class_and_one_registry_entry(tmp_path, monkeypatch, capsys):
    for text in ("Rue A", "Quai B"):
        buf = io.BytesIO()
        Image.new("RGB", (60, 15), (9, 9, 9)).save(buf, "PNG")
        (tmp_path / f"{text.replace(' ', '_')}.png").write_bytes(buf.getvalue())
    monkeypatch.setattr(sources_module, "SOURCES", (Folder, *SOURCES))
    name = f"pngs:{tmp_path}"
    assert find_source(name).kind == "folder"
    assert [t for _, t, _ in iter_labelled(name, Charset.fsns(), 37)] == ["Quai B", "Rue A"]
    assert main(["pack", "--data", name, "--out", str(tmp_path / "db"), "--no-progress"]) == 0
    assert texts_of(tmp_path / "db") == ["Quai B", "Rue A"]
    assert len(build_dataset(name, Charset.fsns(), SPEC, 37)) == 2
    assert len(list(stored(find_source(name), Charset.fsns()))) == 2


def test_every_kind_counts_what_it_read(kinds):
    names, texts = kinds
    for name in names.values():
        report = SkipReport()
        assert len(list(find_source(name).raw(Charset.fsns(), report))) == len(texts) == report.total
    report = SkipReport()
    assert len(list(find_source("synth:n=2").raw(None, report))) == 2 == report.total
