"""The FastAPI application and its routes, and running it with uvicorn on a bound socket (:mod:`seqocr.serve`)."""

# no `from __future__ import annotations`: FastAPI resolves the endpoint's `Request` annotation at runtime,
# and it is imported inside create_app so that fastapi stays an optional dependency.
import asyncio
import gc
import signal
import socket
import sys
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.labels import write_labels_zip
from ..errors import ConfigError, DataError
from ..fsns import MAX_LABEL
from ..imaging.preprocess import crop_regions, cut_views, prepare_views, region_layout
from ..inference.attention import attention_payload
from ..inference.beam import MAX_BEAM
from ..inference.postprocess import Reading, check_min_confidence, reject_below
from ..inference.reader import Reader
from .batcher import Allocator, Batcher
from .limits import (
    BadRequest,
    ClientLimit,
    Limits,
    client_key,
    decode_image,
    draining_server,
    limited_request,
    parse_form,
    payload_images,
    service_protocol,
    uploaded,
)

WEB = Path(__file__).parent.parent / "web"  # the page at /: its files, by name, and their media types
WEB_FILES = {"index.html": "text/html; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
             "labels.js": "text/javascript; charset=utf-8",
             "page.css": "text/css; charset=utf-8"}


def attention_refusal(reader: Reader) -> "str | None":
    """Why ``reader`` cannot give attention maps, or None when it can: only the PyTorch reader reading greedily
    has them (the exported ONNX graph outputs ids and probabilities; a beam mixes several hypotheses' steps)."""
    from ..inference.onnx_reader import OnnxReader

    if isinstance(reader, OnnxReader):
        return "attention maps need the PyTorch model; this service runs an ONNX model (seqocr serve --torch has them)"
    search = getattr(reader, "search", None)
    if search is not None and search.guided:
        return ("attention maps come with greedy reading only; this service reads with a language model or a "
                "gazetteer (seqocr serve --torch --no-lm has them)")
    if getattr(reader, "beam", 1) > 1:
        return "attention maps come with greedy reading only; this service reads with a beam"
    return None


def beam_limit(reader: Reader) -> int:
    """The widest beam ``reader`` can read with: :data:`~seqocr.inference.beam.MAX_BEAM`, or 1 for an ONNX model
    without its step graph (exported without ``--beam``)."""
    return MAX_BEAM if getattr(reader, "beam_ready", True) else 1


def wants_beam(value: "str | None", limit: int) -> "int | None":
    """The ``beam`` query parameter: an integer from 1 to ``limit``; None when absent (the reader's own)."""
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= limit):
        hint = " (this service's ONNX model has no step graph: seqocr export --beam)" if limit == 1 else ""
        raise BadRequest(400, f"beam must be an integer from 1 to {limit}, got {value[:20]!r}{hint}")
    return int(value)


def wants_attention(value: str) -> bool:
    """The ``attention`` query parameter: 1/true/yes or 0/false/no (or absent)."""
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("", "0", "false", "no"):
        return False
    raise BadRequest(400, f"attention must be 0 or 1, got {value[:20]!r}")


DEFAULT_LIMITS = Limits()


def create_app(reader: Reader, limits: Limits = DEFAULT_LIMITS, model_info: "dict | None" = None,
               min_confidence: float = 0.0, allocator: "Allocator | None" = None):
    """The service's application: its error handlers, the page, /healthz, /v1/read and /v1/dataset."""
    from fastapi import FastAPI

    check_min_confidence(min_confidence)
    app = FastAPI(title="seqocr", version="1", summary="Read street-name signs (FSNS 4-view images or photos)")
    app.add_middleware(ClientLimit, limit=limits.max_client_requests)
    add_error_handlers(app)
    add_page_routes(app, reader, model_info or {})
    add_read_route(app, reader, limits, Batcher(reader, limits, allocator), min_confidence)
    add_dataset_route(app, reader, limits)
    return app


