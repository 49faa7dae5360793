"""Mutation score of the modules the product's correctness rests on (issue 24), with mutmut: each module is mutated
in a copy of the project of its own (build/mutation/NAME), against the test files that cover it, so the whole run
takes about 10 minutes on 2 cores (BENCHMARKS.md). A mutant is killed when a test fails (or times out) with it in
place; the score is killed / (killed + survived). `make mutation` runs it; not part of `make test`.

    python scripts/mutation.py [--only metrics,charset] [--children 2] [--json benchmarks/mutation.json]
                               [--survivors DIR]

Prints one line per module (mutants, killed, survived, score) and a markdown table; with --survivors, writes
DIR/NAME.txt: the surviving mutants' diffs (`mutmut show`), to be judged: a real gap gets a test, an equivalent
mutant is listed with its reason in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# module (under src/seqocr) -> the test files that cover it
MODULES = {
    "metrics": ["tests/test_metrics.py"],
    "charset": ["tests/test_charset.py"],
    "fsns": ["tests/test_charset.py", "tests/test_data.py"],
    "preprocess": ["tests/test_preprocess.py"],
    "inference/postprocess": ["tests/test_postprocess.py"],
    "inference/beam": ["tests/test_beam.py"],  # the search itself; test_beam_read.py reads models with it
    "train/checkpoint": ["tests/test_checkpoint.py"],
    "data/tfrecord": ["tests/test_tfrecord.py"],
    "data/labels": ["tests/test_labels.py"],
    "calibration": ["tests/test_calibration.py"],
}
COPIED = ("src", "tests", "scripts", "configs")
CONFIG = """[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-q -p no:cacheprovider"

[tool.mutmut]
source_paths = ["src"]
# a mutant still running after 5x its tests' time counts as a timeout (killed); mutmut's default of 15x let a few
# hanging load_image mutants hold preprocess.py's run for many minutes
timeout_multiplier = 5.0
only_mutate = [{module}]
pytest_add_cli_args_test_selection = [{tests}]
"""


def mutmut(work: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(exe), *args], cwd=work, capture_output=True, text=True, timeout=timeout, check=False)


def run_module(name: str, tests: list[str], children: int, out: Path, survivors: Path | None) -> dict:
    """Mutate src/seqocr/NAME.py in out/NAME against ``tests``; its counts and score."""
    work = out / name.replace("/", "-")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for part in COPIED:
        shutil.copytree(ROOT / part, work / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    quoted = ", ".join(f'"{t}"' for t in tests)
    (work / "pyproject.toml").write_text(CONFIG.format(module=f'"src/seqocr/{name}.py"', tests=quoted))
    started = time.monotonic()
    run = mutmut(work, "run", "--max-children", str(children))
    if "could not find any test case for any mutant" in run.stdout + run.stderr and not any(
            line.startswith(("def ", "    def ")) for line in
            (ROOT / "src" / "seqocr" / f"{name}.py").read_text().splitlines()):
        # mutmut 3 mutates function bodies only: a module of constants has no mutant (its values are checked by
        # the tests of the modules that use them)
        return {"module": f"{name}.py", "mutants": 0, "killed": 0, "survived": 0, "no_tests": 0, "score": None,
                "minutes": round((time.monotonic() - started) / 60, 1), "note": "constants only: no function"}
    if run.returncode != 0:
        raise SystemExit(f"mutation: error: mutmut run failed for {name}: {(run.stderr or run.stdout)[-600:]}")
    mutmut(work, "export-cicd-stats")
    stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
    killed = stats["killed"] + stats["timeout"]
    judged = killed + stats["survived"]
    row = {"module": f"{name}.py", "mutants": stats["total"], "killed": killed, "survived": stats["survived"],
           "no_tests": stats["no_tests"], "score": round(killed / judged, 4) if judged else None,
           "minutes": round((time.monotonic() - started) / 60, 1)}
    if survivors is not None:
        names = [line.split(":")[0].strip() for line in mutmut(work, "results").stdout.splitlines()
                 if line.strip().endswith(": survived")]
        shows = [mutmut(work, "show", n).stdout for n in names]
        survivors.mkdir(parents=True, exist_ok=True)
        (survivors / f"{name.replace('/', '-')}.txt").write_text("\n".join(shows))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated module names (default: all)")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "mutation", help="working copies")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--survivors", type=Path, help="write each module's surviving mutants here")
    args = parser.parse_args(argv)
    chosen = [m for m in args.only.split(",") if m] or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    rows = []
    for name in chosen:
        row = run_module(name, MODULES[name], args.children, args.out, args.survivors)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| module | mutants | killed | survived | score |\n|---|---:|---:|---:|---:|")
    for r in rows:
        score = f"{r['score']:.1%}" if r["score"] is not None else r.get("note", "-")
        print(f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['survived']} | {score} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
