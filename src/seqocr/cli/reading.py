"""`seqocr eval` and `seqocr read`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError, DataError
from ..fsns import DECODER_STEPS
from ..preprocess import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES
from .common import (
    AT_LEAST_ZERO,
    BEAM,
    BEAM_HELP,
    CONFIDENCE,
    MIN_CONFIDENCE_HELP,
    POSITIVE,
    _folder,
    _output_file,
    _predictor,
    _stderr,
    _torch_free_fallback,
    add_no_progress,
    add_read_device,
    add_read_views,
    views_chosen,
)


def _report(args: argparse.Namespace, metrics: dict, rows: list) -> dict:
    """Prints the metrics and writes the predictions; returns the metrics as printed (with --min-confidence's)."""
    from ..inference.postprocess import write_predictions
    from ..metrics import format_metrics

    bad = int(metrics.get("unreadable", 0))
    if not metrics["samples"]:
        raise DataError(f"{args.data}: no sample could be read" + (f" ({bad} unreadable images)" if bad else ""))
    if bad:
        print(f"{args.data}: {bad} unreadable images skipped (not scored)", file=sys.stderr)
    out = Path(args.predictions)
    write_predictions(out, rows)  # every reading as read, whatever --min-confidence: a threshold can be chosen later
    if args.min_confidence:
        from ..inference.evaluate import score_with_rejection

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

    from ..data import EVAL_SYNTH_SEED, build_dataset
    from ..device import pick_device
    from ..inference.predictor import Predictor
    from ..model.weights import load_model
    from ..preprocess import ImageSpec
    from ..train.distributed import Dist
    from ..train.evaluate import evaluate
    from ..train.loop import EVAL_STREAM

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    model, cfg, charset, _ = load_model(args.checkpoint, **views_chosen(args))
    spec = ImageSpec.from_config(cfg.model)
    reader = Predictor(model, charset, spec, args.bf16, args.beam, device)
    ds = build_dataset(args.data, charset, spec, cfg.model.max_len - 1, synth_split="test", seed=EVAL_SYNTH_SEED,
                       max_skip_fraction=cfg.data.max_skip_fraction, stream=EVAL_STREAM)
    if getattr(ds, "report", None) is not None and ds.report.skipped:
        print(f"{args.data}: {ds.report.summary()}", file=sys.stderr)
    metrics, rows = evaluate(reader, ds, cfg.model.max_len, args.batch_size, progress=not args.no_progress,
                             dist=Dist(device=device))
    _report(args, metrics, rows)
    return 0


def _eval_with_reader(args: argparse.Namespace) -> int:
    """``eval --onnx`` and ``eval --report DIR``: the evaluation through a reader; with --report the images of the
    worst readings are kept (with their attention maps from the PyTorch model) for DIR/report.html."""
    from ..data import iter_labelled
    from ..inference.evaluate import evaluate_reader

    folder = worst = None
    if args.report:
        from ..inference.report import WorstReadings, write_report

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

    from ..inference.postprocess import reject_below
    from ..preprocess import load_image

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
    from ..inference.attention import show_names

    return show_names(paths, folder) if folder is not None else []


def _save_picture(image, reading, spec, title: str, out: Path) -> None:
    from ..inference.attention import render_reading

    render_reading(image, reading, spec, title=title).save(out)


def add(command) -> None:
    """Register the command(s) of this module; ``command(name, help)`` makes a subparser."""
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
    for parser in (e, r):
        add_read_views(parser)
        add_read_device(parser)
        add_no_progress(parser)
