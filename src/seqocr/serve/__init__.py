"""``seqocr serve``: an HTTP service on FastAPI + uvicorn.

* ``POST /v1/read``: images as multipart form field ``images`` (repeatable), or JSON ``{"images": [base64, ...]}``
  -> ``{"results": [{"text", "confidence", "char_probs", "rejected"}, ...]}`` in request order; a reading whose
  confidence is under ``min_confidence`` has ``"text": ""`` and ``"rejected": true``.
  With ``?attention=1`` each result also has ``"attention": {"shape": [V, R, W], "levels": 255, "encoding":
  "base64 uint8", "maps": [...]}``: for each character, where the model looked over V views, R rows and W columns
  of its memory, V·R·W bytes scaled to that character's peak, base64 (about 1.4 kB a character for the shipped
  model; :func:`~seqocr.inference.attention.attention_payload`; PyTorch greedy reading only: another reader answers
  400, and ``/healthz`` says ``"attention": false``), and ``"views": {"tiles": T, "sources": [...]}``: the upload
  was cut into T tiles (4 for a strip, 1 for a single photo) and view v of the maps shows tile ``sources[v]`` (an
  FSNS strip with noise filler tiles is read from its real tiles repeated: 0, 1, 0, 1). ``?beam=K`` reads this request's images with a beam of K
  hypotheses (1 = greedy; default: the service's ``--beam``), from 1 to 32 (1 only for an ONNX model exported
  without ``--beam``; ``/healthz`` says ``max_beam``).
* ``GET /``: a page to drop images on and see what was read and where the model looked (``seqocr/web``; plain
  HTML, CSS and JavaScript, no build step, nothing fetched from elsewhere).
* ``GET /healthz``: liveness and what model is loaded. ``GET /openapi.json``, ``/docs``: the schema.

The model is loaded once at start. Images from concurrent requests are batched together (up to ``max_batch``
images, waiting at most ``max_wait_ms`` for company) on one worker thread, so throughput grows with load; the
batch takes the clients' images in turn, so a client with a long queue does not hold the others back.
Every bad request gets a 4xx with ``{"error": ...}``: a body over ``max_body_bytes`` (413; counted as it arrives,
so a chunked upload with no Content-Length is stopped too), too many images (413), an image over ``max_pixels``
(413, from its header), an undecodable image or bad JSON (400), another content type (415). A bad image fails
only its own request, before it reaches the batcher, so bad requests never slow good ones down much. A body still
arriving after ``body_timeout_s`` gets a 408, and so does a request whose head (request line and headers) has not
arrived in full ``header_timeout_s`` after its first byte or the connection's start (slowloris); a client with
``max_client_requests`` requests in flight gets a 429
for the next. SIGTERM: the connections already queued are accepted, the socket closes (a later client is
refused), requests in flight finish and each connection accepted is answered (for up to ``shutdown_grace_s``),
exit 0; a request whose images are still waiting for or inside the model when the grace ends is answered 503
(``{"error": "the service shut down before this request was read ..."}``).
"""

from .app import WEB, WEB_FILES, bind, create_app, serve
from .batcher import Allocator, Batcher
from .limits import BadRequest, ClientLimit, Limits

__all__ = ["WEB", "WEB_FILES", "Allocator", "BadRequest", "Batcher", "ClientLimit", "Limits", "bind", "create_app",
           "serve"]
