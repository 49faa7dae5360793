"""Capacity of `seqocr serve` (shipped model, PyTorch) under glibc malloc settings, one server per variant in turn.

Usage: .venv/bin/python scripts/bench_serve_allocator.py [--variants on,off,arena,mmap,trim] [--seconds 30]

Variants: ``on`` what the service does (serve.Allocator: arenas capped at 2, trims when idle); ``off`` glibc as it
is; ``arena`` the cap alone; ``mmap`` a fixed 1 MiB mmap threshold alone (tried and dropped); ``trim`` the idle
trims alone. Each variant's server is measured with the soak's closed-loop ``capacity()`` (4 clients, one sign per
request); prints requests/s per variant as JSON (a variant named twice is measured twice: interleave them).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request

from soak import capacity, good_request, send
from spawn_serve import listening_url

SERVER = """import sys, seqocr.serve as s
v = sys.argv[1]
if v in ('off', 'trim', 'mmap'):
    s.Allocator.settle = lambda self: False
if v in ('off', 'arena', 'mmap'):
    s.Allocator.trim = lambda self: False
if v == 'mmap':
    import ctypes
    ctypes.CDLL('libc.so.6').mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
from seqocr.cli import main
sys.exit(main(['serve', '--port', '0', '--max-client-requests', '16']))
"""


def start(variant: str) -> tuple[subprocess.Popen, str]:
    with tempfile.TemporaryFile() as err:  # the child keeps its own handle on it
        proc = subprocess.Popen([sys.executable, "-c", SERVER, variant], stdout=subprocess.DEVNULL, stderr=err)
        for _ in range(1200):
            url = listening_url(err)
            if url:
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=1)
                    return proc, url
                except OSError:
                    pass
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"variant {variant}: the server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="on,off,on,off")
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    out: dict[str, list[float]] = {}
    for variant in args.variants.split(","):
        proc, url = start(variant)
        try:
            send(url, *good_request(random.Random(0)))  # warm-up
            out.setdefault(variant, []).append(round(capacity(url, 4, args.seconds), 2))
        finally:
            proc.terminate()
            proc.wait()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
