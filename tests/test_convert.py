"""FSNS TFRecords -> PNGs + labels file: exact output, bad records, and a real kill-and-rerun."""

import os
import signal
import subprocess
import sys

import pytest

from seqocr.data.convert import convert_fsns
from seqocr.data.labels import read_labels
from seqocr.data.tfrecord import encode_example, write_records
from seqocr.errors import DataError
from tests.helpers import flip_byte, record_offsets, small_png, small_samples, synth_samples, write_split


def expected_lines(samples, split="train", skip=()):
    kept = [t for i, (_, t) in enumerate(samples) if i not in skip]
    return [f"{split}/{n:09d}.png\t{t}" for n, t in enumerate(kept, 1)]


def check_output(out, samples, split="train", skip=()):
    """The labels file lists every kept sample in order, each PNG holds its bytes, and nothing else is there."""
    labels = out / f"{split}.txt"
    assert labels.read_text(encoding="utf-8").splitlines() == expected_lines(samples, split, skip)
    kept = [png for i, (png, _) in enumerate(samples) if i not in skip]
    assert [(out / split / f"{n:09d}.png").read_bytes() for n in range(1, len(kept) + 1)] == kept
    assert sorted(p.name for p in (out / split).iterdir()) == [f"{n:09d}.png" for n in range(1, len(kept) + 1)]
    assert sorted(p.name for p in out.iterdir()) == sorted([split, f"{split}.txt"])


def test_convert_writes_the_reference_layout_with_bytes_as_stored(tmp_path, fsns, capsys):
    samples = synth_samples(3) + small_samples(7)
    write_split(tmp_path / "fsns", "train", samples, shards=3)
    summary = convert_fsns(tmp_path / "fsns", "train", tmp_path / "out", fsns, progress=True)
    check_output(tmp_path / "out", samples)
    assert (summary.converted, summary.written, summary.reused, summary.shards) == (10, 10, 0, 3)
    assert "10 images from 3 files" in str(summary) and "skipped 0" in str(summary)
    assert "rec/s" in capsys.readouterr().err
    rows, report = read_labels(tmp_path / "out" / "train.txt", fsns, max_chars=37)  # usable as a data source
    assert [s.text for s in rows] == [t for _, t in samples] and report.skipped == 0


def test_flat_layout_and_a_finished_output_is_refused(tmp_path, fsns):
    samples = small_samples(4)
    write_split(tmp_path / "fsns", "test", samples, shards=2, nested=False)
    convert_fsns(tmp_path / "fsns", "test", tmp_path / "out", fsns, progress=False)
    check_output(tmp_path / "out", samples, "test")
    with pytest.raises(DataError, match="already holds a finished conversion .*choose another --out"):
        convert_fsns(tmp_path / "fsns", "test", tmp_path / "out", fsns, progress=False)


def test_a_bad_record_stops_keeping_earlier_images_and_skip_bad_resumes(tmp_path, fsns):
    samples = small_samples(12)
    shards = write_split(tmp_path / "fsns", "train", samples, shards=2)       # 6 + 6
    flip_byte(shards[1], record_offsets(shards[1])[2] + 40)                  # sample 8: corrupt payload
    with pytest.raises(DataError, match=rf"{shards[1]}:record 2 \(byte \d+\): payload checksum mismatch.*; the 8 "
                       r"images converted so far are kept: rerun with --skip-bad"):
        convert_fsns(tmp_path / "fsns", "train", tmp_path / "out", fsns, progress=False)
    out = tmp_path / "out"
    assert not (out / "train.txt").exists()
    assert [(out / "train" / f"{n:09d}.png").read_bytes() for n in range(1, 9)] == [p for p, _ in samples[:8]]
    summary = convert_fsns(tmp_path / "fsns", "train", out, fsns, skip_bad=True, progress=False)
    check_output(out, samples, skip={8})
    assert (summary.reused, summary.written) == (8, 3)
    assert summary.report.reasons == {"payload checksum mismatch": 1} and "skipped 1" in str(summary)


def test_skip_bad_counts_every_reason(tmp_path, fsns):
    samples = small_samples(6)
    shards = write_split(tmp_path / "fsns", "train", samples, shards=1)
    payloads = [shards[0].read_bytes()[o + 12:o + 12 + n] for o, n in _spans(shards[0])]
    tabbed = encode_example({"image/encoded": [small_png(99)], "image/format": [b"PNG"], "image/width": [16],
                             "image/orig_width": [16], "image/class": [0] + [133] * 36,
                             "image/unpadded_class": [0], "image/text": [b"a\tb"]})
    write_records(shards[0], payloads[:2] + [tabbed, b"junk"] + payloads[2:])
    flip_byte(shards[0], record_offsets(shards[0])[7] + 3)                   # last record's length
    with pytest.raises(DataError, match=r"record 2: label with a tab or line break"):
        convert_fsns(tmp_path / "fsns", "train", tmp_path / "a", fsns, progress=False)
    summary = convert_fsns(tmp_path / "fsns", "train", tmp_path / "b", fsns, skip_bad=True, progress=False)
    check_output(tmp_path / "b", samples, skip={5})
    assert summary.report.reasons == {"label with a tab or line break": 1, "not a tf.train.Example": 1,
                                      "length checksum mismatch": 1}
    assert summary.report.mismatches == 1  # the tab is not in the charset either


def _spans(path):
    data = path.read_bytes()
    return [(o, int.from_bytes(data[o:o + 8], "little")) for o in record_offsets(path)]


CHILD = """
import os, signal, sys
from seqocr.charset import Charset
from seqocr.data import convert

real_replace, done = os.replace, []

def replace(src, dst):
    # Freeze before renaming image STOP, its temporary file cut in half: the parent then kills this process.
    if str(dst).endswith(".png") and len(done) + 1 == int(sys.argv[3]):
        data = open(src, "rb").read()
        open(src, "wb").write(data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGSTOP)
    real_replace(src, dst)
    done.append(dst)

os.replace = replace  # the rename of seqocr.fsutil.atomic_write, which convert writes every image with
convert.convert_fsns(sys.argv[1], "train", sys.argv[2], Charset.fsns(), progress=False)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs POSIX signals")
def test_a_killed_conversion_reruns_to_completion_without_duplicates(tmp_path, fsns):
    samples = small_samples(200, seed=3)
    write_split(tmp_path / "fsns", "train", samples, shards=4)
    out, stop = tmp_path / "out", 37
    with subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "fsns"), str(out), str(stop)],
                          stderr=subprocess.PIPE) as child:
        _, status = os.waitpid(child.pid, os.WUNTRACED)  # returns once the child has stopped itself
        if not os.WIFSTOPPED(status):
            child.returncode = os.waitstatus_to_exitcode(status)
            pytest.fail(f"the conversion ended before its stop point: {child.stderr.read().decode()}")
        child.kill()  # SIGKILL
        child.wait()
    pngs = sorted(p.name for p in (out / "train").glob("*.png"))
    assert pngs == [f"{n:09d}.png" for n in range(1, stop)]                  # >= 20 images, then the kill
    assert (out / "train" / f".{stop:09d}.png.tmp").exists() and not (out / "train.txt").exists()
    summary = convert_fsns(tmp_path / "fsns", "train", out, fsns, progress=False)
    check_output(out, samples)                                                 # no duplicates, no .tmp, in order
    assert (summary.reused, summary.written) == (stop - 1, 200 - stop + 1)
