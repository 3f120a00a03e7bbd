"""The code gates, run by the suite (so by tools/test.sh and CI): ruff over the whole repository and mypy
over the package, with pyproject.toml's settings, at the versions tools/requirements.txt pins.

Zero findings; a failure prints them.  A gate that is not installed fails: tools/setup.sh installs both.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tools.torch_index import pinned

REPO = Path(__file__).resolve().parents[1]


def gate(tool: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -m tool args`` in the repository root, after checking it is the pinned version (a
    gate's findings change between versions)."""
    if importlib.util.find_spec(tool) is None:
        pytest.fail(f"{tool} is not installed in {sys.executable}: tools/setup.sh installs tools/requirements.txt")
    version = subprocess.run([sys.executable, "-m", tool, "--version"], capture_output=True, text=True, check=True)
    assert pinned(tool) in version.stdout.split(), f"{version.stdout.strip()} runs; tools/requirements.txt pins " \
        f"{pinned(tool)}"
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    done = gate("ruff", "check", "--output-format", "concise", "--no-cache", ".")
    assert done.returncode == 0, f"ruff check found problems:\n{done.stdout}{done.stderr}"


@pytest.mark.slow
def test_mypy_finds_nothing():
    done = gate("mypy")  # files and settings: pyproject.toml [tool.mypy]
    assert done.returncode == 0, f"mypy found problems:\n{done.stdout}{done.stderr}"
    assert "Success: no issues found" in done.stdout
