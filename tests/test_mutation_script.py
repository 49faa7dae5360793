"""scripts/mutation.py (`make mutation`): a stopped run continues from its verdicts."""

import json

import pytest

from scripts.mutation import keep_killed

# mutmut's exit codes that this script scores as kills (killed, an internal pytest error, a timeout, a segfault):
# mutmut is `make mutation`'s tool, not the test suite's (the last test checks these against it where installed)
KILLS = {1, 3, 36, -11}


def test_a_stopped_run_keeps_its_killed_mutants_and_runs_the_rest_again():
    """Killed (1, 3), timed out (36) and crashed (-11) stay, as the script scores them; survived (0), no test (33)
    and not run (None) run again; the functions' hashes (mutmut's test of an unchanged function) are carried."""
    codes = {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 0, "m.x_f__mutmut_3": 3, "m.x_f__mutmut_4": 36,
             "m.x_f__mutmut_5": -11, "m.x_g__mutmut_1": 33, "m.x_g__mutmut_2": None}
    seed, kept = keep_killed({"exit_code_by_key": codes, "hash_by_function_name": {"x_f": "ab", "x_g": "cd"}},
                             KILLS.__contains__)
    assert kept == 4
    assert seed["exit_code_by_key"] == {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": None, "m.x_f__mutmut_3": 3,
                                        "m.x_f__mutmut_4": 36, "m.x_f__mutmut_5": -11, "m.x_g__mutmut_1": None,
                                        "m.x_g__mutmut_2": None}
    assert seed["hash_by_function_name"] == {"x_f": "ab", "x_g": "cd"}


def test_verdicts_inside_the_folder_a_run_clears_are_read_first(tmp_path, monkeypatch):
    """--verdicts OUT/NAME/mutants/.../NAME.py.meta (where a stopped run left them) is read before the run clears
    OUT/NAME: the run is given the seed, not a path that no longer exists."""
    import shutil

    from scripts import mutation

    meta = tmp_path / "out" / "metrics" / "mutants" / "src" / "seqocr" / "metrics.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": {"k__mutmut_1": 1, "k__mutmut_2": 0},
                                "hash_by_function_name": {}}))
    seen = {}

    def run_module(name, module, children, out, survivors, first_pass, seed):
        shutil.rmtree(out / name)  # as the real one clears its working copy first
        seen["seed"] = seed
        return {"module": f"{name}.py", "mutants": 2, "killed": 1, "survived": 1, "no_tests": 0, "score": 0.5,
                "minutes": 0.0}

    monkeypatch.setattr(mutation, "run_module", run_module)
    monkeypatch.setattr(mutation, "killed_by_mutmut", KILLS.__contains__)
    assert mutation.main(["--only", "metrics", "--out", str(tmp_path / "out"), "--verdicts", str(meta)]) == 0
    assert seen["seed"]["exit_code_by_key"] == {"k__mutmut_1": 1, "k__mutmut_2": None}


def test_the_kills_are_mutmuts():
    pytest.importorskip("mutmut", reason="mutmut is make mutation's tool, installed by it, not by make test")
    from scripts.mutation import killed_by_mutmut

    assert [c for c in (1, 3, 36, -11, 0, 5, 33, 34, None) if killed_by_mutmut(c)] == [1, 3, 36, -11]
