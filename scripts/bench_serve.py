"""Load test of `seqocr serve` from a second process on loopback: bounded in requests and time.

Usage: .venv/bin/python scripts/bench_serve.py [--onnx M | --checkpoint C] [--requests 200] [--clients 8]
       [--images-per-request 4] [--bad-every 5] [--max-seconds 120] [--json benchmarks/serve.json]

Starts the server on a free 127.0.0.1 port, then `--clients` threads send `--requests` requests in all (every
`--bad-every`-th one carries an unreadable image), stopping early at `--max-seconds`. Reports good images/s,
p50/p99 latency of good requests, and the status codes seen: good requests must all answer 200, bad ones 4xx.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from spawn_serve import spawn

SAMPLES = sorted(Path("src/seqocr/resources/samples").glob("sign-*.png"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx")
    ap.add_argument("--checkpoint")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--images-per-request", type=int, default=4)
    ap.add_argument("--bad-every", type=int, default=5)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--json")
    args = ap.parse_args()
    files = [("images", (p.name, p.read_bytes(), "image/png"))
             for p in (SAMPLES * args.images_per_request)[:args.images_per_request]]
    bad = [("images", ("bad.png", b"not an image", "image/png"))]
    model = ["--onnx", args.onnx] if args.onnx else (["--checkpoint", args.checkpoint] if args.checkpoint else [])
    try:
        proc, url = spawn(model)
    except RuntimeError as e:
        raise SystemExit(f"bench_serve: error: {e}") from None
    t_end = time.monotonic() + args.max_seconds

    def one(i: int) -> tuple[bool, int, float]:
        if time.monotonic() > t_end:
            return False, 0, 0.0
        is_bad = args.bad_every and i % args.bad_every == args.bad_every - 1
        t0 = time.perf_counter()
        r = httpx.post(f"{url}/v1/read", files=bad if is_bad else files, timeout=120)
        return bool(is_bad), r.status_code, time.perf_counter() - t0

    try:
        with httpx.Client() as warm:
            warm.post(f"{url}/v1/read", files=files, timeout=120)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = [r for r in pool.map(one, range(args.requests)) if r[1]]
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    good = [lat for b, code, lat in results if not b and code == 200]
    summary = {
        "runtime": "onnxruntime" if args.onnx else "torch", "requests": len(results), "clients": args.clients,
        "images_per_request": args.images_per_request, "wall_s": round(wall, 2),
        "good_images_per_s": round(len(good) * args.images_per_request / wall, 1),
        "p50_ms": round(1000 * statistics.median(good), 1) if good else None,
        "p99_ms": round(1000 * sorted(good)[max(0, int(0.99 * len(good)) - 1)], 1) if good else None,
        "good_requests_not_200": sum(1 for b, code, _ in results if not b and code != 200),
        "bad_requests": sum(1 for b, _, _ in results if b),
        "bad_requests_not_4xx": sum(1 for b, code, _ in results if b and not 400 <= code < 500),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
