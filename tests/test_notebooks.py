"""The notebooks run top to bottom on a fresh kernel, and are committed clean.

Each notebook is executed with nbclient in a kernel running this interpreter (so it imports
the imgframe under test), and fails on the first cell that raises; the notebooks' own
``assert`` lines check the facts they show. The committed files must hold no outputs or
execution counts, so a diff of a notebook is a diff of its code and prose.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ipykernel.kernelspec
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = ("inventory_history.ipynb", "inventory_tour.ipynb")
KERNEL = "python3"


def kernel_python(specs: KernelSpecManager) -> str | None:
    """The interpreter the ``python3`` kernel of ``specs`` would run, or None if it has none."""
    try:
        program = specs.get_kernel_spec(KERNEL).argv[0]
    except NoSuchKernel:
        return None
    # jupyter_client starts a spec's bare "python", "python3" or "python3.X" as sys.executable.
    major, minor = sys.version_info[:2]
    bare = {"python", f"python{major}", f"python{major}.{minor}"}
    return sys.executable if program in bare else program


@pytest.fixture(scope="session")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """Kernel specs whose ``python3`` runs this interpreter.

    On a fresh venv the default specs do (ipykernel's built-in one). A ``python3`` spec found
    first elsewhere (~/.local/share/jupyter, JUPYTER_PATH, a system prefix) may run another
    Python without imgframe: then a private spec for sys.executable is used, in a temporary
    directory, so the machine's Jupyter setup is never changed. (Installing one into
    sys.prefix would not help: the user's directory is searched first.)
    """
    specs = KernelSpecManager()
    # Not resolved: a venv's python is a symlink to the base interpreter, without imgframe.
    if kernel_python(specs) == sys.executable:
        return specs
    directory = tmp_path_factory.mktemp("kernels")
    ipykernel.kernelspec.write_kernel_spec(directory / KERNEL)
    private = KernelSpecManager(kernel_dirs=[str(directory)], ensure_native_kernel=False)
    assert kernel_python(private) == sys.executable
    return private


def execute(nb: nbformat.NotebookNode, specs: KernelSpecManager, cwd: Path) -> None:
    """Run every cell in order; raises nbclient's CellExecutionError on the first error."""
    kernel = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = NotebookClient(
        nb, km=kernel, timeout=120, kernel_name=KERNEL, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_the_notebooks_are_all_tested() -> None:
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


def test_the_kernel_runs_this_interpreter(kernel_specs: KernelSpecManager, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)")]
    execute(nb, kernel_specs, tmp_path)
    assert nb.cells[0].outputs[0]["text"].strip() == sys.prefix


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(
    name: str, kernel_specs: KernelSpecManager, tmp_path: Path
) -> None:
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    execute(nb, kernel_specs, tmp_path)

    cells = code_cells(nb)
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1))
    # A warning printed in a notebook is a defect an analyst sees; say which cell shows it.
    warned = [
        (cell.id, output["text"])
        for cell in cells
        for output in cell.outputs
        if output.get("name") == "stderr" and "Warning" in output["text"]
    ]
    assert warned == []
    # The charts are drawn as images, not shown as "<Figure size ...>" text.
    assert any("image/png" in output.get("data", {}) for cell in cells for output in cell.outputs)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_no_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == KERNEL
    dirty = [
        cell.id
        for cell in code_cells(nb)
        if cell.outputs or cell.execution_count is not None or "execution" in cell.metadata
    ]
    assert dirty == [], f"clear the outputs of {name} before committing (cells {dirty})"


@pytest.mark.parametrize(
    "command", [("check",), ("format", "--check")], ids=["ruff-check", "ruff-format"]
)
def test_notebook_code_is_lint_clean(command: tuple[str, ...]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, str(NOTEBOOK_DIR)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
