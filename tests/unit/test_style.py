"""The code passes ruff's lint rules and format check (configured in pyproject.toml)."""

import os
import subprocess
import sys

import pytest

from tests.paths import REPO


@pytest.fixture(scope="module")
def ruff():
    if os.environ.get("ST_ANALYZER_TEST_MATRIX"):
        pytest.skip("the code is linted once, by the host run; the version matrix tests QGIS versions")
    return [sys.executable, "-m", "ruff"]


@pytest.mark.parametrize("arguments", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff_passes(ruff, arguments):
    result = subprocess.run([*ruff, *arguments], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
