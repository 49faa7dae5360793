"""The ``seqocr`` command line: train, eval, read, synth, pack, convert, export, serve, bench.

A user's mistake (a missing file, a bad image, an unknown config key) prints one ``seqocr: error: ...`` line
and exits 1; usage errors exit 2 (argparse). No tracebacks for either; a command whose optional dependencies are
not installed names the extra to install, in one line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

from PIL import Image

from .config import is_synth
from .device import DEVICE_HELP  # torch-free
from .errors import ConfigError, DataError, SeqocrError
from .fsns import DECODER_STEPS
from .inference.beam import MAX_BEAM
from .model import MODELS
from .preprocess import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES

# The pyproject extra that provides each optional top-level module (the `onnx` package comes with torch's extra,
# for export; `seqocr[onnx]` is ONNX Runtime alone; `seqocr[data]` the generator's and the data formats' libraries).
EXTRAS = {"torch": "torch", "tensorboard": "torch", "safetensors": "torch", "onnx": "torch",
          "onnxruntime": "onnx", "fastapi": "serve", "starlette": "serve", "uvicorn": "serve",
          "multipart": "serve", "python_multipart": "serve", "faker": "data", "fontTools": "data", "lmdb": "data",
          "google": "data", "google_crc32c": "data"}


def _number(kind: type, low: float, high: float | None = None):
    """An argparse type: ``kind`` in [low, high], else a usage error naming the bounds."""
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") \
                from None
        if v < low or (high is not None and v > high):
            bounds = f">= {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return v
    return parse


POSITIVE, AT_LEAST_ZERO, CONFIDENCE = _number(int, 1), _number(int, 0), _number(float, 0.0, 1.0)
MIN_CONFIDENCE_HELP = "reject a reading whose confidence is below X, 0 to 1 (default 0: none)"
BEAM, BEAM_HELP = _number(int, 1, MAX_BEAM), f"beam search with N hypotheses, 1 to {MAX_BEAM} (default 1: greedy)"


def _key_value(text: str) -> str:
    """An argparse type for ``--set``: a malformed override is a usage error, like any other bad argument."""
    key, sep, _ = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, e.g. train.steps=100, got {text!r}")
    return text


class _HelpFormatter(argparse.HelpFormatter):
    """Adds ``(default: X)`` to an option's help where it has a default worth showing and the help does not
    already say what happens by default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seqocr")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from . import __version__

        return __version__


def _have_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def _torch_free_fallback(args: argparse.Namespace) -> None:
    """Where torch is not installed (``pip install ".[onnx]"``), read, eval and serve use the shipped ONNX model
    when given no model; a PyTorch checkpoint cannot be read there."""
    if args.onnx and args.checkpoint:
        raise ConfigError("--onnx and --checkpoint name two models; give one")
    if args.onnx or _have_torch():
        return
    if args.checkpoint:
        raise ConfigError(f"{args.checkpoint}: reading a PyTorch checkpoint needs torch (pip install \".[torch]\"); "
                          "without torch, pass --onnx MODEL")
    from .inference.onnx_reader import SHIPPED_ONNX

    args.onnx = str(SHIPPED_ONNX)


def _train(args: argparse.Namespace) -> int:
    from .config import load_config
    from .train.loop import train

    cfg = load_config(args.config, [*(args.set or []), *([f"train.device={args.device}"] if args.device else [])])
    train(cfg, resume=args.resume, progress=not args.no_progress)
    return 0


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _report(args: argparse.Namespace, metrics: dict, rows: list) -> dict:
    """Prints the metrics and writes the predictions; returns the metrics as printed (with --min-confidence's)."""
    from .inference.postprocess import write_predictions
    from .metrics import format_metrics

    bad = int(metrics.get("unreadable", 0))
    if not metrics["samples"]:
        raise DataError(f"{args.data}: no sample could be read" + (f" ({bad} unreadable images)" if bad else ""))
    if bad:
        print(f"{args.data}: {bad} unreadable images skipped (not scored)", file=sys.stderr)
    out = Path(args.predictions)
    write_predictions(out, rows)  # every reading as read, whatever --min-confidence: a threshold can be chosen later
    if args.min_confidence:
        from .inference.evaluate import score_with_rejection

        metrics = score_with_rejection(metrics, rows, args.min_confidence)
    if args.json:  # counts summed across torchrun ranks come back as floats
        print(json.dumps({**metrics, "samples": int(metrics["samples"])}))
    else:
        print(format_metrics(metrics))
        if args.min_confidence:
            print(_rejection_line(metrics))
        print(f"predictions: {out}")
    return metrics