def add_error_handlers(app) -> None:
    """Every error as ``{"error": message}`` with its status: ours, Starlette's (404, 405) and FastAPI's 422."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(BadRequest)
    async def _bad(_: Request, e: BadRequest):
        return error(e.status, e.message)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, e: HTTPException):
        return error(e.status_code, str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError):
        return error(422, "invalid request")


def add_page_routes(app, reader: Reader, model_info: dict) -> None:
    """``/healthz`` (the model, what it can do, the characters a label may hold) and the page's files."""
    from fastapi.responses import Response

    refusal, beams = attention_refusal(reader), beam_limit(reader)
    pages = {name: (WEB / name).read_bytes() for name in WEB_FILES}  # a few kB, read once
    charset_chars = "".join(sorted(reader.charset.aliases))  # every character a label may hold (the page checks)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "engine": getattr(reader, "engine", "torch"), **model_info,
                "attention": refusal is None, "max_beam": beams,
                "charset": charset_chars, **({"attention_refusal": refusal} if refusal else {})}

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(pages["index.html"], media_type=WEB_FILES["index.html"])

    @app.get("/page/{name}", include_in_schema=False)
    async def page_file(name: str) -> Response:
        if name not in WEB_FILES:
            raise BadRequest(404, f"no page file {name[:40]!r}")
        return Response(pages[name], media_type=WEB_FILES[name])


def add_read_route(app, reader: Reader, limits: Limits, batcher: Batcher, min_confidence: float) -> None:
    """``POST /v1/read``: the request's images read together with other requests' by ``batcher``."""
    from fastapi import Request

    refusal, beams = attention_refusal(reader), beam_limit(reader)

    @app.post("/v1/read", responses={400: {}, 413: {}, 415: {}})
    async def read(request: Request) -> dict:
        """Read one or more images: multipart field `images` (repeatable) or JSON `{"images": [base64]}`;
        `?attention=1` adds each character's attention map."""
        attention = wants_attention(request.query_params.get("attention", ""))
        if attention and refusal:
            raise BadRequest(400, refusal)
        beam = wants_beam(request.query_params.get("beam"), beams)
        if beam == getattr(reader, "beam", 1):
            beam = None  # the reader's own width: batched with the requests that name none
        if attention and (beam or 1) > 1:
            raise BadRequest(400, "attention maps come with greedy reading only; ask for beam=1 or no beam")
        images = await request_images(request, limits)
        prepared = await asyncio.to_thread(
            lambda: [prepare(decode_image(data, i, limits), reader, attention) for i, data in enumerate(images)])
        arrays = [array for array, _ in prepared]
        try:
            readings: list[Reading] = await asyncio.gather(
                *[asyncio.wrap_future(f) for f in batcher.submit(arrays, attention, beam, client_key(request.scope))])
        except asyncio.CancelledError:  # uvicorn cancels what is still in flight when the shutdown grace ends
            raise BadRequest(503, "the service shut down before this request was read (shutdown grace of "
                                  f"{limits.shutdown_grace_s:g} s)") from None
        return {"results": [result(r, attention, layout)
                            for r, (_, layout) in zip(reject_below(readings, min_confidence), prepared)]}


async def request_images(request, limits: Limits) -> list[bytes]:
    """The image files of a /v1/read request, multipart or JSON, read within ``limits`` (400, 413, 415 otherwise)."""
    request = limited_request(request, limits)
    content_type = request.headers.get("content-type", "")
    form_images = None
    if content_type.startswith("multipart/form-data"):
        form = await parse_form(request, limits.max_images + 1)
        form_images = await uploaded(form.getlist("images"))
        await form.close()
    body = b"" if form_images is not None else await request.body()
    images = payload_images(content_type, body, form_images)
    if not images:
        raise BadRequest(400, "no images in the request")
    if len(images) > limits.max_images:
        raise BadRequest(413, f"{len(images)} images, over the limit of {limits.max_images} per request")
    return images


def add_dataset_route(app, reader: Reader, limits: Limits) -> None:
    """``POST /v1/dataset``: checked readings as a training set (the page's "Download checked")."""
    from fastapi import Request
    from fastapi.responses import Response

    @app.post("/v1/dataset", responses={400: {}, 413: {}, 415: {}})
    async def dataset(request: Request) -> Response:
        """Checked readings as a training set: multipart `images` (files) and `texts` (one per image, in order)
        -> a zip of images/ and labels.tsv (paths relative to it), the layout configs/finetune.yaml reads."""
        request = limited_request(request, limits)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise BadRequest(415, "send multipart/form-data with fields 'images' and 'texts'")
        form = await parse_form(request, 2 * MAX_DATASET_IMAGES + 1)
        files, texts = form.getlist("images"), [str(t) for t in form.getlist("texts")]
        images = await uploaded(files)
        await form.close()
        if not images or len(images) != len(texts) or len(images) > MAX_DATASET_IMAGES:
            raise BadRequest(400, f"expected 1 to {MAX_DATASET_IMAGES} images, each with a text; got "
                                  f"{len(images)} images and {len(texts)} texts")
        names = [getattr(f, "filename", None) or f"image-{k}.png" for k, f in enumerate(files)]
        zipped = await asyncio.to_thread(labelled_zip, names, images, texts, reader.charset, limits)
        return Response(zipped, media_type="application/zip",
                        headers={"Content-Disposition": 'attachment; filename="seqocr-labels.zip"'})


