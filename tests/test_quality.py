"""The codebase stays lint-clean, type-clean, and its public surface stays tidy."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import imgframe
from imgframe import errors

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


def test_public_names_are_sorted_and_are_imgframes_own() -> None:
    assert imgframe.__all__ == sorted(imgframe.__all__)
    namespace: dict[str, object] = {}
    exec("from imgframe import *", namespace)
    assert sorted(set(namespace) - {"__builtins__"}) == imgframe.__all__
    for name in imgframe.__all__:
        value = getattr(imgframe, name)
        if name == "__version__":
            assert isinstance(value, str)
            assert re.fullmatch(r"\d+\.\d+\.\d+\S*", value), value
        elif isinstance(value, types.ModuleType):
            assert value.__name__ == f"imgframe.{name}"
        else:  # a class or function defined by imgframe, not one re-exported from elsewhere
            assert (value.__module__.split(".")[0], value.__name__) == ("imgframe", name)


def test_py_typed_is_shipped() -> None:
    assert (ROOT / "imgframe" / "py.typed").exists()


def test_import_is_light() -> None:
    code = (
        "import sys, imgframe; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; "
        "assert 'imgframe.sandbox' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


#: The tree drawn in imgframe/errors.py's docstring: each class with its direct bases.
ERROR_TREE = {
    "ImgframeError": ("Exception",),
    "ConfigError": ("ImgframeError",),
    "CredentialsError": ("ConfigError",),
    "InvalidArgument": ("ImgframeError", "ValueError"),
    "TransportError": ("ImgframeError",),
    "NetworkError": ("TransportError",),
    "BadResponseError": ("TransportError",),
    "BlockedError": ("TransportError",),
    "ApiError": ("ImgframeError",),
    "AuthError": ("ApiError",),
    "PermissionDeniedError": ("ApiError",),
    "RateLimitError": ("ApiError",),
    "NotFoundError": ("ApiError",),
    "DataError": ("ImgframeError",),
    "NotListedError": ("DataError",),
    "ResponseDataError": ("DataError",),
    "EmptyResultError": ("DataError",),
    "IncompleteError": ("DataError",),
    "ExportError": ("ImgframeError",),
    "StoreBusyError": ("ExportError",),
    "ImgframeWarning": ("UserWarning",),
    "DataQualityWarning": ("ImgframeWarning",),
    "ConsistencyWarning": ("ImgframeWarning",),
}


def test_every_error_class_is_in_the_documented_tree() -> None:
    assert sorted(errors.__all__) == sorted(ERROR_TREE)


@pytest.mark.parametrize(("name", "bases"), ERROR_TREE.items(), ids=list(ERROR_TREE))
def test_error_tree_has_one_root(name: str, bases: tuple[str, ...]) -> None:
    cls = getattr(errors, name)
    assert tuple(base.__name__ for base in cls.__bases__) == bases
    assert getattr(imgframe, name) is cls  # the top level exports the same class
