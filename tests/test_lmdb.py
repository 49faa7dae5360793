"""LMDB store: real databases, written by us and the way DTRB/PARSeq's create_lmdb_dataset.py writes them."""

import io
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch
from PIL import Image

from seqocr.data import lmdb_store
from seqocr.data.datasets import LmdbDataset
from seqocr.data.items import sample_rng
from seqocr.data.lmdb_store import pack_lmdb
from seqocr.data.synth import synth_sample
from seqocr.errors import DataError
from seqocr.imaging.preprocess import ImageSpec, eval_transform, load_image, train_transform
from tests.helpers import ROOT, samples_from_labels, samples_from_synth, write_synth_folder

SPEC = ImageSpec(16, 16, 4)


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def tiny_png(colour=(200, 30, 30)) -> bytes:
    return png(Image.new("RGB", (40, 10), colour))


def write_like_dtrb(root: Path, pairs: list[tuple[bytes, str]]) -> Path:
    """As deep-text-recognition-benchmark's create_lmdb_dataset.py writes (PARSeq ships the same tool): one env
    per folder, bytes keys 'image-%09d'/'label-%09d' from 1, label.encode(), 'num-samples' in the last commit."""
    root.mkdir(parents=True)
    env = lmdb.open(str(root), map_size=1 << 26)
    cache = {}
    for cnt, (image, label) in enumerate(pairs, 1):
        cache[b"image-%09d" % cnt] = image
        cache[b"label-%09d" % cnt] = label.encode()
    cache[b"num-samples"] = str(len(pairs)).encode()
    with env.begin(write=True) as txn:
        for k, v in cache.items():
            txn.put(k, v)
    env.close()
    return root


def read_like_parseq(root: Path) -> list[tuple[Image.Image, str]]:
    """PARSeq's strhub/data/dataset.py LmdbDataset, minus its label normalisation."""
    out = []
    with lmdb.open(str(root), max_readers=1, readonly=True, create=False, readahead=False, meminit=False,
                   lock=False) as env, env.begin() as txn:
        num_samples = int(txn.get(b"num-samples"))
        for index in range(num_samples):
            index += 1  # lmdb starts with 1
            label = txn.get(f"label-{index:09d}".encode()).decode()
            img = Image.open(io.BytesIO(txn.get(f"image-{index:09d}".encode()))).convert("RGB")
            out.append((img, label))
    return out


def all_items(root: Path) -> dict[bytes, bytes]:
    with lmdb.open(str(root), readonly=True, lock=False) as env, env.begin() as txn:
        return dict(txn.cursor())


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """6 generated signs as PNG files plus labels.tsv."""
    return write_synth_folder(tmp_path_factory.mktemp("signs"), 6)


