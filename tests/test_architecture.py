"""The layering ARCHITECTURE.md draws holds: imports go one way, never to a private name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "imgframe"

#: The layer of every module (ARCHITECTURE.md); a module imports only from lower layers.
LAYERS = {
    "_version": 1,
    "defaults": 1,
    "errors": 1,
    "schema": 1,
    "text": 1,
    "schema.arrow": 2,
    "filters": 2,
    "signing": 2,
    "credentials": 2,
    "progress": 2,
    "durable": 2,
    "metrics": 4,
    "storage": 3,
    "connections": 2,
    "transport": 3,
    "parse": 3,
    "lists": 3,
    "paging": 4,
    "frame": 4,
    "interop": 4,
    "cache": 4,
    "client": 5,
    "inventory": 6,
    "export": 6,
    "diff": 6,
    "summary": 6,
    "history": 7,
    "charts": 7,
    "sql": 7,
    "sandbox": 3,
    "report": 8,
    "cli": 9,
}
#: What the sandbox may use of the package besides itself.
SANDBOX_MAY_IMPORT = {"_version", "errors", "schema", "signing"}


def modules() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE
    )


def dotted(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import of imgframe in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = dotted(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
            elif node.module and node.module.startswith("imgframe"):
                base = []
            else:
                continue
            module = (node.module or "").removeprefix("imgframe").lstrip(".")
            if module:
                found.append((".".join([*base, module]), [alias.name for alias in node.names]))
            else:  # from . import sandbox: each name is a module
                found += [(".".join([*base, alias.name]), []) for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("imgframe."):
                    found.append((alias.name.removeprefix("imgframe."), []))
    return found


def layer(module: str) -> int | None:
    while module:
        if module in LAYERS:
            return LAYERS[module]
        module = module.rpartition(".")[0]
    return None


@pytest.mark.parametrize("path", modules(), ids=dotted)
def test_imports_go_down_the_layers_and_never_to_private_names(path: Path) -> None:
    name = dotted(path)
    own_package = name.split(".")[0] if "." in name or path.name == "__init__.py" else None
    for target, names in imported(path):
        if target.split(".")[0] == own_package:
            continue  # a package's own modules (export/, sandbox/, schema/, cli/)
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        assert not private, f"{name} imports private {private} from {target}"
        if name.split(".")[0] == "sandbox":
            assert target.split(".")[0] in SANDBOX_MAY_IMPORT, f"sandbox imports {target}"
            continue
        mine, theirs = layer(name), layer(target)
        assert mine is not None, f"{name} has no layer in ARCHITECTURE.md"
        assert theirs is not None, f"{target} has no layer in ARCHITECTURE.md"
        assert theirs < mine, f"{name} (layer {mine}) imports {target} (layer {theirs})"


def test_every_module_has_a_layer() -> None:
    assert [dotted(p) for p in modules() if layer(dotted(p)) is None] == []


def test_no_module_is_over_800_lines() -> None:
    long = {dotted(p): n for p in modules() if (n := len(p.read_text().splitlines())) > 800}
    assert long == {}
