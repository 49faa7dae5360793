"""`seqocr serve`."""

from __future__ import annotations

import argparse

from ..imaging.preprocess import DEFAULT_MAX_PIXELS
from .common import (
    AT_LEAST_ZERO,
    BEAM,
    BEAM_HELP,
    CONFIDENCE,
    MIN_CONFIDENCE_HELP,
    POSITIVE,
    _number,
    _predictor,
    add_engine,
    add_guide,
    add_read_device,
)


def _serve(args: argparse.Namespace) -> int:
    import fastapi  # noqa: F401 - the [serve] extra: if it is missing, main says so before any work
    import uvicorn  # noqa: F401

    from ..serve import Allocator, Limits, bind, serve

    allocator = Allocator()
    allocator.settle()  # before the model's and the service's threads make their malloc arenas
    limits = Limits(max_body_bytes=int(args.max_body_mb * 1024 * 1024), max_images=args.max_images,
                    max_pixels=args.max_pixels, max_batch=args.max_batch,
                    max_client_requests=args.max_client_requests, body_timeout_s=args.body_timeout,
                    header_timeout_s=args.header_timeout, shutdown_grace_s=args.grace)
    with bind(args.host, args.port) as sock:  # a port in use is refused before the model loads
        reader = _predictor(args)
        info = {"model": args.onnx or args.checkpoint or "shipped", "engine": reader.engine,
                "runtime": reader.engine, "min_confidence": args.min_confidence, "beam": reader.beam,
                "lm": reader.lm_name}
        serve(reader, sock, limits, info, args.min_confidence, allocator)
    return 0


def add(command) -> None:
    """Register the command(s) of this module; ``command(name, help)`` makes a subparser."""
    v = command("serve", "an HTTP service: POST /v1/read, GET /healthz, /docs")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    v.add_argument("--port", type=_number(int, 0, 65535), default=8000, help="port to listen on (0: any free one)")
    v.add_argument("--checkpoint", help="a .pt checkpoint or .safetensors weights (default: the shipped model)")
    v.add_argument("--onnx", help="serve an exported ONNX model with ONNX Runtime (no torch needed; the page then "
                   "shows readings without attention maps, which --torch gives)")
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
    add_read_device(v)
    add_engine(v)
    add_guide(v)
