"""Mutation score of the modules a user's result passes through (issues 24, 39), with mutmut: each module is mutated
in a copy of the project of its own (build/mutation/NAME), against the test files that cover it, one module at a
time (a full run is hours on 2 cores; each module's minutes are in BENCHMARKS.md). A mutant is killed when a test
fails (or times out) with it in place; the score is killed / (killed + survived). `make mutation` runs it; not
part of `make test`.

mutmut runs, for each mutant, the tests that reached the mutated function in the test process. Code that runs in a
child process (`seqocr serve` started by a test, torchrun's ranks) is mutated too (the children import the copy's
mutated source, PYTHONPATH) but mutmut cannot see which tests reach it there; so every mutant that survives, or
that no test reached, gets a second look: the module's ``second_look`` tests (those that drive it in child
processes) run in a fresh pytest with the mutant active, and a failure there kills it.

    python scripts/mutation.py [--only metrics,charset] [--children 2] [--json benchmarks/mutation.json]
                               [--survivors DIR]

Prints one line per module (mutants, killed, survived, score) and a markdown table; with --survivors, writes
DIR/NAME.txt: the surviving mutants' diffs (`mutmut show`), to be judged: a real gap gets a test, an equivalent
mutant is listed with its reason in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Module:
    """A module under src/seqocr (without .py), the test files that cover it, the tests that drive it in child
    processes (pytest arguments: files or node ids, run again for each survivor), and, where only part of a large
    module is the subject, the functions mutated (mutmut's mutant-name globs, e.g. ``*Trainer*resume*``)."""

    tests: tuple[str, ...]
    second_look: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()


# module -> its tests. A module that moves (issue 37 moves the text crop inside the model) changes its key here.
MODULES = {
    # the core (issue 24)
    "metrics": Module(("tests/test_metrics.py",)),
    "charset": Module(("tests/test_charset.py",)),
    "fsns": Module(("tests/test_charset.py", "tests/test_data.py")),
    # the views' cutting, the text crop's boxes applied, the augmentation (not the tests that export ONNX: slow, and
    # they trace the model, not this module)
    "imaging/preprocess": Module(("tests/test_preprocess.py", "tests/test_textcrop.py", "tests/test_pixels.py",
                                  "tests/test_crop_borders.py", "tests/test_glyphs.py", "tests/test_textlines.py",
                                  "tests/test_device_augment.py", "-k", "not onnx")),
    "inference/postprocess": Module(("tests/test_postprocess.py",)),
    "inference/beam": Module(("tests/test_beam.py",)),  # the search itself; test_beam_read.py reads models with it
    "train/checkpoint": Module(("tests/test_checkpoint.py",)),
    "data/tfrecord": Module(("tests/test_tfrecord.py",)),
    "data/labels": Module(("tests/test_labels.py",)),
    "calibration": Module(("tests/test_calibration.py",)),
    # where users are (issue 39)
    # the view picker; not the ONNX export test: tracing through mutmut's trampolines fails its stats run
    "model/views": Module(("tests/test_views.py", "tests/test_reread.py", "-k", "not onnx_runtime")),
    "imaging/textcrop": Module(("tests/test_crop_borders.py", "tests/test_textcrop.py")),  # the text crop
    "data/lmdb_store": Module(("tests/test_lmdb.py",)),
    # the service's tests start servers: run for the survivors of the in-process ones only (a full run of each mutant
    # against them took about 50 s a mutant on 2 cores, and timed out under load)
    "serve/limits": Module(("tests/test_limits.py",), second_look=("tests/test_serve.py",)),
    "serve/app": Module(("tests/test_limits.py", "tests/test_serve.py", "tests/test_shutdown.py"),
                        second_look=("tests/test_shutdown.py",)),
    "inference/evaluate": Module(("tests/test_eval_figures.py", "tests/test_report.py",
                                  "tests/test_training.py::test_evaluation_covers_every_sample",
                                  "tests/test_training.py::test_the_calibration_set_is_read_as_the_evaluation_reads_it"),
                                 second_look=("tests/test_read_inputs.py",)),
    # the training loop's checkpoint and resume, not the whole loop (its other mutants would each retrain)
    "train/loop": Module(("tests/test_training.py", "tests/test_finetune.py",
                          "tests/test_cli.py::test_resume_without_checkpoint",
                          "tests/test_cli.py::test_training_into_a_finished_run_needs_resume"),
                         second_look=("tests/test_distributed.py", "-k", "and_resume"),  # 2 ranks killed, resumed
                         functions=("*Trainer*resume*", "*Trainer*save*", "*loop.x_train__*")),
    "inference/export": Module(("tests/test_onnx.py",)),
    # the ONNX reader's reading path (its session set-up is reached by nearly every ONNX test, each exporting a
    # model: a mutant took about a minute on 2 cores; the reference model's slow export left out)
    "inference/onnx_reader": Module(("tests/test_onnx.py", "tests/test_safe_loading.py", "tests/test_guided_read.py",
                                     "tests/test_beam_read.py", "tests/test_textlines.py",  # its graph takes arrays
                                     "tests/test_reread.py",  # the early exit's graph: memory_below fed
                                     "tests/test_attention.py", "tests/test_serve_attention.py",  # the refusals
                                     "-k", "not reference"),
                                    functions=("*OnnxReader*_greedy*", "*OnnxReader*_guided*", "*OnnxReader*_run*",
                                               "*OnnxReader*read_*", "*OnnxReader*_step_graph*",
                                               "*OnnxReader*_missing_graphs*", "*OrtSteps*", "*SearchStart*")),
    # the language model, the gazetteer and the guided search over them (issue 36)
    "inference/lm": Module(("tests/test_lm.py",)),
    "inference/lexicon": Module(("tests/test_lexicon.py",)),
    # the guided readings in PyTorch (the ONNX Runtime ones export a graph, which mutmut's trampolines break)
    "inference/decoding": Module(("tests/test_lexicon.py", "tests/test_guided_read.py",
                                  "-k", "not onnx_runtime and not beside")),
}
COPIED = ("src", "tests", "scripts", "configs")
CONFIG = """[tool.pytest.ini_options]
testpaths = ["tests"]
# a mutant that makes a test hang (a lock never released, a child never reaped) fails it: mutmut's own timeout
# counts CPU time, which a blocked process does not use
addopts = "-q -p no:cacheprovider --timeout=120"

[tool.mutmut]
source_paths = ["src"]
# mutmut runs the tests in its copy, mutants/: the helpers the tests import from scripts/ and the configs they load
also_copy = ["scripts", "configs"]
# mutmut stops a mutant after (its tests' time + the constant) x the multiplier x 2 CPU seconds, a timeout: its
# default multiplier of 15 let a few hanging load_image mutants hold imaging/preprocess.py's run for many minutes.
# The constant covers what the tests' own times leave out (the service started per test: with mutmut's 1 s, most of
# serve/limits.py's request-parsing mutants "timed out", some the tests pass among them); each timeout is run again
# (recheck_timeouts)
timeout_multiplier = 5.0
timeout_constant = 10.0
only_mutate = [{module}]
pytest_add_cli_args_test_selection = [{tests}]
"""


def child_env(work: Path, mutant: str | None = None) -> dict:
    """The environment of mutmut and of a second look: child processes that tests start import the copy's mutated
    source (mutmut selects the active mutant through MUTANT_UNDER_TEST, which they inherit)."""
    # one thread: mutmut's timeout counts CPU time, which OpenMP's spin-waiting threads burn without progress
    # (serve/limits' mutants "timed out" at 113 CPU-s in 56 s of wall clock)
    env = {"OMP_NUM_THREADS": "1", **os.environ,
           "PYTHONPATH": os.pathsep.join([str(work / "mutants" / "src"), str(work)])}
    if mutant is not None:
        env["MUTANT_UNDER_TEST"] = mutant
    return env


def mutmut(work: Path, *args: str, timeout: float = 4 * 3600) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(exe), *args], cwd=work, capture_output=True, text=True, timeout=timeout, check=False,
                          env=child_env(work))


