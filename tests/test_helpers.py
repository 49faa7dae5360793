"""The tests' own rules: what is missing is a skip with its reason on a developer's machine, a failure under CI."""

from __future__ import annotations

import pytest

from tests.helpers import skip_or_fail


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception), ("false", pytest.skip.Exception),
                                         ("true", pytest.fail.Exception), ("1", pytest.fail.Exception)])
def test_skip_or_fail_fails_under_ci(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="no chromium"):
        skip_or_fail("no chromium binary on PATH")
