"""TFRecord framing with both CRC32C checks, and FSNS's tf.train.Example schema, on files the tests write."""

import re
import struct

import pytest

from seqocr.data.tfrecord import (
    FsnsReport,
    encode_example,
    frame,
    iter_records,
    parse_fsns,
    read_fsns,
    shard_paths,
    write_fsns,
    write_records,
)
from seqocr.errors import DataError
from tests.helpers import flip_byte, record_offsets, small_png, small_samples, synth_samples, truncate

PAYLOADS = [bytes([i]) * (30 + i) for i in range(6)]


def good_features(png: bytes, text: str = "Rue", ids=(49, 11, 5)) -> dict:
    ids = list(ids)
    return {"image/encoded": [png], "image/format": [b"PNG"], "image/width": [16], "image/orig_width": [16],
            "image/class": ids + [133] * (37 - len(ids)), "image/unpadded_class": ids,
            "image/text": [text.encode()]}


@pytest.mark.parametrize("orig_width", [None, 450])
def test_every_fsns_key_round_trips(tmp_path, fsns, orig_width):
    samples = synth_samples(2) + [(small_png(1), "Rue d'Orbey"), (small_png(2), "")]
    path = tmp_path / "train-00000-of-00001"
    assert write_fsns(path, samples, fsns, orig_width=orig_width) == 4
    report = FsnsReport()
    recs = list(read_fsns(path, fsns, report=report))
    assert [(r.encoded, r.text) for r in recs] == samples
    for i, (r, (_, text)) in enumerate(zip(recs, samples)):
        ids = [fsns.source_ids[t - fsns.offset] for t in fsns.encode(text)]
        assert r.unpadded_classes == ids and r.classes == ids + [133] * (37 - len(ids))
        assert r.format == "PNG" and r.where == f"{path}:record {i}"
    assert [(r.width, r.height, r.orig_width) for r in recs] == [
        (600, 150, orig_width or 600)] * 2 + [(16, 4, orig_width or 16)] * 2
    assert recs[2].unpadded_classes[5] == 2                      # ' is FSNS id 2 ...
    assert report.mismatches == 0 and report.skipped == 0 and report.total == 4  # ... which reads back as ‘


def test_height_is_optional(tmp_path, fsns):
    write_records(tmp_path / "f", [encode_example(good_features(small_png(0)))])
    (rec,) = read_fsns(tmp_path / "f", fsns)
    assert rec.height is None and rec.text == "Rue" and rec.width == 16


def test_framing_and_checksums_match_an_independent_implementation(tmp_path):
    """TensorBoard's pure-Python TFRecord writer/reader (its own CRC32C) against ours, both ways."""
    pytest.importorskip("tensorboard")
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New
    from tensorboard.summary.writer.record_writer import RecordWriter

    with open(tmp_path / "theirs", "wb") as f:
        writer = RecordWriter(f)
        for p in PAYLOADS + [b""]:
            writer.write(p)
    assert [p for _, p in iter_records(tmp_path / "theirs")] == PAYLOADS + [b""]
    write_records(tmp_path / "ours", PAYLOADS + [b""])
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "theirs").read_bytes()
    reader, read = PyRecordReader_New(str(tmp_path / "ours")), []
    for _ in range(len(PAYLOADS) + 1):
        reader.GetNext()
        read.append(reader.record())
    assert read == PAYLOADS + [b""]


def test_fsns_examples_decode_with_an_independent_example_decoder(tmp_path, fsns):
    """Our tf.train.Example encoding of FSNS records read by the `tfrecord` package (its own protobuf classes and
    framing, no TensorFlow), every key and value as FSNS has them (issue 24)."""
    from tfrecord.reader import tfrecord_loader

    samples = synth_samples(3)
    write_fsns(tmp_path / "x.tfrecord", samples, fsns, orig_width=450)
    description = {"image/encoded": "byte", "image/format": "byte", "image/width": "int", "image/orig_width": "int",
                   "image/height": "int", "image/class": "int", "image/unpadded_class": "int", "image/text": "byte"}
    read = list(tfrecord_loader(str(tmp_path / "x.tfrecord"), None, description))
    assert len(read) == 3
    for example, (png, text) in zip(read, samples):
        ids = [fsns.source_ids[t - fsns.offset] for t in fsns.encode(text)]
        assert bytes(example["image/encoded"]) == png and bytes(example["image/format"]) == b"PNG"
        assert bytes(example["image/text"]).decode("utf-8") == text
        assert list(example["image/width"]) == [600] and list(example["image/height"]) == [150]
        assert list(example["image/orig_width"]) == [450]
        assert list(example["image/unpadded_class"]) == ids
        assert list(example["image/class"]) == ids + [fsns.source_null] * (37 - len(ids))