def _rejection_line(m: dict) -> str:
    kept = "n/a" if m["kept_accuracy"] is None else f"{m['kept_accuracy']:.4f}"
    return (f"rejected: {m['rejected']} of {int(m['samples'])} (confidence < {m['min_confidence']}), scored as empty; "
            f"coverage {m['coverage']:.4f}, exact match of the kept {kept}")


def _eval(args: argparse.Namespace) -> int:
    # checked before the evaluation; a predictions file is a report, replaced by the next run
    args.predictions = str(_output_file(args.predictions or "predictions.tsv", force=True, inputs=(args.data,)))
    _torch_free_fallback(args)
    if args.report or args.onnx:
        return _eval_with_reader(args)
    import torch

    from .data import EVAL_SYNTH_SEED, build_dataset
    from .device import pick_device, place
    from .model.weights import load_model
    from .preprocess import ImageSpec
    from .train.distributed import Dist
    from .train.evaluate import evaluate
    from .train.loop import EVAL_STREAM

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    model, cfg, charset, _ = load_model(args.checkpoint)
    model = place(model, device)
    ds = build_dataset(args.data, charset, ImageSpec.from_config(cfg.model), cfg.model.max_len - 1, synth_split="test",
                       seed=EVAL_SYNTH_SEED, max_skip_fraction=cfg.data.max_skip_fraction, stream=EVAL_STREAM)
    if getattr(ds, "report", None) is not None and ds.report.skipped:
        print(f"{args.data}: {ds.report.summary()}", file=sys.stderr)
    metrics, rows = evaluate(model, ds, charset, cfg.model.max_len, args.batch_size, args.bf16,
                             progress=not args.no_progress, dist=Dist(device=device), beam=args.beam)
    _report(args, metrics, rows)
    return 0