def statuses(work: Path) -> dict[str, str]:
    """Every mutant's name and mutmut's verdict."""
    out = {}
    for line in mutmut(work, "results", "--all", "True").stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            out[name] = status
    return out


def second_look(work: Path, names: list[str], tests: tuple[str, ...], budget_s: float) -> set[str]:
    """The mutants among ``names`` that ``tests`` kill, each run in a fresh pytest with the mutant active (a run past
    ``budget_s`` counts as killed: a timeout, as mutmut counts it)."""
    killed = set()
    for name in names:
        try:
            run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "0",
                                  *tests], cwd=work, env=child_env(work, name), capture_output=True, timeout=budget_s,
                                 check=False)
        except subprocess.TimeoutExpired:
            killed.add(name)
            continue
        if run.returncode not in (0, 5):
            killed.add(name)
    return killed


def recheck_timeouts(work: Path, verdicts: dict[str, str], tests: tuple[str, ...]) -> dict[str, int]:
    """Each mutant mutmut stopped at its CPU-time limit run again against ``tests`` without that limit (pytest's own
    per-test timeout still ends a hang), for an hour at most: one they fail, or that runs past 10 minutes, stays a
    timeout (killed); one they pass is a survivor. ``verdicts`` is updated; how many went each way."""
    timed_out = [k for k, v in verdicts.items() if v == "timeout"]
    started, checked = time.monotonic(), []
    for k in timed_out:  # an hour at most: the rest stay timeouts, counted as unchecked
        if time.monotonic() - started > 3600:
            break
        checked.append(k)
        if not second_look(work, [k], tests, budget_s=600):
            verdicts[k] = "survived"
    passed = sum(verdicts[k] == "survived" for k in checked)
    return {"killed": len(checked) - passed, "survived": passed, "unchecked": len(timed_out) - len(checked)
            } if timed_out else {}


