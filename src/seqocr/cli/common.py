"""What the commands share: argument types, the shared options, the model a reading command loads, output files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..device import DEVICE_HELP  # torch-free
from ..errors import ConfigError
from ..inference.beam import MAX_BEAM
from ..install import install_hint


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


READ_VIEWS_HELP = ("read only the K sharpest of the model's views: faster, the same weights (default: as many as the "
                   "model says, all unless it says fewer; the shipped model reads the 2 sharpest of 4, and a 3rd when "
                   "unsure: --reread-below); alone, exactly K views, the model's early exit off")
REREAD_HELP = ("read a sign again with one view more when its reading is less confident than T, 0 to 1 (0: never; "
               "default: as the model says; the shipped model reads 2 views, and 3 under 0.9)")


def _key_value(text: str) -> str:
    """An argparse type for ``--set``: a malformed override is a usage error, like any other bad argument."""
    key, sep, _ = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, e.g. train.steps=100, got {text!r}")
    return text


def _engine(args: argparse.Namespace, attention: bool = False) -> str:
    """The engine a reading command reads with (:mod:`seqocr.inference.engine`): ``--onnx`` MODEL's ONNX Runtime,
    a ``--checkpoint``'s PyTorch, ``--torch``; with none of them, the shipped model with ONNX Runtime where it is
    installed and reads what was asked alike (``attention``: maps for ``read --show`` and ``eval --report``)."""
    from ..inference.engine import ONNXRUNTIME, TORCH, choose, installed

    torch_asked = getattr(args, "torch", False)
    if args.onnx and args.checkpoint:
        raise ConfigError("--onnx and --checkpoint name two models; give one")
    if args.onnx and torch_asked:
        raise ConfigError("--onnx reads with ONNX Runtime, --torch with PyTorch; give one")
    if args.onnx:
        return ONNXRUNTIME
    if attention and guided(args):
        raise ConfigError("attention maps come with plain greedy reading; read without --lm and --lexicon")
    beam = args.beam if args.beam > 1 or not guided(args) else 2  # guided reading needs the step graph
    engine = choose(args.checkpoint, TORCH if torch_asked else "auto", attention=attention,
                    bf16=getattr(args, "bf16", False), device=args.device, beam=beam, reading=reading_chosen(args))
    if engine == TORCH and not installed("torch"):
        what = (f"{args.checkpoint}: reading a PyTorch checkpoint" if args.checkpoint
                else "--torch: reading with PyTorch")
        raise ConfigError(f"{what} needs torch ({install_hint('torch')}); without torch, read with ONNX Runtime "
                          "(no --torch, or --onnx MODEL)")
    return engine


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def show_progress(args: argparse.Namespace) -> bool:
    """A progress bar only on a terminal: redirected into a file or a pipe, its carriage returns are noise."""
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def planned_folder(path: str, option: str) -> Path:
    """An output folder named by ``option``, checked (no file in the way) but not created: the command creates it
    when it writes into it, so a command that fails first leaves no empty folder behind."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{option} {folder}: exists and is not a folder")
    return folder


def _predictor(args: argparse.Namespace, attention: bool = False):
    """The reader of read, serve and eval: ONNX Runtime or PyTorch (:func:`_engine`), on ``--threads`` where the
    command has it."""
    from ..inference.engine import ONNXRUNTIME

    if getattr(args, "lm", None) and getattr(args, "no_lm", False):
        raise ConfigError("--lm FILE reads with a language model, --no-lm without one; give one")
    engine = _engine(args, attention)
    threads, reading = getattr(args, "threads", 0), reading_chosen(args)
    if engine == ONNXRUNTIME and reading:
        flags = ", ".join(flag for flag, key in READING_FLAGS if key in reading)
        raise ConfigError(f"{flags}: {args.onnx or 'the shipped .onnx model'} reads as it was exported to read; "
                          f"choose with seqocr export {flags} (or read with PyTorch)")
    if engine == ONNXRUNTIME:
        from ..inference.onnx_reader import OnnxReader

        reader = OnnxReader(args.onnx, threads=threads, beam=args.beam, device=args.device, lm=False)
    else:
        from ..inference.predictor import Predictor

        if threads:
            import torch

            torch.set_num_threads(threads)
        reader = Predictor.from_checkpoint(args.checkpoint, bf16=args.bf16, beam=args.beam, device=args.device,
                                           engine="torch", lm=False, reading=reading)
    # the language model beside the model's file guides the reading unless --no-lm, or attention maps are asked
    # for (they come from greedy reading: read --show, eval --report)
    lm = args.lm or (None if getattr(args, "no_lm", False) or attention else reader.lm_file)
    if lm or guided(args):
        reader.guide(lm, args.lexicon, args.lm_weight, args.lm_bonus, accents=not args.as_painted)
    return reader


