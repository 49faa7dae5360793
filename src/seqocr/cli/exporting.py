"""`seqocr export`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError, SeqocrError
from .common import POSITIVE, _number, _output_file, add_reading, reading_chosen

VERIFY_BEAM = 3  # export --beam --verify: the beam width the ONNX Runtime beam is checked at


def _export(args: argparse.Namespace) -> int:
    folder = Path(args.out).parent
    if not folder.is_dir():  # a mistyped path is not a reason to create folders
        raise ConfigError(f"{args.out}: the folder {folder} does not exist; create it first")
    import torch  # noqa: F401 - export needs torch first: on a torch-free install main names it (not the data extra)

    from ..data.synth import CALIBRATION_SEED, VERIFY_SEED, sign_images
    from ..inference.beam import step_path
    from ..inference.export import export_onnx, quantize_int8, verify_onnx

    out = _output_file(args.out, args.force, (args.checkpoint,))
    int8 = _output_file(out.with_name(f"{out.stem}.int8{out.suffix}"), args.force, (args.checkpoint,)) \
        if args.int8 else None
    graphs = [_output_file(step_path(out), args.force, (args.checkpoint,))] if args.beam else []
    reading = reading_chosen(args)
    out = export_onnx(args.checkpoint, out, beam=args.beam, reading=reading)
    for path in (out, *graphs):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if int8 is not None:
        q = quantize_int8(out, int8, sign_images(CALIBRATION_SEED, 128, "train"))
        print(f"wrote {q} ({q.stat().st_size / 1e6:.1f} MB, int8 convolutions; compare with eval --onnx)")
    if args.verify:
        try:
            images = sign_images(VERIFY_SEED, args.verify_n, "test")
            checks = [verify_onnx(args.checkpoint, out, images, tolerance=args.tolerance, beam=beam,
                                  reading=reading)
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


def add(command) -> None:
    """Register the command(s) of this module; ``command(name, help)`` makes a subparser."""
    x = command("export", "export a model to ONNX (greedy reader, dynamic batch, metadata)")
    x.add_argument("--checkpoint", help="a .pt checkpoint or .safetensors weights (default: the shipped model)")
    x.add_argument("--out", required=True, help="model.onnx, in an existing folder")
    x.add_argument("--verify", action="store_true", help="check ONNX Runtime against PyTorch on generated signs")
    x.add_argument("--beam", action="store_true",
                   help="also write NAME.step.onnx, the decoder's step, which beam search with ONNX Runtime reads "
                        "(read/eval/serve --onnx NAME.onnx --beam N)")
    x.add_argument("--int8", action="store_true",
                   help="also write NAME.int8.onnx: convolutions in int8, calibrated on generated signs")
    add_reading(x)
    x.add_argument("--verify-n", type=POSITIVE, default=64, help="signs to verify on")
    x.add_argument("--force", action="store_true", help="replace an existing --out file")
    x.add_argument("--tolerance", type=_number(float, 0.0), default=1e-3,
                   help="largest gap accepted by --verify in a token's probability or a reading's confidence, "
                        "relative to the value")
    x.set_defaults(func=_export)