MAX_DATASET_IMAGES = 1000  # images in one /v1/dataset request (the body limit applies as well)

def labelled_zip(names: list[str], images: list[bytes], texts: list[str], charset, limits: Limits) -> bytes:
    """The zip of :func:`~seqocr.data.labels.write_labels_zip`, each image checked to decode first (400/413
    naming it otherwise), each label checked against the model's charset (400 naming it)."""
    for k, data in enumerate(images):
        decode_image(data, k, limits)
    try:
        return write_labels_zip(list(zip(names, images, texts)), charset, MAX_LABEL)
    except DataError as e:
        raise BadRequest(400, str(e)) from None


def prepare(img: Image.Image, reader: Reader, attention: bool) -> tuple[np.ndarray, "dict | tuple | None"]:
    """An uploaded image as the model reads it (:meth:`~seqocr.inference.reader.Reader.prepare`: its pixels, for
    a model that cuts its views itself) and, when its attention is asked for, which of the upload's tiles each view
    the model read came from: ``{"tiles": T, "sources": [tile of view 0, ...]}`` (an FSNS strip of 2 real views
    and 2 noise tiles reads tiles 0, 1, 0, 1); a model that reads each view's text region (``model.crop``) adds
    ``"crops"``: each view's region, [x0, y0, x1, y1] in fractions of its tile. Where the model cuts the views
    itself the layout comes from the regions of its reading (:func:`result`): here only the image's size."""
    spec = reader.spec
    if reader.reads_pixels:
        return reader.prepare([img])[0], (img.size if attention else None)
    views, tiles, sources = cut_views(img, spec.num_views)  # cut once: the array and the layout come from it
    x, crops = prepare_views(views, spec)
    if not attention:
        return x, None
    layout = {"tiles": tiles, "sources": sources}
    if spec.crop:
        layout["crops"] = crop_regions(views, crops, spec)
    return x, layout


def result(reading: Reading, attention: bool, layout: "dict | tuple | None" = None) -> dict:
    """One reading as JSON: with ``attention``, its maps and the uploaded tile of each view too (null for a
    rejected reading, which has no text); ``layout`` an image's size where the reading's regions give it."""
    if not attention:
        return reading.as_dict()
    if isinstance(layout, tuple) and reading.regions is not None:
        layout = region_layout(reading.regions, layout, len(reading.regions))
    maps = None if reading.attention is None else {**attention_payload(reading.attention), "views": layout}
    return {**reading.as_dict(), "attention": maps}


def bind(host: str, port: int) -> socket.socket:
    """The service's socket, bound before anything else is done, so that a port in use or a bad host is one clear
    error at once, not after the model has loaded or from a server that logs "startup complete" and then exits."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None
    return sock


def serve(reader: Reader, sock: socket.socket, limits: Limits, model_info: dict, min_confidence: float = 0.0,
          allocator: "Allocator | None" = None) -> None:
    """Serve on a socket from :func:`bind` until interrupted, after saying on stderr where (the port chosen by the
    system for port 0 included)."""
    import uvicorn

    config = uvicorn.Config(create_app(reader, limits, model_info, min_confidence, allocator), log_level="info",
                            http=service_protocol(limits.header_timeout_s),
                            timeout_graceful_shutdown=limits.shutdown_grace_s)
    if threading.current_thread() is threading.main_thread():
        # uvicorn answers SIGTERM by closing the socket and finishing the requests in flight (for up to the grace
        # period), then raises SIGTERM again under the handler it found: Python's default would kill the process
        # (status 143) after a clean shutdown. This one lets it return, and `seqocr serve` exit 0.
        signal.signal(signal.SIGTERM, lambda *_: None)
    # The model and the libraries are loaded for good: frozen out of the collector's reach, they cost no pause while
    # serving, and no collection at exit (which took 25 s after a SIGTERM on a machine busy with training).
    gc.freeze()
    sock.listen()  # connections are queued from here; uvicorn accepts them as it starts
    host, port = sock.getsockname()[:2]
    print(f"seqocr serve: listening on http://{f'[{host}]' if ':' in host else host}:{port}", file=sys.stderr,
          flush=True)
    draining_server(config).run(sockets=[sock])