def test_crc32c_is_the_castagnoli_polynomial():
    length = struct.pack("<Q", 9)
    crc = 0xE3069283  # CRC-32C check value of b"123456789"
    masked = ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert frame(b"123456789")[-4:] == struct.pack("<I", masked)
    assert frame(b"123456789")[:8] == length


# byte position inside record 3 -> the error it causes
CORRUPTIONS = {"length": (0, "length checksum mismatch"), "length crc": (9, "length checksum mismatch"),
               "payload": (20, "payload checksum mismatch"), "payload crc": (12 + 33 + 2, "payload checksum mismatch")}


@pytest.mark.parametrize("part", CORRUPTIONS)
def test_a_flipped_byte_names_file_record_and_offset(tmp_path, part):
    path = tmp_path / "f"
    write_records(path, PAYLOADS)
    start = record_offsets(path)[3]
    pos, reason = CORRUPTIONS[part]
    flip_byte(path, start + pos)
    with pytest.raises(DataError, match=rf"{path}:record 3 \(byte {start}\): {reason}"):
        list(iter_records(path))


@pytest.mark.parametrize("part", CORRUPTIONS)
def test_skip_bad_skips_a_bad_payload_and_ends_the_file_on_bad_framing(tmp_path, part):
    path = tmp_path / "f"
    write_records(path, PAYLOADS)
    pos, reason = CORRUPTIONS[part]
    flip_byte(path, record_offsets(path)[3] + pos)
    report = FsnsReport()
    got = [i for i, _ in iter_records(path, skip_bad=True, report=report)]
    framing_intact = reason.startswith("payload")
    assert got == ([0, 1, 2, 4, 5] if framing_intact else [0, 1, 2])
    assert report.reasons == {reason: 1} and report.total == (6 if framing_intact else 4)
    assert "record 3" in report.examples[0]


@pytest.mark.parametrize("cut", [5, 12 + 10, 12 + 33 + 1])  # in the header, the payload, the footer
def test_a_file_cut_mid_record_is_caught(tmp_path, cut):
    path = tmp_path / "f"
    write_records(path, PAYLOADS)
    start = record_offsets(path)[3]
    truncate(path, start + cut)
    with pytest.raises(DataError, match=rf"{path}:record 3 \(byte {start}\): truncated file"):
        list(iter_records(path))
    report = FsnsReport()
    assert [i for i, _ in iter_records(path, skip_bad=True, report=report)] == [0, 1, 2]
    assert report.reasons == {"truncated file": 1} and "rest of the file skipped" in report.examples[0]


def test_read_fsns_skip_bad_counts_by_reason_and_continues(tmp_path, fsns):
    payloads = [encode_example(good_features(small_png(i))) for i in range(5)]
    no_text = good_features(small_png(9))
    del no_text["image/text"]
    payloads[1] = encode_example(no_text)
    payloads[3] = b"\xff\xff not a protobuf"
    path = tmp_path / "f"
    write_records(path, payloads + [payloads[0]])
    flip_byte(path, record_offsets(path)[4] + 30)
    report = FsnsReport()
    assert [r.where for r in read_fsns(path, fsns, skip_bad=True, report=report)] == [
        f"{path}:record {i}" for i in (0, 2, 5)]
    assert report.reasons == {"missing image/text": 1, "not a tf.train.Example": 1, "payload checksum mismatch": 1}
    assert report.total == 6 and "skipped 3" in report.summary()
    with pytest.raises(DataError, match=rf"{path}:record 1: missing key image/text"):
        list(read_fsns(path, fsns))


