"""scripts/mutation.py (`make mutation`): a stopped run continues from its verdicts."""

import json

from scripts.mutation import keep_killed


def test_a_stopped_run_keeps_its_killed_mutants_and_runs_the_rest_again(tmp_path):
    """Killed (1) stays; survived (0), no test (33) and not run (None) run again; the functions' hashes (mutmut's
    test of an unchanged function) are carried."""
    meta = tmp_path / "old.meta"
    codes = {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 0, "m.x_g__mutmut_1": 33, "m.x_g__mutmut_2": None}
    meta.write_text(json.dumps({"exit_code_by_key": codes, "hash_by_function_name": {"x_f": "ab", "x_g": "cd"}}))
    into = tmp_path / "mutants" / "src" / "seqocr" / "inference" / "m.py.meta"
    assert keep_killed(meta, into) == 1
    seeded = json.loads(into.read_text())
    assert seeded["exit_code_by_key"] == {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": None, "m.x_g__mutmut_1": None,
                                          "m.x_g__mutmut_2": None}
    assert seeded["hash_by_function_name"] == {"x_f": "ab", "x_g": "cd"}
