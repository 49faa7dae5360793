"""`seqocr synth`, `seqocr pack` and `seqocr convert`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import SeqocrError
from .common import POSITIVE, add_no_progress, show_progress


def _pack_source(args: argparse.Namespace):
    """The source ``pack`` reads: any kind the registry knows (``--data``), or one named the short way."""
    from ..data.sources import LabelsSource, SynthDefaults, SynthSource, TfrecordSource, find_source

    if args.labels:
        return LabelsSource(args.labels)
    if args.synth:
        return SynthSource("synth", SynthDefaults(args.synth, args.seed, args.split or "train"))
    if args.tfrecords:
        from ..data.tfrecord import shard_paths

        if not args.split:
            raise SeqocrError("--tfrecords needs --split train|validation|test")
        return TfrecordSource(args.tfrecords, shards=shard_paths(args.tfrecords, args.split))
    return find_source(args.data, SynthDefaults(seed=args.seed, split=args.split or "train"))


def _pack(args: argparse.Namespace) -> int:
    from ..charset import Charset
    from ..data.lmdb_store import pack_lmdb
    from ..data.sources import stored

    charset = Charset.load(args.charset)
    source = _pack_source(args)
    summary = pack_lmdb(Path(args.out), stored(source, charset, args.skip_bad, warn=print), total=source.raw_count(),
                        progress=show_progress(args), skip_bad=args.skip_bad, charset=charset,
                        max_chars=args.max_chars)
    print(summary.summary())
    return 0


def _convert(args: argparse.Namespace) -> int:
    from ..charset import Charset
    from ..data.convert import convert_fsns

    summary = convert_fsns(Path(args.tfrecords), args.split, Path(args.out), Charset.load(args.charset),
                           skip_bad=args.skip_bad, progress=show_progress(args))
    print(summary.summary() if hasattr(summary, "summary") else summary)
    return 0


def _synth(args: argparse.Namespace) -> int:
    from ..data.synth_writer import write_synth

    write_synth(Path(args.out), args.n, args.seed, args.split, progress=show_progress(args))
    return 0


def add(command) -> None:
    """Register the command(s) of this module; ``command(name, help)`` makes a subparser."""
    s = command("synth", "generate street-sign images and a labels file")
    s.add_argument("--n", type=POSITIVE, required=True, help="number of signs")
    s.add_argument("--out", required=True, help="output folder (images/ and labels.tsv)")
    s.add_argument("--seed", type=int, default=0, help="sign i is a function of (seed, i, split)")
    s.add_argument("--split", choices=("train", "test"), default="train", help="test: held-out street names")
    s.set_defaults(func=_synth)

    k = command("pack", "pack images + labels into an LMDB database (DTRB/PARSeq layout)")
    src = k.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="SOURCE", help="any data source: synth:n=N,..., a labels file, an LMDB folder "
                     "or a folder of TFRecord shards")
    src.add_argument("--labels", help="a labels file of path<TAB>text lines")
    src.add_argument("--tfrecords", help="a folder of FSNS TFRecord shards (with --split)")
    src.add_argument("--synth", type=POSITIVE, metavar="N", help="N generated signs")
    k.add_argument("--out", required=True, help="the LMDB folder to create")
    k.add_argument("--split", help="TFRecords: train|validation|test; --synth: train|test (default: train)")
    k.add_argument("--seed", type=int, default=0, help="--synth seed")
    k.add_argument("--charset", default="fsns", help="charset file the labels must fit, or fsns")
    k.add_argument("--max-chars", type=POSITIVE, default=62, help="longest label accepted (62: the reference's)")
    k.add_argument("--skip-bad", action="store_true", help="skip and count bad samples instead of stopping")
    k.set_defaults(func=_pack)

    c = command("convert", "convert FSNS TFRecords to PNG files + a labels file")
    c.add_argument("format", choices=("fsns",), help="the source format")
    c.add_argument("--tfrecords", required=True, help="folder holding SPLIT/SPLIT-*-of-* shards")
    c.add_argument("--split", required=True, choices=("train", "validation", "test"), help="the split to convert")
    c.add_argument("--out", required=True, help="output folder (PNG files and SPLIT.txt)")
    c.add_argument("--charset", default="fsns", help="charset file the labels must fit, or fsns")
    c.add_argument("--skip-bad", action="store_true", help="skip and count bad records instead of stopping")
    c.set_defaults(func=_convert)
    for parser in (s, k, c):
        add_no_progress(parser)
