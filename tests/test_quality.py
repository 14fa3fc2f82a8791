"""The codebase stays lint-clean, type-clean, and its public surface stays tidy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import imgframe

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_check() -> None:
    result = run("ruff", "check", "imgframe", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run("ruff", "format", "--check", "imgframe", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_names_are_sorted_and_importable() -> None:
    assert imgframe.__all__ == sorted(imgframe.__all__)
    for name in imgframe.__all__:
        assert getattr(imgframe, name) is not None, name


def test_py_typed_is_shipped() -> None:
    assert (ROOT / "imgframe" / "py.typed").exists()


def test_import_is_light() -> None:
    code = (
        "import sys, imgframe; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; "
        "assert 'imgframe.sandbox' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "name", ["ImgframeError", "ApiError", "InvalidArgument", "TransportError", "ExportError"]
)
def test_error_tree_has_one_root(name: str) -> None:
    assert issubclass(getattr(imgframe, name), imgframe.ImgframeError)
    assert issubclass(imgframe.InvalidArgument, ValueError)