def _output_file(path: str | Path, force: bool, inputs: tuple[str | None, ...] = (), make_folder: bool = True
                 ) -> Path:
    """A file the command will write: never one of its ``inputs`` or a directory; an existing file only with
    ``--force``. Its folder is created, unless ``make_folder`` is False (the command creates it when it writes)."""
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{out}: is a directory; name the file to write")
    if any(i and Path(i).exists() and out.resolve() == Path(i).resolve() for i in inputs):
        raise ConfigError(f"{out}: is an input of this command; choose another output")
    if out.exists() and not force:
        raise ConfigError(f"{out}: exists; pass --force to replace it")
    if make_folder:
        out.parent.mkdir(parents=True, exist_ok=True)
    return out


READ_DEVICE_HELP = DEVICE_HELP + " (PyTorch; with --onnx, ONNX Runtime's CUDA provider from onnxruntime-gpu)"


def add_read_device(parser: argparse.ArgumentParser) -> None:
    """``--device`` of a reading command (eval, read, serve)."""
    parser.add_argument("--device", default="cpu", help=READ_DEVICE_HELP)


# the reading options a command line can set (--flag, the model's reading option): each reaches the model through
# its reading hook as given (seqocr.model.with_reading), which refuses one the model does not have
READING_FLAGS = (("--read-views", "read_views"), ("--reread-below", "reread_below"))


def add_reading(parser: argparse.ArgumentParser) -> None:
    """``--read-views K`` and ``--reread-below T`` of a reading command (eval, read) and of export."""
    parser.add_argument("--read-views", type=POSITIVE, default=None, metavar="K", help=READ_VIEWS_HELP)
    parser.add_argument("--reread-below", type=CONFIDENCE, default=None,
                        metavar="T", help=REREAD_HELP)


def reading_chosen(args: argparse.Namespace) -> dict:
    """The reading options a command was given, name -> value (load_model's ``reading``; none: {})."""
    return {key: value for flag, key in READING_FLAGS if (value := getattr(args, key, None)) is not None}


def add_guide(parser: argparse.ArgumentParser) -> None:
    """The language model and gazetteer options of read, eval and serve (:meth:`seqocr.inference.reader.Reader.guide`)."""
    from ..inference.decoding import LM_BEAM, LM_BONUS, LM_WEIGHT

    g = parser.add_argument_group("language model and gazetteer")
    g.add_argument("--lm", metavar="FILE", help="fuse this language model of street names (seqocr lm) into a beam "
                   f"search (of --beam, default {LM_BEAM} with it)")
    g.add_argument("--no-lm", action="store_true",
                   help="read without the language model that ships beside the model (seqocr-default.lm.npz beside "
                        "the shipped model; NAME.lm.npz beside NAME.onnx or NAME.safetensors)")
    g.add_argument("--lm-weight", type=_number(float, 0.0), default=LM_WEIGHT, metavar="W",
                   help=f"its weight against the image (default {LM_WEIGHT})")
    g.add_argument("--lm-bonus", type=_number(float, -10.0, 10.0), default=LM_BONUS, metavar="B",
                   help=f"added per character with it, so that fusion does not favour short texts (default {LM_BONUS})")
    g.add_argument("--as-painted", action="store_true",
                   help="keep the accents the model read (by default the language model writes a word's accents as "
                        "the map does where it is far surer of them: EGLISE painted, Église read)")
    g.add_argument("--lexicon", metavar="FILE",
                   help="a gazetteer: one street name a line (UTF-8); a name is read where it fits the image, the text "
                        'as painted where none does ("lexicon": true or false in --json)')


def guided(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "lm", None) or getattr(args, "lexicon", None))


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (there is none either when stderr is not a terminal)")


TORCH_HELP = ("read the shipped model with PyTorch (default: with ONNX Runtime where it is installed, the same "
              "texts several times as fast; what only PyTorch gives, a --checkpoint, attention maps, --bf16, "
              "--read-views, reads with PyTorch anyway)")


def add_engine(parser: argparse.ArgumentParser) -> None:
    """``--torch`` of a reading command (eval, read, serve)."""
    parser.add_argument("--torch", action="store_true", help=TORCH_HELP)