def killed_by_mutmut(code: int | None) -> bool:
    """Whether mutmut's exit code is a kill as this script scores it: killed, timed out or crashed."""
    from mutmut.stats import status_by_exit_code

    return code is not None and status_by_exit_code[code] in ("killed", "timeout", "segfault")


def keep_killed(meta: dict, killed=killed_by_mutmut) -> tuple[dict, int]:
    """A previous run's verdicts (mutmut's ``.meta`` of the module, read) made the seed of a new run: its killed
    mutants (``killed``: killed, timed out or crashed) stay killed where their function is unchanged (mutmut
    compares each function's hash and runs a changed one's mutants again); every other verdict (survived, no test,
    not run) is cleared, so that tests added since get their chance. The seed and how many were kept."""
    kept = {k: v if killed(v) else None for k, v in meta["exit_code_by_key"].items()}
    return {**meta, "exit_code_by_key": kept}, sum(v is not None for v in kept.values())


def run_module(name: str, module: Module, children: int, out: Path, survivors: Path | None,
               first_pass: bool = False, seed: dict | None = None) -> dict:
    """Mutate src/seqocr/NAME.py in out/NAME against its tests; its counts and score."""
    work = out / name.replace("/", "-")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for part in COPIED:
        shutil.copytree(ROOT / part, work / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    quoted = ", ".join(f'"{t}"' for t in module.tests)
    (work / "pyproject.toml").write_text(CONFIG.format(module=f'"src/seqocr/{name}.py"', tests=quoted))
    # there before mutmut starts: a PYTHONPATH folder missing at start-up is cached as one to skip for good
    (work / "mutants" / "src").mkdir(parents=True)
    if seed is not None:  # read before the folder it may have been in was cleared
        meta = work / "mutants" / "src" / "seqocr" / f"{name}.py.meta"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps(seed))
    started = time.monotonic()
    run = mutmut(work, "run", "--max-children", str(children), *module.functions)
    if "could not find any test case for any mutant" in run.stdout + run.stderr and not any(
            line.startswith(("def ", "    def ")) for line in
            (ROOT / "src" / "seqocr" / f"{name}.py").read_text().splitlines()):
        # mutmut 3 mutates function bodies only: a module of constants has no mutant (its values are checked by
        # the tests of the modules that use them)
        return {"module": f"{name}.py", "mutants": 0, "killed": 0, "survived": 0, "no_tests": 0, "score": None,
                "minutes": round((time.monotonic() - started) / 60, 1), "note": "constants only: no function"}
    if run.returncode != 0:
        raise SystemExit(f"mutation: error: mutmut run failed for {name}: {(run.stderr or run.stdout)[-600:]}")
    verdicts = statuses(work)
    if module.functions:
        verdicts = {k: v for k, v in verdicts.items() if any(fnmatch(k, f) for f in module.functions)}
    rechecked = recheck_timeouts(work, verdicts, module.tests)
    looked = {}
    if module.second_look and not first_pass:
        pending = [k for k, v in verdicts.items() if v in ("survived", "no tests")]
        for k in second_look(work, pending, module.second_look, budget_s=900):
            looked[k] = verdicts[k]
            verdicts[k] = "killed"
    count = lambda *kinds: sum(v in kinds for v in verdicts.values())
    killed, survived = count("killed", "timeout", "segfault"), count("survived")
    judged = killed + survived
    row = {"module": f"{name}.py", "mutants": len(verdicts), "killed": killed, "survived": survived,
           "no_tests": count("no tests"), "score": round(killed / judged, 4) if judged else None,
           "minutes": round((time.monotonic() - started) / 60, 1)}
    if module.functions:
        row["functions"] = list(module.functions)
    if module.second_look and first_pass:
        row["second_look"] = "not run (--first-pass)"
    if looked:
        row["killed_on_second_look"] = len(looked)
    if rechecked:
        row["timeouts_rechecked"] = rechecked
    other = {v for v in verdicts.values()} - {"killed", "timeout", "segfault", "survived", "no tests"}
    if other:
        row["other"] = {v: count(v) for v in sorted(other)}
    if survivors is not None:
        shows = [mutmut(work, "show", k).stdout for k, v in verdicts.items() if v == "survived"]
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
    parser.add_argument("--first-pass", action="store_true",
                        help="skip the second look (the slow tests run again for each survivor)")
    parser.add_argument("--verdicts", type=Path, metavar="META",
                        help="continue a stopped run of the one module --only names: its mutmut .meta file "
                             "(OUT/NAME/mutants/src/seqocr/NAME.py.meta, copied before a new run clears it); "
                             "its killed mutants are kept, the rest run again")
    args = parser.parse_args(argv)
    chosen = [m for m in args.only.split(",") if m] or list(MODULES)
    seed = None
    if args.verdicts is not None:
        if len(chosen) != 1 or not args.verdicts.is_file():
            parser.error("--verdicts needs one module in --only and an existing .meta file")
        seed, kept = keep_killed(json.loads(args.verdicts.read_text()), killed_by_mutmut)
        print(f"{chosen[0]}: {kept} mutants killed before, kept from {args.verdicts}", flush=True)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    rows = []
    failed = []
    for name in chosen:
        try:
            row = run_module(name, MODULES[name], args.children, args.out, args.survivors, args.first_pass, seed)
        except SystemExit as e:  # one module's tests that cannot run under mutmut: said, and the others still run
            print(e, file=sys.stderr, flush=True)
            failed.append(name)
            continue
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| module | mutants | killed | survived | no test reached | score | minutes |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        score = f"{r['score']:.1%}" if r["score"] is not None else r.get("note", "-")
        print(f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['survived']} | {r['no_tests']} | {score} | "
              f"{r['minutes']} |")
    if args.json:  # the modules run now replace their rows; the others' rows are kept (a run is module by module)
        old = json.loads(args.json.read_text()) if args.json.exists() else []
        fresh = {r["module"]: r for r in rows}
        kept = [fresh.pop(r["module"], r) for r in old]
        args.json.write_text(json.dumps(kept + list(fresh.values()), indent=1) + "\n")
    if failed:
        print(f"mutation: error: no score for {', '.join(failed)} (above)", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