@pytest.fixture(scope="module")
def packed(folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("db") / "train.lmdb"
    pack_lmdb(out, samples_from_labels(folder), progress=False)
    return out


# -- writing ---------------------------------------------------------------------------------------------------
def test_pack_from_a_labels_file_keeps_every_image_and_label_in_order(folder, packed):
    rows = [ln.split("\t") for ln in folder.read_text(encoding="utf-8").splitlines()]
    items = all_items(packed)
    assert items[b"num-samples"] == b"6"
    for i, (name, text) in enumerate(rows, 1):
        assert items[b"image-%09d" % i] == (folder.parent / name).read_bytes()  # the PNG file, unchanged
        assert items[b"label-%09d" % i] == text.encode("utf-8")
    assert len(items) == 1 + 2 * len(rows)  # no image-000000000, nothing else
    assert sorted(p.name for p in packed.parent.iterdir()) == ["train.lmdb"]  # no partial folder left


def test_a_db_packed_here_reads_with_parseqs_reader(packed):
    got = read_like_parseq(packed)
    for i, (img, label) in enumerate(got):
        want, text = synth_sample(0, i, "train")
        assert label == text and np.array_equal(np.asarray(img), np.asarray(want.convert("RGB")))
    assert len(got) == 6


def test_synth_source_packs_png_and_the_map_grows_past_its_initial_size(tmp_path):
    summary = pack_lmdb(tmp_path / "s", samples_from_synth(4, seed=3, split="test"), progress=False,
                        map_size=64 << 10)
    assert summary.written == 4 and summary.image_bytes > 64 << 10
    items = all_items(tmp_path / "s")
    for i in range(4):
        img, text = synth_sample(3, i, "test")
        assert items[b"label-%09d" % (i + 1)].decode() == text
        assert np.array_equal(np.asarray(load_image(items[b"image-%09d" % (i + 1)])), np.asarray(img))


def test_pack_refuses_an_existing_out(tmp_path):
    (tmp_path / "db").mkdir()
    with pytest.raises(DataError, match="exists; choose another --out"):
        pack_lmdb(tmp_path / "db", [(tiny_png(), "Rue", "x")], progress=False)


BAD = {
    "unreadable image": (tiny_png()[:40], "Rue"),
    "missing or empty image": (b"", "Rue"),
    "empty label": (tiny_png(), " "),
    "character not in charset": (tiny_png(), "Rue ☃"),
    "label longer than 10 characters": (tiny_png(), "Boulevard Victor Hugo"),
}


@pytest.mark.parametrize("reason", BAD)
def test_a_bad_sample_is_an_error_naming_it(tmp_path, fsns, reason):
    samples = [(tiny_png(), "Rue", "a:1"), (*BAD[reason], "a:2")]
    with pytest.raises(DataError, match="^a:2"):
        pack_lmdb(tmp_path / "db", samples, progress=False, charset=fsns, max_chars=10)
    assert list(tmp_path.iterdir()) == []  # neither out nor the partial folder


def test_skip_bad_leaves_bad_samples_out_and_counts_them(tmp_path, fsns):
    good = [(tiny_png((i, 0, 0)), f"Rue {i}", f"good:{i}") for i in range(3)]
    samples = [good[0], *[(*v, f"bad:{r}") for r, v in BAD.items()], good[1], good[2]]
    summary = pack_lmdb(tmp_path / "db", samples, progress=False, skip_bad=True, charset=fsns, max_chars=10)
    assert summary.written == 3 and summary.report.total == 8
    assert summary.report.reasons == {r: 1 for r in BAD}
    items = all_items(tmp_path / "db")
    assert items[b"num-samples"] == b"3" and len(items) == 7
    assert [items[b"label-%09d" % i] for i in (1, 2, 3)] == [b"Rue 0", b"Rue 1", b"Rue 2"]
    assert items[b"image-000000003"] == good[2][0]


def test_a_missing_image_file_in_a_labels_file_is_named(tmp_path):
    labels = write_synth_folder(tmp_path / "f", 2)
    (tmp_path / "f" / "img" / "1.png").unlink()
    with pytest.raises(DataError, match=r"labels.tsv:2 \(.*1.png\): image file missing or empty"):
        pack_lmdb(tmp_path / "db", samples_from_labels(labels), progress=False)
    (tmp_path / "bad.tsv").write_text("img/0.png Rue\n", encoding="utf-8")
    with pytest.raises(DataError, match="bad.tsv:1: expected path<TAB>text"):
        samples_from_labels(tmp_path / "bad.tsv")


def test_a_killed_pack_leaves_no_out_and_a_rerun_succeeds(tmp_path):
    """A pack killed (SIGKILL) after its first commit of CHUNK_SAMPLES samples: the samples are in the partial
    folder, with no num-samples, and nothing at ``out``; a rerun clears it and succeeds. The child says when its
    first chunk is committed (it is asked for the next sample) and then waits: no clock involved."""
    out = tmp_path / "db"
    partial = tmp_path / ".db.partial"
    child = ("import io, itertools, sys\nfrom PIL import Image\nfrom seqocr.data.lmdb_store import CHUNK_SAMPLES, "
             "pack_lmdb\nb = io.BytesIO(); Image.new('RGB', (40, 10)).save(b, 'PNG')\n"
             "def forever():\n    for i in itertools.count():\n        if i == CHUNK_SAMPLES:\n"
             "            print('committed', flush=True); sys.stdin.read()  # the first chunk is in: wait\n"
             "        yield b.getvalue(), 'Rue', str(i)\n"
             f"pack_lmdb({str(out)!r}, forever(), progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "committed\n", "the packing process ended before its first commit"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert not out.exists()
    with lmdb.open(str(partial), readonly=True, lock=False) as env, env.begin() as txn:
        assert txn.get(b"num-samples") is None and txn.stat()["entries"] == 2 * lmdb_store.CHUNK_SAMPLES
    summary = pack_lmdb(out, [(tiny_png(), "Rue", "x")], progress=False)
    assert summary.written == 1 and all_items(out)[b"num-samples"] == b"1" and not partial.exists()


@pytest.mark.skipif(not hasattr(lmdb.Environment, "lib_version"), reason="py-lmdb < 3 has only LMDB 0.9")
def test_pack_writes_lmdb_0_9s_format_even_where_py_lmdb_defaults_to_1_0(tmp_path):
    """py-lmdb >= 3 can write LMDB 1.0's format, which the py-lmdb 1.x of DTRB/PARSeq setups cannot open."""
    sample = ROOT / "src" / "seqocr" / "resources" / "samples" / "sign-0000000.png"
    code = f"from pathlib import Path; from seqocr.data.lmdb_store import pack_lmdb; pack_lmdb({str(tmp_path / 'db')!r}, " \
           f"[(Path({str(sample)!r}).read_bytes(), 'Rue', 'x')], progress=False)"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "LMDB_DEFAULT_LIB_VERSION": "1"})
    with lmdb.open(str(tmp_path / "db"), readonly=True, lock=False) as env:
        assert env.lib_version()[0] == 0


