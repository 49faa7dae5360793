"""Run the fuzz targets of ``tests/fuzz/targets.py`` from the committed seed corpus, each for a bounded time.

Usage: .venv/bin/python -m scripts.fuzz [TARGET ...] [--seconds 60] [--engine auto|atheris|mutate] [--out fuzz-out]

Every target runs in its own process. With atheris installed (``pip install atheris``; ``auto`` picks it) the
run is coverage-guided by libFuzzer over seqocr, Pillow, PyYAML, python-multipart and Starlette; otherwise a
mutation loop here mutates the seed files at random (bit flips, interesting integers, cuts, splices). Both keep
the contract's other two halves: a time limit per input (``--timeout``, a hang is a failure) and a memory limit
(``--rss-mb`` above what the process held at start; an address-space limit makes a runaway allocation fail).

A failing input is written to ``OUT/TARGET/`` (``crash-*``, ``timeout-*``, ``oom-*``) with its traceback in the
log; a fix gets a regression test by copying the input to ``tests/fuzz/regressions/TARGET/``. Exit status 1 if
any target failed. Prints one summary line per target: executions, seconds, failures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
REGRESSIONS = ROOT / "tests" / "fuzz" / "regressions"
INSTRUMENTED = ["seqocr", "PIL", "yaml", "multipart", "python_multipart", "starlette", "fastapi", "safetensors"]


class Hang(Exception):
    """An input ran past the time limit."""


def seeds(target: str) -> list[bytes]:
    """The target's seed corpus and its regression inputs, in name order."""
    files = sorted((CORPUS / target).glob("*")) + sorted((REGRESSIONS / target).glob("*"))
    return [p.read_bytes() for p in files if p.is_file()]


# -- the mutation engine (used when atheris is missing, and by the tests) -----------------------------------------
INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 31, 1 << 62, (1 << 64) - 1]


def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    """``data`` with 1 to 8 random edits: a bit flipped, a byte or a 2/4/8-byte integer overwritten with an
    interesting value, a range deleted, duplicated or cut off, a splice with another seed."""
    b = bytearray(data or b"\0")
    for _ in range(rng.randint(1, 8)):
        op, pos = rng.randrange(7), rng.randrange(len(b) or 1)
        if op == 0 and b:
            b[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[pos] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
        elif op == 2:
            size = rng.choice([2, 4, 8])
            value = rng.choice(INTERESTING) & ((1 << 8 * size) - 1)
            b[pos:pos + size] = value.to_bytes(size, rng.choice(["little", "big"]))
        elif op == 3:
            del b[pos:pos + rng.randint(1, 64)]
        elif op == 4:
            end = min(len(b), pos + rng.randint(1, 256))
            b[pos:pos] = b[pos:end] * rng.randint(1, 4)
        elif op == 5:
            del b[pos:]
        elif others:
            other = rng.choice(others)
            cut = rng.randrange(len(other) + 1)
            b[pos:] = other[cut:]
        if not b:
            b = bytearray(b"\0")
    return bytes(b[:1 << 20])


def inputs(target: str, rng: random.Random) -> Iterator[bytes]:
    """The seeds once each, then mutations of them without end."""
    pool = seeds(target)
    yield from pool
    while True:
        yield mutate(rng.choice(pool), rng, pool)


def _alarm(signum, frame):
    raise Hang()


def run_one(fn: Callable[[bytes], None], data: bytes, timeout: float) -> str | None:
    """None when ``fn(data)`` kept the contract within ``timeout`` seconds of CPU time (and 10 times that of wall
    time, for a wait that burns no CPU), else the failure's kind and traceback. CPU time, because on a machine
    shared with a training run a wall-clock limit would also measure the other work."""
    old = signal.signal(signal.SIGPROF, _alarm), signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_PROF, timeout)
    signal.setitimer(signal.ITIMER_REAL, 10 * timeout)
    try:
        fn(data)
        return None
    except Hang:
        return f"timeout: over {timeout:g} s of CPU time or {10 * timeout:g} s of wall time"
    except MemoryError:
        return "oom: " + traceback.format_exc(limit=-6)
    except Exception:  # noqa: BLE001 - any other exception breaks the contract: that is what is being looked for
        return "crash: " + traceback.format_exc(limit=-12)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, old[0])
        signal.signal(signal.SIGALRM, old[1])


def save(out: Path, kind: str, data: bytes) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{kind}-{hashlib.sha1(data).hexdigest()[:16]}"
    path.write_bytes(data)
    return path


def short_run(target: str, fn: Callable[[bytes], None], mutations: int, seed: int = 0, timeout: float = 30.0
              ) -> list[str]:
    """The failures of ``fn`` on the target's seeds, its regression inputs and ``mutations`` mutations of them
    drawn from ``seed``: a deterministic, bounded version of a fuzzing run, for the test suite."""
    rng, pool = random.Random(seed), seeds(target)
    found = [run_one(fn, data, timeout) for data in pool]
    found += [run_one(fn, mutate(rng.choice(pool), rng, pool), timeout) for _ in range(mutations)]
    return [f for f in found if f is not None]


def mutate_loop(target: str, fn: Callable[[bytes], None], seconds: float, timeout: float, out: Path,
                seed: int = 0) -> tuple[int, int]:
    """(executions, failures) of the mutation engine over ``seconds``; failing inputs are saved in ``out``."""
    rng, executions, failures = random.Random(seed), 0, 0
    deadline = time.monotonic() + seconds
    for data in inputs(target, rng):
        if time.monotonic() > deadline:
            break
        executions += 1
        failure = run_one(fn, data, timeout)
        if failure is not None:
            failures += 1
            kind = failure.split(":", 1)[0]
            print(f"{target}: {failure}\n  input saved as {save(out, kind, data)}", file=sys.stderr, flush=True)
    return executions, failures