def _eval_with_reader(args: argparse.Namespace) -> int:
    """``eval --onnx`` and ``eval --report DIR``: the evaluation through a reader; with --report the images of the
    worst readings are kept (with their attention maps from the PyTorch model) for DIR/report.html."""
    from .data import iter_labelled
    from .inference.evaluate import evaluate_reader

    folder = worst = None
    if args.report:
        from .inference.report import WorstReadings, write_report

        if not (is_synth(args.data) or Path(args.data).is_file()):
            raise ConfigError(f"{args.data}: --report reads a labels file or synth:...; turn TFRecords into a labels "
                              "file with seqocr convert")
        folder, worst = _folder(args.report, "--report"), WorstReadings()
    reader = _predictor(args)
    max_len = int(reader.metadata.get("max_len", DECODER_STEPS)) if args.onnx else reader.model.max_len
    samples = iter_labelled(args.data, reader.charset, max_len - 1, warn=_stderr)  # stdout may be --json
    metrics, rows = evaluate_reader(reader, samples, args.batch_size,
                                    attention=worst is not None and not args.onnx and args.beam == 1, on_read=worst)
    shown = _report(args, metrics, rows)
    if folder is not None:
        path = write_report(folder, shown, rows, worst, reader.spec, args.data,
                            args.onnx or args.checkpoint or "shipped")
        print(f"report: {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _folder(path: str, option: str) -> Path:
    """An output folder named by ``option``, created (with its parents) unless a file is in the way."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{option} {folder}: exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


PROGRESS_OVER = 50  # images: a longer job shows a progress bar on stderr (when stderr is a terminal)


def _image_paths(names: list[str]) -> tuple[list[str], int]:
    """The images that ``read``'s arguments name, in order: a folder stands for the image files under it
    (recursively, by suffix, sorted), ``-`` for the paths on stdin (one a line), anything else for itself (a
    missing file is reported when it is read). Returns the paths and 1 if a folder or stdin named none, else 0."""
    paths, status = [], 0
    for name in names:
        if name == "-":
            found = [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
            empty = "-: no image paths on stdin"
        elif Path(name).is_dir():
            found = [str(p) for p in sorted(Path(name).rglob("*"))
                     if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
            empty = f"{name}: a folder with no image files ({', '.join(s[1:] for s in IMAGE_SUFFIXES)})"
        else:
            paths.append(name)
            continue
        if not found:
            _stderr(f"seqocr: error: {empty}")
            status = 1
        paths += found
    return paths, status


def _read(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .inference.postprocess import reject_below
    from .preprocess import load_image

    paths, status = _image_paths(args.images)
    if not paths:
        return status
    folder = _show_folder(args)
    predictor = _predictor(args)
    pictures = _picture_names(paths, folder)
    show = len(paths) > PROGRESS_OVER and sys.stderr.isatty() and not args.no_progress
    with tqdm(total=len(paths), unit="image", disable=not show, leave=False, file=sys.stderr) as bar:
        for start in range(0, len(paths), args.batch_size):  # read and printed batch by batch: memory stays flat
            images = []
            for k, path in enumerate(paths[start:start + args.batch_size], start):
                try:
                    images.append((k, load_image(path, max_pixels=args.max_pixels)))
                except DataError as e:
                    bar.write(f"seqocr: error: {e}", file=sys.stderr)
                    status = 1
            readings = reject_below(predictor.read([im for _, im in images], args.batch_size,
                                                   attention=folder is not None), args.min_confidence)
            for (k, image), r in zip(images, readings):
                print(json.dumps({"image": paths[k], **r.as_dict()}, ensure_ascii=False) if args.json
                      else f"{paths[k]}\t{r.text}\t{r.confidence:.4f}")
                if folder is not None:
                    _save_picture(image, r, predictor.spec, paths[k], pictures[k])
            bar.update(min(args.batch_size, len(paths) - start))
    if folder is not None:
        _stderr(f"seqocr: attention pictures in {folder}/ (NAME.attention.png)")
    return status


def _show_folder(args: argparse.Namespace) -> Path | None:
    """``read --show DIR``: the folder, created, once it is known that the reader can give attention maps."""
    if not args.show:
        return None
    asked_onnx = args.onnx
    _torch_free_fallback(args)
    if args.onnx:  # the exported graph has no attention output (inference/onnx_reader.py)
        raise ConfigError("--show draws attention maps, which only the PyTorch reader gives: " +
                          ("drop --onnx" if asked_onnx else 'pip install "seqocr[torch]"'))
    return _folder(args.show, "--show")


def _picture_names(paths: list[str], folder: Path | None) -> list[Path]:
    from .inference.attention import show_names

    return show_names(paths, folder) if folder is not None else []


def _save_picture(image, reading, spec, title: str, out: Path) -> None:
    from .inference.attention import render_reading

    render_reading(image, reading, spec, title=title).save(out)


def _predictor(args: argparse.Namespace):
    """The reader of read, serve and eval --onnx/--report: ONNX Runtime or PyTorch, on ``--threads`` where the
    command has it."""
    _torch_free_fallback(args)
    threads = getattr(args, "threads", 0)
    if args.onnx:
        from .inference.onnx_reader import OnnxReader

        return OnnxReader(args.onnx, threads=threads, beam=args.beam, device=args.device)
    from .inference.predictor import Predictor

    if threads:
        import torch

        torch.set_num_threads(threads)
    return Predictor.from_checkpoint(args.checkpoint, bf16=args.bf16, beam=args.beam, device=args.device)


def _serve(args: argparse.Namespace) -> int:
    import fastapi  # noqa: F401 - the [serve] extra: if it is missing, main says so before any work
    import uvicorn  # noqa: F401

    from .serve import Allocator, Limits, bind, serve

    allocator = Allocator()
    allocator.settle()  # before the model's and the service's threads make their malloc arenas
    limits = Limits(max_body_bytes=int(args.max_body_mb * 1024 * 1024), max_images=args.max_images,
                    max_pixels=args.max_pixels, max_batch=args.max_batch,
                    max_client_requests=args.max_client_requests, body_timeout_s=args.body_timeout,
                    header_timeout_s=args.header_timeout, shutdown_grace_s=args.grace)
    with bind(args.host, args.port) as sock:  # a port in use is refused before the model loads
        reader = _predictor(args)
        info = {"model": args.onnx or args.checkpoint or "shipped",
                "runtime": "onnxruntime" if args.onnx else "torch", "min_confidence": args.min_confidence,
                "beam": args.beam}
        serve(reader, sock, limits, info, args.min_confidence, allocator)
    return 0


def _output_file(path: str | Path, force: bool, inputs: tuple[str | None, ...] = ()) -> Path:
    """A file the command will write: never one of its ``inputs`` or a directory; an existing file only with
    ``--force``. Its folder is created."""
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{out}: is a directory; name the file to write")
    if any(i and Path(i).exists() and out.resolve() == Path(i).resolve() for i in inputs):
        raise ConfigError(f"{out}: is an input of this command; choose another output")
    if out.exists() and not force:
        raise ConfigError(f"{out}: exists; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


VERIFY_BEAM = 3  # export --beam --verify: the beam width the ONNX Runtime beam is checked at


def _export(args: argparse.Namespace) -> int:
    folder = Path(args.out).parent
    if not folder.is_dir():  # a mistyped path is not a reason to create folders
        raise ConfigError(f"{args.out}: the folder {folder} does not exist; create it first")
    from .data.synth import CALIBRATION_SEED, VERIFY_SEED, sign_images
    from .inference.beam import beam_paths
    from .inference.export import export_onnx, quantize_int8, verify_onnx

    out = _output_file(args.out, args.force, (args.checkpoint,))
    int8 = _output_file(out.with_name(f"{out.stem}.int8{out.suffix}"), args.force, (args.checkpoint,)) \
        if args.int8 else None
    graphs = [_output_file(p, args.force, (args.checkpoint,)) for p in beam_paths(out)] if args.beam else []
    out = export_onnx(args.checkpoint, out, beam=args.beam)
    for path in (out, *graphs):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if int8 is not None:
        q = quantize_int8(out, int8, sign_images(CALIBRATION_SEED, 128, "train"))
        print(f"wrote {q} ({q.stat().st_size / 1e6:.1f} MB, int8 convolutions; compare with eval --onnx)")
    if args.verify:
        try:
            images = sign_images(VERIFY_SEED, args.verify_n, "test")
            checks = [verify_onnx(args.checkpoint, out, images, tolerance=args.tolerance, beam=beam)
                      for beam in ((1, VERIFY_BEAM) if args.beam else (1,))]
        except SeqocrError as e:  # an export that failed its check is not left behind as if it were good
            for path in (out, int8, *graphs):
                if path is not None:
                    path.unlink(missing_ok=True)
            raise SeqocrError(f"{e}; the exported file(s) were removed") from None
        for r in checks:
            how = f" with a beam of {r['beam']}" if r["beam"] > 1 else ""
            print(f"verified: ONNX Runtime = PyTorch{how} on {r['images']} generated signs (texts identical, "
                  f"largest relative gap {r['max_char_prob_gap']:.1e} in a probability, "
                  f"{r['max_confidence_gap']:.1e} in a confidence, <= {args.tolerance:.0e})")
    return 0


def _pack(args: argparse.Namespace) -> int:
    from .charset import Charset
    from .data import lmdb_store

    charset = Charset.load(args.charset)
    if args.labels:
        source = lmdb_store.samples_from_labels(args.labels)
    elif args.synth:
        source = lmdb_store.samples_from_synth(args.synth, args.seed, args.split or "train")
    else:
        from .data.tfrecord import samples_from_tfrecords

        if not args.split:
            raise SeqocrError("--tfrecords needs --split train|validation|test")
        source = samples_from_tfrecords(args.tfrecords, args.split, charset, args.skip_bad, warn=print)
    summary = lmdb_store.pack_lmdb(Path(args.out), source, progress=not args.no_progress, skip_bad=args.skip_bad,
                                   charset=charset, max_chars=args.max_chars)
    print(summary.summary())
    return 0


def _convert(args: argparse.Namespace) -> int:
    from .charset import Charset
    from .data.convert import convert_fsns

    summary = convert_fsns(Path(args.tfrecords), args.split, Path(args.out), Charset.load(args.charset),
                           skip_bad=args.skip_bad, progress=not args.no_progress)
    print(summary.summary() if hasattr(summary, "summary") else summary)
    return 0


def _synth(args: argparse.Namespace) -> int:
    from .data.synth_writer import write_synth

    write_synth(Path(args.out), args.n, args.seed, args.split, progress=not args.no_progress)
    return 0


def _bench(args: argparse.Namespace) -> int:
    import torch

    args.model = args.model or ["default", "reference"]
    args.dtype = args.dtype or ["fp32", "bf16"]
    from .train.bench import run

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = run(args.kind, args.model, args.config, args.set or [], args.batch_size, args.steps, args.warmup,
               args.dtype, args.device)
    for row in rows:
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['bench']:5s} {row['model']:9s} {row['dtype']:4s} batch {row['batch']:3d}: "
                  f"{row['images_per_s']:8.2f} images/s, {row['model_gflops_per_image']:.2f} GFLOP/image, "
                  f"MFU {row['mfu']:.1%} of {row['peak_flops'] / 1e9:.0f} GFLOP/s ({row['threads']} threads)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqocr", description=__doc__.splitlines()[0].replace("``", ""),
                                formatter_class=_HelpFormatter)
    p.add_argument("--version", action="version", version=f"seqocr {_version()}", help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, formatter_class=_HelpFormatter)

    t = command("train", "train a model from a YAML config")
    t.add_argument("--config", required=True, help="configs/NAME.yaml")
    t.add_argument("--set", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="override a config key, e.g. train.steps=100 (repeatable)")
    t.add_argument("--resume", action="store_true", help="continue from <train.out_dir>/last.pt")
    t.add_argument("--device", help=f"{DEVICE_HELP} (default: train.device, or CUDA when there is one)")
    t.set_defaults(func=_train)

    e = command("eval", "evaluate a checkpoint on a dataset")
    e.add_argument("--checkpoint", help="a .pt checkpoint or .safetensors weights (default: the shipped model)")
    e.add_argument("--data", required=True, help="a labels file (path<TAB>text) or synth:split=test,n=N,seed=K")
    e.add_argument("--batch-size", type=POSITIVE, default=32, help="images read together")
    e.add_argument("--predictions", help="predictions file (default: ./predictions.tsv)")
    e.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    e.add_argument("--onnx", help="evaluate an exported ONNX model with ONNX Runtime instead")
    e.add_argument("--threads", type=AT_LEAST_ZERO, default=0, help="CPU threads (0: the library's default)")
    e.add_argument("--bf16", action="store_true", help="bf16 autocast")
    e.add_argument("--beam", type=BEAM, default=1, metavar="N", help=BEAM_HELP)
    e.add_argument("--min-confidence", type=CONFIDENCE, default=0.0, metavar="X", help=MIN_CONFIDENCE_HELP +
                   "; scored as empty, and the coverage and exact match of the kept are reported")
    e.add_argument("--report", metavar="DIR",
                   help="also write DIR/report.html: metrics, a confidence-vs-accuracy plot, wrong readings by kind, "
                        "character confusions, the worst readings with their images and attention (labels file or "
                        "synth:... data)")
    e.set_defaults(func=_eval)

    r = command("read", "read the text of images")
    r.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files (4-view strips or single signs), folders (their images, recursively) or - "
                        "(paths on stdin, one a line)")
    r.add_argument("--checkpoint", help="a .pt checkpoint or .safetensors weights (default: the shipped model)")
    r.add_argument("--onnx", help="read with an exported ONNX model and ONNX Runtime (no torch needed)")
    r.add_argument("--json", action="store_true",
                   help='one {"image", "text", "confidence", "char_probs", "rejected"} object per line')
    r.add_argument("--batch-size", type=POSITIVE, default=32, help="images read together")
    r.add_argument("--bf16", action="store_true", help="bf16 autocast")
    r.add_argument("--beam", type=BEAM, default=1, metavar="N", help=BEAM_HELP)
    r.add_argument("--max-pixels", type=POSITIVE, default=DEFAULT_MAX_PIXELS,
                   help="pixels per image; a larger one is reported, not decoded")
    r.add_argument("--min-confidence", type=CONFIDENCE, default=0.0, metavar="X",
                   help=MIN_CONFIDENCE_HELP + ": its text is left empty")
    r.add_argument("--show", metavar="DIR",
                   help="also draw DIR/NAME.attention.png for each image: its views, the text with each character's "
                        "probability, and where the model looked for each character (PyTorch reader)")
    r.set_defaults(func=_read)

    s = command("synth", "generate street-sign images and a labels file")
    s.add_argument("--n", type=POSITIVE, required=True, help="number of signs")
    s.add_argument("--out", required=True, help="output folder (images/ and labels.tsv)")
    s.add_argument("--seed", type=int, default=0, help="sign i is a function of (seed, i, split)")
    s.add_argument("--split", choices=("train", "test"), default="train", help="test: held-out street names")
    s.set_defaults(func=_synth)

    k = command("pack", "pack images + labels into an LMDB database (DTRB/PARSeq layout)")
    src = k.add_mutually_exclusive_group(required=True)
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

    v = command("serve", "an HTTP service: POST /v1/read, GET /healthz, /docs")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    v.add_argument("--port", type=_number(int, 0, 65535), default=8000, help="port to listen on (0: any free one)")
    v.add_argument("--checkpoint", help="a .pt checkpoint or .safetensors weights (default: the shipped model)")
    v.add_argument("--onnx", help="serve an exported ONNX model with ONNX Runtime (no torch needed)")
    v.add_argument("--bf16", action="store_true", help="bf16 autocast (PyTorch)")
    v.add_argument("--beam", type=BEAM, default=1, metavar="N",
                   help=BEAM_HELP + "; a request may ask for another with ?beam=K")
    v.add_argument("--max-batch", type=POSITIVE, default=32, help="images read together across requests")
    v.add_argument("--max-images", type=POSITIVE, default=64, help="images per request")
    v.add_argument("--max-body-mb", type=_number(float, 0.001), default=20.0, help="request body size limit")
    v.add_argument("--max-pixels", type=POSITIVE, default=DEFAULT_MAX_PIXELS, help="pixels per image")
    v.add_argument("--max-client-requests", type=AT_LEAST_ZERO, default=32, metavar="N",
                   help="requests one client address may have in flight; more get 429 (0: no limit, behind a proxy)")
    v.add_argument("--body-timeout", type=_number(float, 0.001), default=60.0, metavar="S",
                   help="seconds a request body may take to arrive; slower gets 408")
    v.add_argument("--header-timeout", type=_number(float, 0.001), default=10.0, metavar="S",
                   help="seconds a request's line and headers may take to arrive; slower gets 408")
    v.add_argument("--grace", type=AT_LEAST_ZERO, default=30, metavar="S",
                   help="on SIGTERM, seconds the requests in flight get to finish")
    v.add_argument("--min-confidence", type=CONFIDENCE, default=0.0, metavar="X",
                   help=MIN_CONFIDENCE_HELP + ': its "text" is "", "rejected" true')
    v.set_defaults(func=_serve)

    x = command("export", "export a model to ONNX (greedy reader, dynamic batch, metadata)")
    x.add_argument("--checkpoint", help="a .pt checkpoint or .safetensors weights (default: the shipped model)")
    x.add_argument("--out", required=True, help="model.onnx, in an existing folder")
    x.add_argument("--verify", action="store_true", help="check ONNX Runtime against PyTorch on generated signs")
    x.add_argument("--beam", action="store_true",
                   help="also write NAME.encoder.onnx and NAME.step.onnx, which beam search with ONNX Runtime reads "
                        "(read/eval/serve --onnx NAME.onnx --beam N)")
    x.add_argument("--int8", action="store_true",
                   help="also write NAME.int8.onnx: convolutions in int8, calibrated on generated signs")
    x.add_argument("--verify-n", type=POSITIVE, default=64, help="signs to verify on")
    x.add_argument("--force", action="store_true", help="replace an existing --out file")
    x.add_argument("--tolerance", type=_number(float, 0.0), default=1e-3,
                   help="largest gap accepted by --verify in a token's probability or a reading's confidence, "
                        "relative to the value")
    x.set_defaults(func=_export)

    b = command("bench", "training-step or reading throughput on random tensors")
    b.add_argument("kind", choices=("train", "read"), help="what to time")
    b.add_argument("--model", action="append", choices=sorted(MODELS),
                   help="model(s) to measure, with configs/NAME.yaml (repeatable; default: both)")
    b.add_argument("--config", help="a config file instead of configs/NAME.yaml")
    b.add_argument("--set", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="override a config key (repeatable)")
    b.add_argument("--batch-size", type=POSITIVE, default=32, help="images per step")
    b.add_argument("--steps", type=POSITIVE, default=5, help="timed steps (median reported)")
    b.add_argument("--warmup", type=AT_LEAST_ZERO, default=2, help="untimed steps first")
    b.add_argument("--dtype", action="append", choices=("fp32", "bf16"), help="repeatable (default: both)")
    b.add_argument("--threads", type=AT_LEAST_ZERO, default=0, help="CPU threads (0: the library's default)")
    b.add_argument("--json", action="store_true", help="one JSON object per line")
    b.add_argument("--device", default="cpu", help=DEVICE_HELP)
    b.set_defaults(func=_bench)

    for sp in (e, r, v):
        sp.add_argument("--device", default="cpu", help=DEVICE_HELP + " (PyTorch; with --onnx, ONNX Runtime's "
                        "CUDA provider from onnxruntime-gpu)")
    for sp in (t, e, r, s, k, c):
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _missing_extra(command: str, e: ModuleNotFoundError) -> str | None:
    """What to install for an optional dependency that is not installed; None for any other missing module."""
    module = (e.name or "").split(".")[0]
    if module not in EXTRAS:
        return None
    return f'seqocr {command} needs {module}, which is not installed: pip install "seqocr[{EXTRAS[module]}]"'


def _quiet_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone (``seqocr read ... | head -1``), so that Python's own
    flush at exit finds no broken pipe to complain about."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # seqocr applies its own pixel limits (--max-pixels) to what it reads; Pillow's warning would only be noise
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    try:
        status = args.func(args)
        sys.stdout.flush()  # a reader that has gone shows here, inside the try, not at exit
        return status
    except BrokenPipeError:  # the reader of stdout stopped early: normal for a Unix tool, nothing to report
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, the status of a tool that the closed pipe stopped
    except SeqocrError as e:
        print(f"seqocr: error: {e}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as e:
        if (missing := _missing_extra(args.command, e)) is None:
            raise
        print(f"seqocr: error: {missing}", file=sys.stderr)
        return 1
    except OSError as e:  # an output folder that cannot be written, a directory where a file goes, a full disk
        where = f"{e.filename}: " if e.filename else ""
        print(f"seqocr: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("seqocr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
