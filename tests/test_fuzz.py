"""The fuzz targets (tests/fuzz/targets.py), briefly: every seed, every input a fuzzing run once crashed on
(tests/fuzz/regressions/), and a few deterministic mutations of them keep the contract: a result or one line of
our own error, within a time limit. ``make fuzz`` runs the same targets for longer, coverage-guided."""

import struct
import warnings

import pytest

from scripts.fuzz import REGRESSIONS, short_run
from tests.fuzz.targets import TARGETS, expect

# mutations per target: about a second in all on 2 busy cores (a database or a model costs more than an image)
MUTATIONS = {"lmdb": 4, "labels": 8, "checkpoint": 6, "safetensors": 6, "tfrecord": 12, "tf_example": 12}


@pytest.mark.parametrize("target", list(TARGETS))
def test_target_keeps_the_contract(target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's decompression-bomb and palette warnings
        failures = short_run(target, TARGETS[target], MUTATIONS.get(target, 30))
    assert not failures, failures[0]


def test_every_regression_input_names_its_target():
    assert {p.name for p in REGRESSIONS.iterdir()} <= set(TARGETS)


# -- what the fixed crashes now say ------------------------------------------------------------------------------
def error_of(fn, *args):
    with pytest.raises(Exception) as info:
        fn(*args)
    assert expect(fn, *args) is None  # raises if it is not one line of our own error
    return str(info.value)


def test_a_huge_declared_record_length_is_a_truncated_file_not_an_allocation(tmp_path):
    from seqocr.charset import Charset
    from seqocr.data.tfrecord import masked_crc, read_fsns

    length = struct.pack("<Q", 1 << 62)
    path = tmp_path / "shard"
    path.write_bytes(length + struct.pack("<I", masked_crc(length)) + b"\0" * 8)
    assert "truncated file" in error_of(lambda: list(read_fsns(path, Charset.fsns())))


def test_an_lmdb_num_samples_larger_than_its_keys_is_refused(tmp_path):
    import lmdb

    from seqocr.charset import Charset
    from seqocr.data.datasets import LmdbDataset
    from seqocr.imaging.preprocess import ImageSpec

    with lmdb.open(str(tmp_path / "db")) as env, env.begin(write=True) as txn:
        txn.put(b"num-samples", b"99999999999")
        txn.put(b"label-000000001", b"Rue")
    message = error_of(LmdbDataset, tmp_path / "db", Charset.fsns(), ImageSpec(), 37)
    assert "'num-samples' is 99999999999, but the database holds only 2 keys" in message


@pytest.mark.parametrize("text", ["Rue\x0bde la Paix", "Quai\x1c", "Place\x85", "Cours\u2028Julien"])
def test_labels_keep_characters_that_str_splitlines_would_cut_at(tmp_path, text):
    from seqocr.data.labels import label_rows, write_labels

    write_labels(tmp_path / "l.tsv", [("a.png", text), ("b.png", "Rue")])
    assert [(n, name, t) for n, name, t in label_rows(tmp_path / "l.tsv")] == [(1, "a.png", text), (2, "b.png", "Rue")]


def test_a_labels_file_with_a_bom_and_crlf_reads_clean(tmp_path):
    from seqocr.data.labels import label_rows

    (tmp_path / "l.tsv").write_bytes("\ufeffa.png\tRue\r\nb.png\tQuai\r\n".encode())
    assert label_rows(tmp_path / "l.tsv") == [(1, "a.png", "Rue"), (2, "b.png", "Quai")]


def test_a_labels_row_that_would_not_read_back_is_not_written(tmp_path):
    from seqocr.data.labels import write_labels
    from seqocr.errors import DataError

    with pytest.raises(DataError, match="line break"):
        write_labels(tmp_path / "l.tsv", [("a.png", "Rue\nde la Paix")])


@pytest.mark.parametrize("yaml_bytes, overrides, message", [
    (b"\xff", [], "not UTF-8"),
    (b"model: {hidden: 100000000000000000000}", [], "model.hidden is out of range"),
    (b"", ["train.lr=.nan"], "train.lr must be a finite number"),
    (b"model: {temperature: 1e400}", [], "model.temperature must be a finite number"),
])
def test_configs_with_bad_bytes_or_numbers_are_one_line_errors(tmp_path, yaml_bytes, overrides, message):
    from seqocr.config import load_config
    from seqocr.model import check_config

    (tmp_path / "c.yaml").write_bytes(yaml_bytes)  # read, then checked by the architecture, as every command does
    assert message in error_of(lambda *args: check_config(load_config(*args)), tmp_path / "c.yaml", overrides)


def test_a_non_numeric_content_length_is_a_400():
    from tests.fuzz.targets import _app, _loop, asgi_request

    status, body = _loop().run_until_complete(asgi_request(
        _app(), "POST", "/v1/read", [(b"content-type", b"application/json"), (b"content-length", b"x")], [b"{}"]))
    assert (status, body) == (400, b'{"error":"Content-Length is not a number"}')