# -- one target, in this process ---------------------------------------------------------------------------------
def limit_memory(rss_mb: int) -> None:
    """An address-space limit of what the process maps now plus ``rss_mb``: an allocation past it fails."""
    with open("/proc/self/status") as f:
        vm = int(re.search(r"VmSize:\s+(\d+) kB", f.read())[1]) * 1024
    limit = vm + rss_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def child(args: argparse.Namespace) -> int:
    from tests.fuzz import targets

    warnings.filterwarnings("ignore")  # Pillow's decompression-bomb and palette warnings: seqocr's CLI hides them
    out = Path(args.out) / args.target
    engine = args.engine
    if engine in ("auto", "atheris"):
        try:
            import atheris
        except ImportError:
            if engine == "atheris":
                raise SystemExit("fuzz: atheris is not installed: pip install atheris") from None
            engine = "mutate"
    fn = targets.TARGETS[args.target]
    if engine == "mutate":
        for data in seeds(args.target)[:1]:  # import what the target imports before the memory limit is set
            run_one(fn, data, 120)
        limit_memory(args.rss_mb)
        executions, failures = mutate_loop(args.target, fn, args.seconds, args.timeout, out, args.seed)
        print(f"fuzz {args.target}: engine mutate, {executions} executions in {args.seconds:g} s, "
              f"{failures} failures", flush=True)
        return 1 if failures else 0
    with atheris.instrument_imports(include=INSTRUMENTED):
        for data in seeds(args.target):  # the lazy imports happen here, so they are instrumented too
            run_one(fn, data, 120)
    limit_memory(args.rss_mb)
    work = Path(tempfile.mkdtemp(prefix=f"seqocr-fuzz-{args.target}-"))  # new inputs go here, not to the corpus
    out.mkdir(parents=True, exist_ok=True)
    # libFuzzer's own limit is wall time: 10 times ours, so that it only catches what ours (CPU time) cannot
    argv = [sys.argv[0], str(work), str(CORPUS / args.target), f"-max_total_time={int(args.seconds)}",
            f"-timeout={int(10 * args.timeout)}", f"-rss_limit_mb={args.rss_mb + _rss_mb()}", f"-seed={args.seed + 1}",
            f"-artifact_prefix={out}/", "-print_final_stats=1", "-max_len=65536"]
    if (REGRESSIONS / args.target).is_dir():
        argv.insert(2, str(REGRESSIONS / args.target))
    atheris.Setup(argv, lambda data: guarded(fn, bytes(data), args.timeout))
    atheris.Fuzz()  # exits the process
    return 0


class ContractBroken(Exception):
    """What :func:`run_one` reported, raised for libFuzzer to keep the input (as ``crash-*``)."""


def guarded(fn: Callable[[bytes], None], data: bytes, timeout: float) -> None:
    """``fn(data)`` under :func:`run_one`'s CPU-time limit (libFuzzer's ``-timeout`` is wall time, which on a
    machine shared with a training run also measures the other work)."""
    failure = run_one(fn, data, timeout)
    if failure is not None:
        raise ContractBroken(failure)


def _rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


# -- every target, each in a child process ----------------------------------------------------------------------
def summarize(target: str, log: str, seconds: float, out: Path) -> tuple[int, int, str]:
    """(executions, failures, engine) from a child's output and its artifacts folder."""
    if m := re.search(r"fuzz \S+: engine mutate, (\d+) executions", log):
        executions, engine = int(m[1]), "mutate"
    else:
        runs = re.findall(r"stat::number_of_executed_units: (\d+)", log) or re.findall(r"Done (\d+) runs", log)
        executions, engine = (int(runs[-1]) if runs else 0), "atheris"
    failures = len([p for p in (out / target).glob("*") if p.name.split("-")[0] in ("crash", "timeout", "oom",
                                                                                       "leak", "slow")])
    return executions, failures, engine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", help="targets to run (default: all)")
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", "60")))
    ap.add_argument("--engine", choices=("auto", "atheris", "mutate"), default="auto")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take")
    ap.add_argument("--rss-mb", type=int, default=2048, help="memory an input may add to the process's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "fuzz-out"), help="where failing inputs are written")
    ap.add_argument("--child", dest="target", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.target:
        return child(args)
    from tests.fuzz.targets import TARGETS  # the repository root is on the path: python -m scripts.fuzz

    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        ap.error(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    failed = 0
    for target in args.targets or list(TARGETS):
        cmd = [sys.executable, __file__, "--child", target, "--seconds", str(args.seconds), "--engine",
               args.engine, "--timeout", str(args.timeout), "--rss-mb", str(args.rss_mb), "--seed", str(args.seed),
               "--out", args.out]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, errors="replace", cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"})
        executions, failures, engine = summarize(target, proc.stdout + proc.stderr, args.seconds, Path(args.out))
        if proc.returncode != 0 and failures == 0:
            failures = 1
            sys.stderr.write(proc.stderr[-4000:])
        failed += failures > 0
        print(f"{target:17s} engine {engine:8s} {executions:8d} executions  {time.monotonic() - t0:6.1f} s  "
              f"{failures} failures" + (f" (see {Path(args.out) / target})" if failures else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
