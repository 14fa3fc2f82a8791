"""The fetch's progress: counts items, never goes backwards, and shows as fits where it runs:
a real Jupyter kernel (widget, or one text line), a pseudo-terminal (tqdm), or nothing."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from imgframe.progress import ProgressBar, fetch_description

from .test_notebooks import execute, kernel_specs

__all__ = ["kernel_specs"]  # the session fixture, shared with test_notebooks


def test_the_percentage_never_goes_backwards() -> None:
    bar = ProgressBar(False, "DescribeImages, 3 zones", listings=3, page_size=100)
    shown = []
    bar.expect("a", 100)
    bar.advance(100, "a")  # a small zone done first: 100 of ~300
    shown.append((bar.text(), bar.fraction))
    bar.expect("b", 2000)  # a big zone reports: the estimate jumps to ~3,150
    shown.append((bar.text(), bar.fraction))
    bar.advance(1000, "b")
    shown.append((bar.text(), bar.fraction))
    bar.expect("c", 900)
    bar.advance(1000, "b")
    bar.advance(900, "c")
    shown.append((bar.text(), bar.fraction))
    assert [text for text, _ in shown] == [
        "DescribeImages, 3 zones: 33% 100/~300 images",
        "DescribeImages, 3 zones: 33% 100/~3,150 images",
        "DescribeImages, 3 zones: 34% 1,100/~3,150 images",
        "DescribeImages, 3 zones: 100% 3,000/3,000 images",
    ]
    fractions = [f for _, f in shown]
    assert fractions == sorted(fractions)
    assert bar.total == 3000
    assert bar.done == 3000


def test_a_listing_paged_again_starts_over_without_going_back() -> None:
    bar = ProgressBar(False, "DescribeImages, 1 zone", listings=1, page_size=100)
    bar.expect("a", 1000)
    bar.advance(600, "a")
    assert bar.text() == "DescribeImages, 1 zone: 60% 600/1,000 images"
    bar.expect("a", 1010)  # the pass did not add up: page 1 again, one more image
    assert bar.text() == "DescribeImages, 1 zone: 60% 0/1,010 images"
    bar.advance(700, "a")
    assert bar.text() == "DescribeImages, 1 zone: 69% 700/1,010 images"
    bar.advance(400, "a")  # more than announced is not more than 100%
    assert bar.text() == "DescribeImages, 1 zone: 100% 1,010/1,010 images"


def test_not_100_percent_before_every_listing_reported() -> None:
    bar = ProgressBar(False, "x", listings=2, page_size=10)
    bar.expect("a", 10)
    bar.advance(10, "a")
    bar.advance(50)  # an underestimate of the zone still to report
    assert bar.text() == "x: 99% 60/~20 images"
    bar.expect("b", 0)
    assert bar.text() == "x: 100% 60/10 images"


def test_the_older_page_calls_still_work() -> None:
    bar = ProgressBar(False)
    bar.add_total(3)
    bar.update(1)
    assert bar.text() == "33% 1/3 pages"
    bar.add_total(2)  # another zone reports: the total grows, the percentage waits
    assert bar.text() == "33% 1/5 pages"
    bar.update(4)
    assert bar.text() == "99% 5/5 pages"  # more listings may yet report
    bar.close()
    assert bar.text() == "99% 5/5 pages"  # silent bars are not drawn


def test_fetch_description() -> None:
    assert fetch_description("DescribeImages", 8) == "DescribeImages, 8 zones"
    assert fetch_description("DescribeInstances", 1, "region") == "DescribeInstances, 1 region"


def test_silent_where_it_does_not_fit() -> None:
    sink = io.StringIO()  # not a terminal
    bar = ProgressBar(None, "DescribeImages, 2 zones", listings=2, file=sink)
    bar.expect("a", 5000)
    bar.advance(5000, "a")
    bar.close()
    assert (bar.enabled, sink.getvalue()) == (False, "")


def test_asked_for_it_draws_on_any_stream() -> None:
    sink = io.StringIO()
    bar = ProgressBar(True, "DescribeImages, 2 zones", listings=2, file=sink)
    bar.expect("a", 1500)
    bar.expect("b", 1500)
    bar.advance(1500, "a")
    bar.advance(1500, "b")
    bar.close()
    out = sink.getvalue()
    assert "DescribeImages, 2 zones:   0%|" in out
    assert "DescribeImages, 2 zones: 100%|" in out
    assert "| 3,000/3,000 [" in out


def test_one_short_listing_shows_no_bar() -> None:
    sink = io.StringIO()
    bar = ProgressBar(True, "DescribeImages, 1 zone", listings=1, page_size=1000, file=sink)
    bar.expect("a", 999)
    bar.advance(999, "a")
    bar.close()
    assert sink.getvalue() == ""


# --------------------------------------------------------------------------------------------
# On a pseudo-terminal


TERMINAL_RUN = textwrap.dedent(
    """
    from imgframe.progress import ProgressBar
    bar = ProgressBar(None, "DescribeImages, 2 zones", listings=2, page_size=1000)
    bar.expect("a", 2000)
    bar.advance(1000, "a")
    bar.expect("b", 1000)
    bar.advance(1000, "a")
    bar.advance(1000, "b")
    bar.close()
    print("done")
    """
)


def run_in_terminal(code: str, columns: int = 100) -> str:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert child.wait(timeout=60) == 0, out
    return out.decode()


def test_a_terminal_gets_a_tqdm_bar() -> None:
    out = run_in_terminal(TERMINAL_RUN)
    frames = [f for f in out.split("\r") if f.strip()]
    assert frames[0].startswith("DescribeImages, 2 zones:   0%|")
    assert frames[0].endswith("| 0/~4,000 [00:00<?, 0.0 image/s]")
    last_bar = [f for f in frames if "%|" in f][-1]
    assert last_bar.startswith("DescribeImages, 2 zones: 100%|█")
    assert "| 3,000/3,000 [" in last_bar
    assert last_bar.endswith(" image/s]")
    assert len(last_bar) <= 100
    assert out.endswith("\rdone\r\n")  # the bar was taken off the line before the print


# --------------------------------------------------------------------------------------------
# In a real Jupyter kernel


NOTEBOOK_FETCH = textwrap.dedent(
    """
    with imgframe.sandbox.running(images=1000, seed=7) as sb:
        df = imgframe.fetch_images("all", page_size=100, endpoint=sb.endpoint,
            access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret)
    assert len(df) == 1000
    """
)
NOTEBOOK_BAR = textwrap.dedent(
    """
    bar = ProgressBar(None, "DescribeImages, 2 zones", listings=2, page_size=100)
    bar.expect("a", 1500)
    bar.expect("b", 1500)
    for n in range(30):
        bar.advance(100, "ab"[n % 2])
    bar.close()
    """
)


def run_in_kernel(first: str, specs: KernelSpecManager, cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"{first}\nimport imgframe\nfrom imgframe.progress import ProgressBar"
        ),
        nbformat.v4.new_code_cell(NOTEBOOK_BAR),
        nbformat.v4.new_code_cell(NOTEBOOK_FETCH),
    ]
    execute(nb, specs, cwd)
    return nb


def outputs(nb: nbformat.NotebookNode) -> list[list[dict[str, object]]]:
    return [[dict(o) for o in cell.outputs] for cell in nb.cells]


def widget_models(nb: nbformat.NotebookNode) -> set[str]:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return {model["model_name"] for model in state.get("state", {}).values()}


def assert_one_clean_line_each(nb: nbformat.NotebookNode) -> None:
    cells = outputs(nb)
    assert cells[0] == []
    assert cells[1] == [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"text/plain": "DescribeImages, 2 zones: 100% 3,000/3,000 images"},
        }
    ]
    # The fetch counts images (1,000 in the sandbox's 8 zones): one line at the end.
    assert len(cells[2]) == 1
    (fetched,) = cells[2]
    assert fetched["output_type"] == "display_data"
    assert fetched["data"] == {"text/plain": "DescribeImages, 8 zones: 100% 1,000/1,000 images"}
    text = repr(cells)
    assert "\\r" not in text
    assert "stderr" not in text
    assert "IProgress" not in text


@pytest.mark.timeout(180)
def test_jupyter_with_ipywidgets_shows_a_widget(
    kernel_specs: KernelSpecManager, tmp_path: Path
) -> None:
    nb = run_in_kernel("", kernel_specs, tmp_path)
    assert_one_clean_line_each(nb)
    assert {"FloatProgressModel", "HBoxModel"} <= widget_models(nb)


@pytest.mark.timeout(180)
def test_jupyter_without_ipywidgets_shows_one_text_line(
    kernel_specs: KernelSpecManager, tmp_path: Path
) -> None:
    nb = run_in_kernel("import sys\nsys.modules['ipywidgets'] = None", kernel_specs, tmp_path)
    assert_one_clean_line_each(nb)
    assert widget_models(nb) == set()