@pytest.mark.parametrize("key", ["image/text", "image/encoded", "image/unpadded_class", "image/orig_width"])
def test_a_missing_required_key_is_named(tmp_path, fsns, key):
    features = good_features(small_png(0))
    del features[key]
    write_records(tmp_path / "f", [encode_example(features)])
    with pytest.raises(DataError, match=f"record 0: missing key {key}"):
        list(read_fsns(tmp_path / "f", fsns))


@pytest.mark.parametrize("key, value, found", [
    ("image/width", [b"600"], "1 integer(s), found 1 byte string(s)"), ("image/class", [1, 2], "37 integer(s), found 2"),
    ("image/text", [b"a", b"b"], "1 byte string(s), found 2"), ("image/height", [1.5], "found 1 float(s)"),
    ("image/encoded", [], "found none")])
def test_a_key_of_the_wrong_kind_or_length_is_named(key, value, found):
    features = good_features(small_png(0))
    features[key] = value
    with pytest.raises(DataError, match=rf"where: {key} should hold .*{re.escape(found)}"):
        parse_fsns(encode_example(features), "where")


def test_text_that_is_not_utf8_is_named():
    with pytest.raises(DataError, match="where: image/text is not UTF-8"):
        parse_fsns(encode_example({**good_features(small_png(0)), "image/text": [b"Rue \xe9"]}), "where")


def test_class_text_disagreements_are_reported_and_kept(tmp_path, fsns):
    payloads = [encode_example(good_features(small_png(0), "Rue", (49, 11, 5))),
                encode_example(good_features(small_png(1), "Rue", (49, 11, 4))),            # t, not e
                encode_example(good_features(small_png(2), "Rue d'Orbey", ids=[49, 11, 5, 0, 23, 2, 60, 21, 27, 5, 33])),
                encode_example(good_features(small_png(3), "Rue\u00a0X", (49, 11, 5))),       # no-break space
                encode_example({**good_features(small_png(4)), "image/class": [49, 11, 5] + [0] * 34})]
    write_records(tmp_path / "f", payloads)
    report = FsnsReport()
    assert len(list(read_fsns(tmp_path / "f", fsns, report=report))) == 5
    assert report.mismatches == 3 and report.skipped == 0
    assert "record 1: image/class reads 'Rut', image/text 'Rue'" in report.mismatch_examples[0]
    assert "record 3" in report.mismatch_examples[1] and "U+00A0" in report.mismatch_examples[1]
    assert "record 4: image/class is not image/unpadded_class padded with 133" in report.mismatch_examples[2]
    assert "3 kept whose image/class disagrees" in report.summary()


def test_write_fsns_refuses_what_fsns_cannot_hold(tmp_path, fsns):
    with pytest.raises(DataError, match="sample 1: label .* longer than FSNS's 37"):
        write_fsns(tmp_path / "f", [(small_png(0), "Rue"), (small_png(1), "x" * 38)], fsns)
    with pytest.raises(DataError, match="sample 0: character '☃'"):
        write_fsns(tmp_path / "f", [(small_png(0), "Rue ☃")], fsns)
    with pytest.raises(DataError, match="sample 0: not a PNG"):
        write_fsns(tmp_path / "f", [(b"GIF89a" + b"0" * 30, "Rue")], fsns)
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


@pytest.mark.parametrize("nested", [True, False])
def test_shard_paths_both_layouts_in_name_order(tmp_path, nested):
    root = tmp_path / "fsns"
    folder = root / "train" if nested else root
    folder.mkdir(parents=True)
    names = [f"train-{k:05d}-of-00512" for k in (3, 0, 11, 1)]
    for name in names + ["validation-00000-of-00064", ".train-00099-of-00512.tmp"]:
        (folder / name).write_bytes(b"")
    assert shard_paths(root, "train") == [folder / n for n in sorted(names)]
    with pytest.raises(DataError, match="no test files"):
        shard_paths(root, "test")
    with pytest.raises(DataError, match="no such folder"):
        shard_paths(tmp_path / "nowhere", "train")


def test_a_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read TFRecord file"):
        list(iter_records(tmp_path / "nope"))