# -- reading ---------------------------------------------------------------------------------------------------
def test_a_db_written_as_dtrb_writes_it_reads_here(tmp_path, fsns):
    signs = [synth_sample(5, i, "train") for i in range(3)]
    pairs = [(png(signs[0][0]), signs[0][1]), (jpeg(signs[1][0]), signs[1][1]), (png(signs[2][0]), signs[2][1])]
    root = write_like_dtrb(tmp_path / "dtrb", pairs)
    ds = LmdbDataset(root, fsns, SPEC, max_chars=37)
    assert len(ds) == 3 and ds.report.skipped == 0 and ds.index.dtype == np.int32
    for i, (image, text) in enumerate(pairs):
        x, got, where = ds[i]
        assert got == text and where == f"{root}:{i + 1}"
        assert x.dtype == np.float32 and np.array_equal(x, eval_transform(load_image(image), SPEC))


def test_bad_labels_are_left_out_and_counted_and_too_many_stop(tmp_path, fsns):
    pairs = [(tiny_png(), "Rue"), (tiny_png(), ""), (tiny_png(), "Rue ☃"), (tiny_png(), "Place"),
             (tiny_png(), "x" * 40)]
    root = write_like_dtrb(tmp_path / "db", pairs)
    ds = LmdbDataset(root, fsns, SPEC, max_chars=37, max_skip_fraction=0.6)
    assert ds.index.tolist() == [1, 4] and [ds[k][1] for k in range(2)] == ["Rue", "Place"]
    assert ds.report.total == 5 and ds.report.reasons == {
        "empty label": 1, "character not in charset": 1, "label longer than 37 characters": 1}
    with pytest.raises(DataError, match=r"db: skipped 3 of 5 samples .* above the limit"):
        LmdbDataset(root, fsns, SPEC, max_chars=37)


def test_an_undecodable_image_is_an_item_naming_it(tmp_path, fsns):
    root = write_like_dtrb(tmp_path / "db", [(tiny_png(), "Rue"), (b"not an image", "Place")])
    ds = LmdbDataset(root, fsns, SPEC, max_chars=37)
    x, why, where = ds[1]
    assert x is None and where == f"{root}:2" and why.startswith(f"{root}:2: unreadable")


def test_a_db_without_num_samples_is_an_error_naming_it(tmp_path, fsns):
    root = tmp_path / "db"
    with lmdb.open(str(root), map_size=1 << 20) as env, env.begin(write=True) as txn:
        txn.put(b"image-000000001", tiny_png())
        txn.put(b"label-000000001", b"Rue")
    with pytest.raises(DataError, match=f"^{root}: .*'num-samples'"):
        LmdbDataset(root, fsns, SPEC, max_chars=37)


@pytest.mark.parametrize("claimed", [3, 2, 4])
def test_num_samples_is_trusted_up_to_the_samples_stored_and_refused_one_past(tmp_path, fsns, claimed):
    """The count guard at its edge: 3 samples stored (7 keys). A num-samples of 3 (exactly what is there) or 2
    reads that many; 4, one past, would index a sample that is not there: refused, naming the keys."""
    root = write_like_dtrb(tmp_path / "db", [(tiny_png((i, 0, 0)), f"Rue {i}") for i in range(3)])
    with lmdb.open(str(root), map_size=1 << 26) as env, env.begin(write=True) as txn:
        txn.put(b"num-samples", str(claimed).encode())
    stored = lambda: [t for _, t, _ in lmdb_store.stored_lmdb(root, lmdb_store.SkipReport())]  # eval --onnx, pack
    try:
        if claimed > 3:
            message = f"^{root}: 'num-samples' is 4, but the database holds only 7 keys \\(2 per sample\\)$"
            with pytest.raises(DataError, match=message):
                stored()
            with pytest.raises(DataError, match=message):
                LmdbDataset(root, fsns, SPEC, max_chars=37)
            return
        assert stored() == [f"Rue {i}" for i in range(claimed)]
        ds = LmdbDataset(root, fsns, SPEC, max_chars=37)
        assert [ds[k][1] for k in range(len(ds))] == [f"Rue {i}" for i in range(claimed)]
    finally:
        lmdb_store.close_env(root)


