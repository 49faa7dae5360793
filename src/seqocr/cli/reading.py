"""`seqocr eval` and `seqocr read`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError, DataError
from ..fsns import DECODER_STEPS
from ..imaging.preprocess import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES
from .common import (
    AT_LEAST_ZERO,
    BEAM,
    BEAM_HELP,
    CONFIDENCE,
    MIN_CONFIDENCE_HELP,
    POSITIVE,
    _engine,
    _output_file,
    _predictor,
    _stderr,
    add_engine,
    add_guide,
    add_no_progress,
    add_read_device,
    add_reading,
    planned_folder,
    show_progress,
)


def _report(args: argparse.Namespace, metrics: dict, rows: list, engine: str, lm: str | None = None) -> dict:
    """Prints the metrics and writes the predictions; returns the metrics as printed (with --min-confidence's)."""
    from ..inference.postprocess import write_predictions
    from ..metrics import format_metrics

    bad = int(metrics.get("unreadable", 0))
    if not metrics["samples"]:
        raise DataError(f"{args.data}: no sample could be read" + (f" ({bad} unreadable images)" if bad else ""))
    out = Path(args.predictions)
    out.parent.mkdir(parents=True, exist_ok=True)  # only now: an evaluation that failed leaves no folder behind
    write_predictions(out, rows)  # every reading as read, whatever --min-confidence: a threshold can be chosen later
    if args.min_confidence:
        from ..inference.evaluate import score_with_rejection

        metrics = score_with_rejection(metrics, rows, args.min_confidence)
    if args.json:  # counts summed across torchrun ranks come back as floats
        print(json.dumps({**metrics, "samples": int(metrics["samples"]), "engine": engine, "lm": lm}))
    else:
        print(format_metrics(metrics))
        if args.min_confidence:
            print(_rejection_line(metrics))
        print(f"{'engine':<25}{engine}")
        print(f"{'language model':<25}{lm or 'none'}")
        print(f"predictions: {out}")
    return metrics


def _rejection_line(m: dict) -> str:
    kept = "n/a" if m["kept_accuracy"] is None else f"{m['kept_accuracy']:.4f}"
    return (f"rejected: {m['rejected']} of {int(m['samples'])} (confidence < {m['min_confidence']}), scored as empty; "
            f"coverage {m['coverage']:.4f}, exact match of the kept {kept}")


def _eval(args: argparse.Namespace) -> int:
    """The evaluation through a reader (ONNX Runtime or PyTorch: the one evaluation, :mod:`seqocr.inference.evaluate`);
    with --report the images of the worst readings are kept (with their attention maps from the PyTorch reader) for
    DIR/report.html. Each unreadable image is named as it is met and the others scored; the status is then 1, as
    ``read``'s: metrics that leave images out are not a clean result."""
    from tqdm import tqdm

    from ..data import iter_labelled
    from ..inference.engine import TORCH
    from ..inference.evaluate import evaluate_reader

    # checked before the evaluation, created after it; a predictions file is a report, replaced by the next run
    args.predictions = str(_output_file(args.predictions or "predictions.tsv", force=True, inputs=(args.data,),
                                        make_folder=False))
    folder = planned_folder(args.report, "--report") if args.report else None
    reader = _predictor(args, attention=folder is not None and args.beam == 1)
    worst = None
    if folder is not None:
        from ..inference.report import WorstReadings

        worst = WorstReadings()
    max_len = reader.model.max_len if reader.engine == TORCH else int(reader.metadata.get("max_len", DECODER_STEPS))
    unreadable: list[str] = []
    with tqdm(desc="eval", unit="image", disable=not show_progress(args), leave=False, file=sys.stderr) as bar:
        def say(message: str) -> None:  # stdout may be --json
            tqdm.write(message, file=sys.stderr)

        samples = _named_unreadable(iter_labelled(args.data, reader.charset, max_len - 1, warn=say), unreadable,
                                    say, bar)
        metrics, rows = evaluate_reader(reader, samples, args.batch_size, on_read=worst,
                                        attention=worst is not None and reader.engine == TORCH and args.beam == 1)
    shown = _report(args, metrics, rows, reader.engine, reader.lm_name)
    if folder is not None:
        from ..inference.report import write_report

        folder.mkdir(parents=True, exist_ok=True)
        path = write_report(folder, shown, rows, worst, reader.spec, args.data,
                            f"{args.onnx or args.checkpoint or 'shipped'} ({reader.engine})")
        print(f"report: {path}", file=sys.stderr if args.json else sys.stdout)
    if unreadable:
        many = len(unreadable) > 1
        print(f"seqocr: error: {args.data}: {len(unreadable)} unreadable image{'s' if many else ''} (named above) "
              f"{'were' if many else 'was'} not scored", file=sys.stderr)
        return 1
    return 0


def _named_unreadable(samples, unreadable: list[str], say, bar):
    """``samples`` (``(image, text, where)``; ``image`` None: unreadable, ``text`` the reason, which names the file)
    passed on, each unreadable one named through ``say`` as it is met and kept in ``unreadable``."""
    for image, text, where in samples:
        if image is None:
            unreadable.append(where)
            say(f"seqocr: error: {text}")
        bar.update(1)
        yield image, text, where


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

    from ..imaging.preprocess import load_image
    from ..inference.postprocess import reject_below

    paths, status = _image_paths(args.images)
    if not paths:
        return status
    folder = _show_folder(args)
    predictor = _predictor(args, attention=folder is not None)
    from ..inference.engine import TORCH

    maps = folder is not None and predictor.engine == TORCH  # attention maps: PyTorch only
    if folder is not None and not maps:
        _check_show(predictor)
    pictures, drawn = _picture_names(paths, folder), 0
    show = len(paths) > PROGRESS_OVER and show_progress(args)
    with tqdm(total=len(paths), unit="image", disable=not show, leave=False, file=sys.stderr) as bar:
        for start in range(0, len(paths), args.batch_size):  # read and printed batch by batch: memory stays flat
            images = []
            for k, path in enumerate(paths[start:start + args.batch_size], start):
                try:
                    images.append((k, load_image(path, max_pixels=args.max_pixels)))
                except DataError as e:
                    bar.write(f"seqocr: error: {e}", file=sys.stderr)
                    status = 1
            readings = reject_below(predictor.read([im for _, im in images], args.batch_size, attention=maps),
                                    args.min_confidence)
            for (k, image), r in zip(images, readings):
                print(json.dumps({"image": paths[k], **r.as_dict(), "engine": predictor.engine,
                                  "lm": predictor.lm_name}, ensure_ascii=False)
                      if args.json else f"{paths[k]}\t{r.text}\t{r.confidence:.4f}")
                if folder is not None:
                    folder.mkdir(parents=True, exist_ok=True)  # with the first picture: none, no folder
                    _save_picture(image, r, predictor.spec, paths[k], pictures[k])
                    drawn += 1
            bar.update(min(args.batch_size, len(paths) - start))
    if drawn:
        what = "attention picture" if maps else "picture of where the model read"
        print(f"seqocr: {drawn} {what}{'s' if drawn > 1 else ''} in {folder}/ (NAME.attention.png)",
              file=sys.stderr)
    return status


def _show_folder(args: argparse.Namespace) -> Path | None:
    """``read --show DIR``: the folder, checked once it is known that the reader draws something (attention maps,
    or the regions an ONNX graph that cuts the views itself outputs: :func:`_check_show`); created when the first
    picture is drawn."""
    if not args.show:
        return None
    from ..inference.engine import ONNXRUNTIME
    from ..install import install_hint

    if not args.onnx and _engine(args, attention=True) == ONNXRUNTIME:  # the exported graph has no attention output
        raise ConfigError("--show draws attention maps, which only the PyTorch reader gives: "
                          f"install torch ({install_hint('torch')})")
    return planned_folder(args.show, "--show")


def _check_show(predictor) -> None:
    """``read --show`` with ``--onnx``: the graph must say where it read (its regions: a graph that reads pixels),
    since it has no attention maps to draw."""
    if not getattr(predictor, "reads_pixels", False):
        raise ConfigError("--show draws attention maps, which only the PyTorch reader gives, or the regions a "
                          "graph that reads pixels outputs; this ONNX model has neither: drop --onnx, or export it "
                          "again (seqocr export)")


def _picture_names(paths: list[str], folder: Path | None) -> list[Path]:
    from ..inference.attention import show_names

    return show_names(paths, folder) if folder is not None else []


def _save_picture(image, reading, spec, title: str, out: Path) -> None:
    from ..inference.attention import render_reading

    render_reading(image, reading, spec, title=title).save(out)


def add(command) -> None:
    """Register the command(s) of this module; ``command(name, help)`` makes a subparser."""
    e = command("eval", "evaluate a model on labelled data")
    e.add_argument("--checkpoint", help="a .pt checkpoint or .safetensors weights (default: the shipped model)")
    e.add_argument("--data", required=True, metavar="SOURCE",
                   help="any data source: a labels file (path<TAB>text), an LMDB folder, a folder of FSNS TFRecord "
                        "shards, or synth:split=test,n=N,seed=K (generated signs); unreadable images are named, the "
                        "others scored, and the exit status is 1")
    e.add_argument("--batch-size", type=POSITIVE, default=32, help="images read together")
    e.add_argument("--predictions", help="predictions file (default: ./predictions.tsv)")
    e.add_argument("--json", action="store_true", help="print the metrics as one JSON object (with the engine)")
    e.add_argument("--onnx", help="evaluate an exported ONNX model with ONNX Runtime (no torch needed)")
    e.add_argument("--threads", type=AT_LEAST_ZERO, default=0, help="CPU threads (0: the library's default)")
    e.add_argument("--bf16", action="store_true", help="bf16 autocast")
    e.add_argument("--beam", type=BEAM, default=1, metavar="N", help=BEAM_HELP)
    e.add_argument("--min-confidence", type=CONFIDENCE, default=0.0, metavar="X", help=MIN_CONFIDENCE_HELP +
                   "; scored as empty, and the coverage and exact match of the kept are reported")
    e.add_argument("--report", metavar="DIR",
                   help="also write DIR/report.html: metrics, a confidence-vs-accuracy plot, wrong readings by kind, "
                        "character confusions, the worst readings with their images and attention (attention: "
                        "PyTorch, which --report reads with unless --onnx)")
    e.set_defaults(func=_eval)

    r = command("read", "read the text of images")
    r.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files (4-view strips or single signs), folders (their images, recursively) or - "
                        "(paths on stdin, one a line)")
    r.add_argument("--checkpoint", help="a .pt checkpoint or .safetensors weights (default: the shipped model)")
    r.add_argument("--onnx", help="read with an exported ONNX model and ONNX Runtime (no torch needed)")
    r.add_argument("--json", action="store_true",
                   help='one {"image", "text", "confidence", "char_probs", "rejected", "engine", "lm"} object per line')
    r.add_argument("--batch-size", type=POSITIVE, default=32, help="images read together")
    r.add_argument("--bf16", action="store_true", help="bf16 autocast")
    r.add_argument("--beam", type=BEAM, default=1, metavar="N", help=BEAM_HELP)
    r.add_argument("--max-pixels", type=POSITIVE, default=DEFAULT_MAX_PIXELS,
                   help="pixels per image; a larger one is reported, not decoded")
    r.add_argument("--min-confidence", type=CONFIDENCE, default=0.0, metavar="X",
                   help=MIN_CONFIDENCE_HELP + ": its text is left empty")
    r.add_argument("--show", metavar="DIR",
                   help="also draw DIR/NAME.attention.png for each image: where on it each view was read, the views, "
                        "the text with each character's probability, and where the model looked for each character "
                        "(attention: PyTorch reader; with --onnx, a graph that reads pixels draws its regions)")
    r.set_defaults(func=_read)
    for parser in (e, r):
        add_engine(parser)
        add_reading(parser)
        add_read_device(parser)
        add_no_progress(parser)
        add_guide(parser)