def test_many_records_across_shards_read_in_order(tmp_path, fsns):
    from tests.helpers import write_split

    samples = small_samples(30)
    paths = write_split(tmp_path, "test", samples, shards=3)
    got = [(r.encoded, r.text) for p in shard_paths(tmp_path, "test") for r in read_fsns(p, fsns)]
    assert got == samples and shard_paths(tmp_path, "test") == paths


# -- edges the mutation run found unchecked (issue 24) --------------------------------------------------------
def test_no_records_is_an_empty_file_and_a_count_of_zero(tmp_path):
    assert write_records(tmp_path / "f", []) == 0
    assert (tmp_path / "f").read_bytes() == b"" and list(iter_records(tmp_path / "f")) == []


@pytest.mark.parametrize("declared", [2**62, 2**64 - 1])
def test_a_header_declaring_more_bytes_than_the_file_holds_is_truncation_not_an_allocation(tmp_path, declared):
    """The header's own checksum is right (a writer that lied, not a flipped bit): the declared length is checked
    against the file before anything is read, and the message gives it as the unsigned number it is."""
    from seqocr.data.tfrecord import masked_crc

    length = struct.pack("<Q", declared)
    path = tmp_path / "f"
    path.write_bytes(frame(b"ok") + length + struct.pack("<I", masked_crc(length)) + b"x" * 40)
    with pytest.raises(DataError, match=rf"record 1 \(byte 18\): truncated file \(record of {declared} bytes"):
        list(iter_records(path))


def test_an_empty_record_cut_inside_its_footer_is_truncation(tmp_path):
    path = tmp_path / "f"
    write_records(path, [b"", b""])
    truncate(path, 16 + 14)  # the second record's header and 2 of its 4 footer bytes
    assert [p for _, p in iter_records(path, skip_bad=True)] == [b""]
    with pytest.raises(DataError, match=r"record 1 \(byte 16\): truncated file \(record of 0 bytes"):
        list(iter_records(path))


def test_a_payload_that_is_not_an_example_names_the_record(tmp_path):
    from seqocr.data.tfrecord import decode_example

    with pytest.raises(DataError, match=r"^f:record 7: not a tf.train.Example \(") as e:
        decode_example(b"\xff\xff not a protobuf", "f:record 7")
    assert e.value.reason == "not a tf.train.Example"


def test_a_feature_with_no_list_set_decodes_as_no_values():
    from seqocr.data.tfrecord import _example_class, decode_example

    ex = _example_class()()
    ex.features.feature["empty"].SetInParent()  # the key, with none of bytes_list / float_list / int64_list
    ex.features.feature["n"].int64_list.value.append(5)
    assert decode_example(ex.SerializeToString(), "w") == {"empty": [], "n": [5]}


def test_the_report_keeps_three_mismatch_examples_and_sums_up_in_one_line():
    report = FsnsReport()
    report.total = 9
    for reason in ("truncated file", "missing image/text", "missing image/text"):
        report.skip(reason, f"{reason} here")
    for i in range(4):
        report.mismatch(f"m{i}")
    assert report.mismatch_examples == ["m0", "m1", "m2"]
    assert report.summary() == ("read 9 records, skipped 3 (2 missing image/text, 1 truncated file); 4 kept whose "
                                "image/class disagrees with image/text, first: m0; m1; m2")
    clean = FsnsReport()
    clean.total = 2
    assert clean.summary() == "read 2 records, skipped 0"


@pytest.mark.parametrize("key, value, reason, message", [
    ("image/unpadded_class", [b"x"], "malformed image/unpadded_class",
     "image/unpadded_class should hold any number of integer(s), found 1 byte string(s)"),
    ("image/text", [b"Rue \xe9"], "image/text not UTF-8", "image/text is not UTF-8 (unexpected end of data at byte 4)")])