def test_something_other_than_an_lmdb_is_an_error(tmp_path, fsns):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "data.mdb").write_bytes(b"\0junk" * 2000)
    (tmp_path / "labels.tsv").write_text("a.png\tRue\n", encoding="utf-8")
    for name, message in [("empty", "not an LMDB"), ("junk", "not an LMDB"), ("labels.tsv", "not an LMDB"),
                          ("nowhere", "no such LMDB folder")]:
        with pytest.raises(DataError, match=f"^{tmp_path / name}: {message}"):
            LmdbDataset(tmp_path / name, fsns, SPEC, max_chars=37)


def test_workers_open_their_own_env_and_read_what_one_process_reads(packed, fsns):
    ds = LmdbDataset(packed, fsns, SPEC, max_chars=37, augment=True, seed=7)
    assert not lmdb_store.opened_here(packed.resolve())  # construction leaves nothing open
    keys = [(i, 100 + i) for i in range(len(ds))]
    try:
        single = [ds[k] for k in keys]  # opens the env here, before the workers fork
        assert lmdb_store.opened_here(packed.resolve())
        img, _ = synth_sample(0, 2, "train")
        assert np.array_equal(single[2][0], train_transform(img, SPEC, sample_rng(7, 102)))
        loader = torch.utils.data.DataLoader(ds, batch_size=None, sampler=keys, num_workers=2)
        for (x, text, where), (x1, text1, where1) in zip(loader, single, strict=True):
            assert torch.equal(x, torch.from_numpy(x1)) and (text, where) == (text1, where1)
        copy = pickle.loads(pickle.dumps(ds))  # what a spawned worker gets
        other = LmdbDataset(packed, fsns, SPEC, max_chars=37)  # a second dataset on the open DB
        assert copy[keys[1]][1] == other[1][1] == single[1][1]
        # validation on the training set: its stored samples read through the env this process holds, left open
        assert [t for _, t, _ in lmdb_store.stored_lmdb(packed, lmdb_store.SkipReport())] == [s[1] for s in single]
        assert lmdb_store.opened_here(packed.resolve()) and ds[keys[0]][1] == single[0][1]
    finally:
        lmdb_store.close_env(packed)


def raw_db(root: Path, items: dict[bytes, bytes]) -> Path:
    """A database holding exactly ``items`` (keys as stored)."""
    with lmdb.open(str(root), map_size=1 << 22) as env, env.begin(write=True) as txn:
        for k, v in items.items():
            txn.put(k, v)
    return root


def test_a_stored_label_missing_or_not_utf8_is_skipped_by_reason_naming_it_and_the_rest_read(tmp_path):
    root = raw_db(tmp_path / "db", {b"num-samples": b"3", b"image-000000001": b"one", b"label-000000001": b"Rue",
                                    b"image-000000002": b"two", b"image-000000003": b"", b"label-000000003": b"\xff",
                                    b"label-000000002x": b"padding so that the count guard passes"})
    report = lmdb_store.SkipReport(total=2)
    try:
        got = list(lmdb_store.stored_lmdb(root, report))
    finally:
        lmdb_store.close_env(root)
    assert got == [(b"one", "Rue", f"{root}:1")]
    assert report.total == 5 and report.reasons == {"missing label": 1, "label not UTF-8": 1}
    assert report.examples == [f"{root}:2: missing label", f"{root}:3: label not UTF-8"]


def test_a_stored_image_missing_is_read_as_no_bytes(tmp_path):
    root = raw_db(tmp_path / "db", {b"num-samples": b"1", b"label-000000001": b"Rue", b"x": b"", b"y": b""})
    assert list(lmdb_store.stored_lmdb(root, lmdb_store.SkipReport())) == [(b"", "Rue", f"{root}:1")]


@pytest.mark.parametrize("raw, message", [(b"", "'num-samples' is b'', not a decimal count"),
                                          (b"\xff" * 40, "'num-samples' is b'" + "\\\\xff" * 32 + "', not a decimal"),
                                          (b"0", r"no samples \('num-samples' is 0\)$"),
                                          (b"-1", r"no samples \('num-samples' is -1\)$")])
def test_a_num_samples_that_is_not_a_positive_count_is_one_line_naming_it(tmp_path, raw, message):
    root = raw_db(tmp_path / "db", {b"num-samples": raw, b"image-000000001": b"x", b"label-000000001": b"Rue"})
    with pytest.raises(DataError, match=f"^{root}: {message}"):
        list(lmdb_store.stored_lmdb(root, lmdb_store.SkipReport()))


def test_one_sample_is_a_database(tmp_path):
    root = raw_db(tmp_path / "db", {b"num-samples": b"1", b"image-000000001": b"x", b"label-000000001": b"Rue"})
    assert [t for _, t, _ in lmdb_store.stored_lmdb(root, lmdb_store.SkipReport())] == ["Rue"]


def test_the_missing_num_samples_message_says_the_layout(tmp_path):
    root = raw_db(tmp_path / "db", {b"image-000000001": b"x"})
    with pytest.raises(DataError) as e:
        list(lmdb_store.stored_lmdb(root, lmdb_store.SkipReport()))
    assert str(e.value).endswith("(expected keys num-samples, image-%09d, label-%09d)")


def test_a_folder_without_data_mdb_or_with_a_damaged_one_is_one_line(tmp_path):
    (tmp_path / "lock-only").mkdir()
    (tmp_path / "lock-only" / "lock.mdb").write_bytes(b"")
    with pytest.raises(DataError, match=r"lock-only: not an LMDB database \(expected a folder holding data.mdb\)$"):
        lmdb_store.open_lmdb(tmp_path / "lock-only")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "data.mdb").write_bytes(b"\0junk" * 2000)
    with pytest.raises(DataError) as e:
        lmdb_store.open_lmdb(tmp_path / "junk")
    # LMDB's own reason, without the path it repeats
    assert str(e.value) == f"{tmp_path / 'junk'}: not an LMDB database (MDB_INVALID: File is not an LMDB file)"


def test_pack_shows_its_progress_with_the_total_and_counts_the_image_bytes(tmp_path, capsys):
    samples = [(tiny_png((i, 0, 0)), "Rue", f"s{i}") for i in range(3)]
    summary = pack_lmdb(tmp_path / "db", samples)
    bar = capsys.readouterr().err
    assert "pack" in bar and "3/3" in bar and "img" in bar
    assert summary.image_bytes == sum(len(s[0]) for s in samples) and summary.written == 3
    pack_lmdb(tmp_path / "quiet", iter(samples), progress=False)
    assert capsys.readouterr().err == ""


def counted_commits(monkeypatch) -> list[int]:
    """The number of keys of each transaction pack commits, from now on."""
    commits = []
    put = lmdb_store._put_chunk
    monkeypatch.setattr(lmdb_store, "_put_chunk", lambda env, items: (commits.append(len(items)), put(env, items)))
    return commits


def test_pack_commits_every_chunk_and_each_sample_alone_past_the_byte_budget(tmp_path, monkeypatch):
    commits = counted_commits(monkeypatch)
    samples = [(tiny_png((i, 0, 0)), "Rue", f"s{i}") for i in range(5)]
    monkeypatch.setattr(lmdb_store, "CHUNK_SAMPLES", 2)   # 2 samples (4 keys) a commit
    pack_lmdb(tmp_path / "a", samples, progress=False)
    assert commits == [4, 4, 2, 1]                          # ... the rest, then num-samples alone, last
    commits.clear()
    monkeypatch.setattr(lmdb_store, "CHUNK_SAMPLES", 1000)
    monkeypatch.setattr(lmdb_store, "CHUNK_BYTES", len(samples[0][0]))   # one image's bytes reach the budget
    pack_lmdb(tmp_path / "b", samples, progress=False)
    assert commits == [2, 2, 2, 2, 2, 1]                    # no empty commit before num-samples