def test_read_fsns_skips_a_malformed_record_under_its_reason_and_keeps_its_message(tmp_path, fsns, key, value,
                                                                                   reason, message):
    path = tmp_path / "f"
    write_records(path, [encode_example({**good_features(small_png(0)), key: value}),
                         encode_example(good_features(small_png(1)))])
    report = FsnsReport()
    assert [r.where for r in read_fsns(path, fsns, skip_bad=True, report=report)] == [f"{path}:record 1"]
    assert report.reasons == {reason: 1} and len(report.examples) == 1
    assert report.examples[0].startswith(f"{path}:record 0: {message}"), report.examples
    assert [r.text for r in read_fsns(path, fsns, skip_bad=True)] == ["Rue"]  # no report given: one of its own


def test_png_size_reads_the_header_alone_and_unsigned():
    from seqocr.data.tfrecord import png_size

    head = small_png(0)[:24]
    assert png_size(head) == (16, 4)
    assert png_size(head[:16] + struct.pack(">II", 2**31, 7)) == (2**31, 7)
    for bad in (head[:23], b"\x88" + head[1:], head[:12] + b"IDAT" + head[16:]):
        with pytest.raises(DataError, match="^where: not a PNG file$"):
            png_size(bad, "where")


def test_a_label_of_exactly_37_characters_fits_and_a_charset_without_nul_cannot_write(tmp_path, fsns):
    from seqocr.charset import Charset

    assert write_fsns(tmp_path / "f", [(small_png(0), "x" * 37)], fsns) == 1
    (rec,) = read_fsns(tmp_path / "f", fsns)
    assert rec.text == "x" * 37 and len(rec.unpadded_classes) == 37
    (tmp_path / "cs.txt").write_text("a\nb\n", encoding="utf-8")
    plain = Charset.from_file(tmp_path / "cs.txt")
    with pytest.raises(DataError, match="^charset .* has no <nul> id, so it cannot write FSNS class arrays$"):
        write_fsns(tmp_path / "g", [(small_png(0), "ab")], plain)


def test_folder_shards_are_the_visible_files_in_name_order(tmp_path):
    from seqocr.data.tfrecord import folder_shards

    for name in ("b", "a", ".hidden", "c"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    assert folder_shards(tmp_path) == [tmp_path / n for n in "abc"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'empty'))}: no TFRecord files in this folder$"):
        folder_shards(tmp_path / "empty")


def test_the_streaming_reader_skips_a_corrupt_record_with_one_warning(tmp_path, caplog):
    from seqocr.data.tfrecord import read_records

    path = tmp_path / "f"
    write_records(path, PAYLOADS)
    flip_byte(path, record_offsets(path)[2] + 20)
    with caplog.at_level("WARNING", logger="seqocr.data.tfrecord"):
        assert [i for i, _ in read_records(path)] == [0, 1, 3, 4, 5]
    assert [r.getMessage() for r in caplog.records] == [
        f"skipped: {path}:record 2 (byte {record_offsets(path)[2]}): payload checksum mismatch (corrupt data)"]


def test_pack_reads_every_shard_and_sums_up_what_it_skipped_once(tmp_path, fsns):
    from seqocr.data.sources import TfrecordSource, stored
    from tests.helpers import write_split

    write_split(tmp_path, "train", small_samples(6), shards=2)
    source = TfrecordSource(str(tmp_path), shards=shard_paths(tmp_path, "train"))
    warned = []
    got = list(stored(source, fsns, warn=warned.append))
    assert [t for _, t, _ in got] == [t for _, t in small_samples(6)] and warned == []
    assert got[0][2].endswith(":record 0") and got[3][2].endswith(":record 0")  # each shard counts from 0
    shard = shard_paths(tmp_path, "train")[1]
    flip_byte(shard, record_offsets(shard)[1] + 20)
    got = list(stored(source, fsns, skip_bad=True, warn=warned.append))
    assert len(got) == 5 and warned == [f"{tmp_path}: skipped 1 of 6 samples (1 payload checksum mismatch)"]
    with pytest.raises(DataError, match=r"train-00001-of-00002:record 1 \(byte \d+\): payload checksum mismatch"):
        list(stored(source, fsns))


def test_parse_fsns_names_the_record_of_a_payload_that_is_not_an_example():
    with pytest.raises(DataError, match=r"^f:record 3: not a tf.train.Example \("):
        parse_fsns(b"\xff\xff not a protobuf", "f:record 3")