def test_pack_with_no_sample_left_and_a_partial_folder_holding_other_files_are_one_line(tmp_path, fsns):
    with pytest.raises(DataError, match=r"empty: no samples to write \(skipped 1 of 1 samples \(1 empty label\)\)$"):
        pack_lmdb(tmp_path / "empty", [(tiny_png(), "", "s0")], skip_bad=True, charset=fsns, max_chars=37,
                  progress=False)
    partial = tmp_path / ".db.partial"
    partial.mkdir()
    (partial / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=r"\.db\.partial: holds files other than an unfinished LMDB "
                                        r"\(\['notes.txt'\]\); remove it or choose another --out$"):
        pack_lmdb(tmp_path / "db", [(tiny_png(), "Rue", "s0")], progress=False)
    assert (partial / "notes.txt").read_text() == "mine"
    (tmp_path / ".file.partial").write_text("a file")
    with pytest.raises(DataError, match=r"\(\['\?'\]\)"):
        pack_lmdb(tmp_path / "file", [(tiny_png(), "Rue", "s0")], progress=False)
    nested = tmp_path / "new" / "deeper" / "db"  # the partial folder's parents are made as the output's would be
    (tmp_path / "new" / "deeper").mkdir(parents=True)
    assert pack_lmdb(nested, [(tiny_png(), "Rue", "s0")], progress=False).written == 1


def test_a_process_shares_one_env_per_database_and_a_forked_child_opens_its_own(tmp_path):
    a = pack_lmdb(tmp_path / "a", [(tiny_png(), "Rue", "s0")], progress=False).out
    b = pack_lmdb(tmp_path / "b", [(tiny_png(), "Place", "s0")], progress=False).out
    try:
        env = lmdb_store.shared_env(a)
        assert lmdb_store.shared_env(a) is env and lmdb_store.shared_env(b) is not env
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # the child: the env it inherited is not its own; it never returns into pytest
            try:
                os.write(write, b"own" if lmdb_store.shared_env(a) is not env else b"inherited")
            finally:
                os._exit(0)
        deadline = time.monotonic() + 60
        while os.waitpid(child, os.WNOHANG) == (0, 0):  # a child that hangs fails the test, not the run
            if time.monotonic() > deadline:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                pytest.fail("the forked child hung")
            time.sleep(0.02)
        os.close(write)
        assert os.read(read, 16) == b"own"
        os.close(read)
        lmdb_store.close_env(a)
        with pytest.raises(lmdb.Error):  # closed, and the next read opens another
            env.stat()
        assert lmdb_store.shared_env(a) is not env
    finally:
        lmdb_store.close_env(a)
        lmdb_store.close_env(b)


def test_a_dataset_counts_labels_missing_or_not_utf8_by_reason(tmp_path, fsns):
    root = raw_db(tmp_path / "db", {b"num-samples": b"3", b"image-000000001": tiny_png(), b"label-000000001": b"Rue",
                                    b"image-000000002": tiny_png(), b"image-000000003": tiny_png(),
                                    b"label-000000003": b"\xff", b"pad": b""})
    ds = LmdbDataset(root, fsns, SPEC, max_chars=37, max_skip_fraction=0.9)
    try:
        assert ds.index.tolist() == [1] and ds.report.reasons == {"missing label": 1, "label not UTF-8": 1}
    finally:
        lmdb_store.close_env(root)


def test_lmdbs_own_reason_is_kept_whole_when_the_path_has_spaces(tmp_path):
    junk = tmp_path / "my junk db"
    junk.mkdir()
    (junk / "data.mdb").write_bytes(b"\0junk" * 2000)
    with pytest.raises(DataError) as e:
        lmdb_store.open_lmdb(junk)
    assert str(e.value) == f"{junk}: not an LMDB database (MDB_INVALID: File is not an LMDB file)"


def test_pack_makes_the_folders_its_output_needs_honours_a_given_total_and_commits_by_bytes_across_samples(
        tmp_path, monkeypatch, capsys):
    samples = [(tiny_png((i, 0, 0)), "Rue", f"s{i}") for i in range(4)]
    assert pack_lmdb(tmp_path / "new" / "deeper" / "db", samples, progress=False).written == 4  # folders made
    pack_lmdb(tmp_path / "counted", iter(samples), total=4)  # a generator of known length: the bar knows its end
    assert "4/4" in capsys.readouterr().err
    commits = counted_commits(monkeypatch)
    monkeypatch.setattr(lmdb_store, "CHUNK_BYTES", 2 * len(samples[0][0]))  # two images' bytes reach the budget
    pack_lmdb(tmp_path / "bytes", samples, progress=False)
    assert commits == [4, 4, 1]
