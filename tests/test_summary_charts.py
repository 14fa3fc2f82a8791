"""Summaries, safe tables, headline figures, and the charts drawn from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from imgframe.charts import (
    LABEL_CHARS,
    STATUS_COLOURS,
    figure_bytes,
    save_charts,
    summary_chart,
    summary_charts,
    trend_chart,
)
from imgframe.errors import InvalidArgument
from imgframe.frame import empty_frame, frame_from_records
from imgframe.summary import format_table, headline, summarize
from imgframe.text import display_text, display_width, markdown_cell

from .frames import fixture_frame

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# summarize


def test_summarize_counts_sizes_and_sorts_by_count_then_key() -> None:
    table = summarize(fixture_frame())
    assert table.to_dict("records") == [
        {"category": "OTHERS", "images": 7, "sizeGiB": 77},
        {"category": "Generic", "images": 6, "sizeGiB": 66},
        {"category": "Ubuntu", "images": 2, "sizeGiB": 45},
        {"category": "(none)", "images": 1, "sizeGiB": 0},
        {"category": '=HYPERLINK("http://x")', "images": 1, "sizeGiB": 18},
        {"category": "CentOS", "images": 1, "sizeGiB": 0},
        {"category": "Debian", "images": 1, "sizeGiB": 30},
        {"category": "Rocky", "images": 1, "sizeGiB": 10},
        {"category": "Windows", "images": 1, "sizeGiB": 40},
    ]
    assert [str(t) for t in table.dtypes] == ["string", "int64", "int64"]


def test_summarize_by_several_columns_without_sizes() -> None:
    table = summarize(fixture_frame(), by=["zoneId", "imageStatus"], sizes=False)
    assert list(table.columns) == ["zoneId", "imageStatus", "images"]
    assert table.to_dict("records") == [
        {"zoneId": "asia-east-1a", "imageStatus": "AVAILABLE", "images": 8},
        {"zoneId": "na-west-1a", "imageStatus": "AVAILABLE", "images": 5},
        {"zoneId": "eu-central-1a", "imageStatus": "AVAILABLE", "images": 4},
        {"zoneId": "eu-central-1a", "imageStatus": "(none)", "images": 1},
        {"zoneId": "eu-central-1a", "imageStatus": "CREATING", "images": 1},
        {"zoneId": "na-west-1a", "imageStatus": "FAILED", "images": 1},
        {"zoneId": "na-west-1a", "imageStatus": "UNAVAILABLE", "images": 1},
    ]
    assert table["images"].sum() == len(fixture_frame())


def test_summarize_leaves_out_groups_without_rows() -> None:
    df = fixture_frame()
    public = df[df["imageType"] == "PUBLIC_IMAGE"]  # keeps every category as a category
    assert summarize(public)["category"].tolist() == ["Ubuntu", "Windows"]
    empty = summarize(empty_frame())
    assert len(empty) == 0
    assert {c: str(t) for c, t in empty.dtypes.items()} == {
        "category": "string", "images": "int64", "sizeGiB": "int64",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("by", "message"),
    [
        (["nope"], "summarize: no column(s) nope; the frame has zoneId, imageId, imageName, "),
        ([], "summarize: `by` needs at least one column"),
        (["tags"], "summarize: cannot group by list column 'tags'"),
    ],
)
def test_summarize_rejects_bad_columns(by: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        summarize(fixture_frame(), by=by)
    assert str(info.value).startswith(message), str(info.value)


def test_headline_figures() -> None:
    assert headline(fixture_frame()) == {
        "images": 21,
        "zones": 3,
        "public": 2,
        "custom": 18,
        "available": 17,
        "not_available": 4,
        "size_gib": 286,
    }
    assert headline(empty_frame()) == dict.fromkeys(
        ("images", "zones", "public", "custom", "available", "not_available", "size_gib"), 0
    )


# --------------------------------------------------------------------------------------------
# Safe text and tables


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b]0;title\x07after", "after"),
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("a\nb\r\nc\td", "a b c d"),
        ("rtl \u202eevil\u202c", "rtl evil"),
        ("zero\u200bwidth", "zerowidth"),
        ("bell\x07 nul\x00", "bell nul"),
        ("日本語 🚀", "日本語 🚀"),
        (None, ""),
        (pd.NA, ""),
        (3, "3"),
        ([{"key": "env", "value": "prod"}], "env=prod"),
    ],
)
def test_display_text_is_safe_for_terminals(value: object, shown: str) -> None:
    assert display_text(value) == shown


def test_display_width_counts_wide_characters_twice() -> None:
    assert [display_width(t) for t in ("abc", "日本", "e\u0301", "🚀")] == [3, 4, 1, 2]


def test_format_table_aligns_columns_and_right_aligns_numbers() -> None:
    table = pd.DataFrame({"category": ["Ubuntu", "日本"], "images": [12, 3]})
    assert format_table(table) == (
        "category  images\n--------  ------\nUbuntu        12\n日本           3"
    )


def test_format_table_strips_escapes_from_hostile_values() -> None:
    text = format_table(summarize(fixture_frame(), by="imageName"))
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\r" not in text
    assert "\t" not in text
    assert "<script>alert(1)</script>" in text  # terminals show text as text
    assert all(display_width(line) <= 80 for line in text.splitlines())


def test_format_table_cuts_long_cells() -> None:
    table = pd.DataFrame({"name": ["x" * 100]})
    assert format_table(table, max_width=10).splitlines()[2] == "xxxxxxxxx…"


def test_format_table_csv_is_neutralised() -> None:
    table = pd.DataFrame({"name": ["=cmd", "ok, fine"], "images": [1, 2]})
    assert format_table(table, "csv") == 'name,images\n\'=cmd,1\n"ok, fine",2'


def test_format_table_json_round_trips_the_values() -> None:
    table = pd.DataFrame({"osType": ["any", "linux", "日本"], "images": [14, 5, 1]})
    text = format_table(table, "json")
    assert json.loads(text) == [
        {"osType": "any", "images": 14},
        {"osType": "linux", "images": 5},
        {"osType": "日本", "images": 1},
    ]
    assert text.isascii()  # non-ASCII text is escaped


def test_format_table_markdown_escapes_cells() -> None:
    table = pd.DataFrame({"name": ["a|b", "line\nbreak", "<i>x</i>"], "images": [1, 2, 3]})
    assert format_table(table, "markdown") == (
        "| name | images |\n"
        "| --- | ---: |\n"
        "| a\\|b | 1 |\n"
        "| line break | 2 |\n"
        "| \\<i\\>x\\</i\\> | 3 |"
    )


def test_markdown_cell_keeps_one_cell_whatever_the_value() -> None:
    assert markdown_cell("a | b \n | c `code` *x*") == "a \\| b   \\| c \\`code\\` \\*x\\*"


def test_format_table_rejects_unknown_formats() -> None:
    with pytest.raises(
        InvalidArgument, match=r"^format must be one of table, csv, json, markdown, not 'html'$"
    ):
        format_table(pd.DataFrame({"a": [1]}), "html")


# --------------------------------------------------------------------------------------------
# Charts


def _bars(fig: Figure) -> list[tuple[str, int]]:
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = [round(p.get_width()) for p in ax.patches]
    return list(zip(labels, widths, strict=True))


def test_summary_chart_draws_one_labelled_bar_per_group_largest_first() -> None:
    df = fixture_frame()
    fig = summary_chart(df, "osType")
    assert isinstance(fig, Figure)
    assert fig.get_suptitle() == "Images by OS type"
    assert _bars(fig) == [("any", 14), ("linux", 5), ("(none)", 1), ("windows", 1)]
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Images"
    assert ax.get_ylabel() == "OS type"
    assert [t.get_text() for t in ax.texts] == ["14", "5", "1", "1"]  # counts on the bars
    assert ax.yaxis_inverted()


def test_status_bars_use_the_status_colours() -> None:
    fig = summary_chart(fixture_frame(), "imageStatus")
    colours = {
        label: patch.get_facecolor()
        for (label, _), patch in zip(_bars(fig), fig.axes[0].patches, strict=True)
    }
    from matplotlib.colors import to_rgba

    assert colours["AVAILABLE"] == to_rgba(STATUS_COLOURS["AVAILABLE"])
    assert colours["FAILED"] == to_rgba(STATUS_COLOURS["FAILED"])


def test_chart_labels_are_cleaned_truncated_and_never_mathtext() -> None:
    df = frame_from_records(
        [
            {"imageId": "a", "category": "x" * 80},
            {"imageId": "b", "category": "$x^2$ \x1b[31mred\u202e"},
        ],
        zone_id="z",
    )
    labels = [label for label, _ in _bars(summary_chart(df, "category"))]
    assert labels[0] == "$x^2$ red".replace("$", r"\$")
    assert labels[1] == "x" * (LABEL_CHARS - 1) + "…"
    # Drawn without a mathtext error (a "$" label would otherwise be parsed as TeX).
    assert figure_bytes(summary_chart(df, "category")).startswith(b"\x89PNG\r\n\x1a\n")


def test_many_groups_are_folded_into_one_others_bar() -> None:
    df = frame_from_records(
        [
            {"imageId": f"i{i}-{j}", "category": f"c{i:02d}"}
            for i in range(30)
            for j in range(i + 1)
        ],
        zone_id="z",
    )
    bars = _bars(summary_chart(df, "category", max_bars=10))
    assert len(bars) == 10
    assert bars[0] == ("c29", 30)
    assert bars[-1] == ("21 others", sum(range(1, 22)))


def test_an_empty_frame_gives_a_chart_that_says_so() -> None:
    fig = summary_chart(empty_frame(), "category")
    assert [t.get_text() for t in fig.axes[0].texts] == ["No images"]
    assert figure_bytes(fig).startswith(b"\x89PNG")


def test_summary_charts_adds_zones_only_for_several_zones() -> None:
    assert list(summary_charts(fixture_frame())) == [
        "by_category",
        "by_osType",
        "by_imageStatus",
        "by_zone",
    ]
    one_zone = fixture_frame().query("zoneId == 'asia-east-1a'")
    assert "by_zone" not in summary_charts(one_zone)


def test_trend_chart_stacks_statuses_per_date() -> None:
    trend = pd.DataFrame(
        {
            "snapshot_date": ["2025-03-01", "2025-03-01", "2025-03-02"],
            "imageStatus": ["AVAILABLE", "FAILED", "AVAILABLE"],
            "images": [10, 2, 12],
        }
    )
    ax = trend_chart(trend).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2025-03-01", "2025-03-02"]
    heights = [round(p.get_height()) for p in ax.patches]
    assert heights == [10, 12, 2, 0]  # AVAILABLE per date, then FAILED per date
    with pytest.raises(InvalidArgument):
        trend_chart(pd.DataFrame({"snapshot_date": []}))


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_save_charts_names_files_after_what_they_show(tmp_path: Path, fmt: str) -> None:
    paths = save_charts(summary_charts(fixture_frame()), tmp_path / "charts", format=fmt)
    assert [p.name for p in paths] == [
        f"images_by_category.{fmt}",
        f"images_by_osType.{fmt}",
        f"images_by_imageStatus.{fmt}",
        f"images_by_zone.{fmt}",
    ]
    head = paths[0].read_bytes()[:5]
    assert head == (b"\x89PNG\r" if fmt == "png" else b"<?xml")
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == sorted(p.name for p in paths)


def test_png_charts_are_readable_sizes() -> None:
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(figure_bytes(summary_chart(fixture_frame(), "category"))))
    width, height = image.size
    assert width == 960
    assert 300 <= height <= 800
    colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
    assert len(colours) > 20  # bars, text and grid, not blank


def test_save_charts_rejects_other_formats(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"^format must be png or svg, not 'gif'$"):
        save_charts({}, tmp_path, format="gif")
    assert list(tmp_path.iterdir()) == []


def test_importing_the_library_modules_does_not_import_matplotlib() -> None:
    code = (
        "import sys\n"
        "import imgframe, imgframe.export, imgframe.summary, imgframe.charts, imgframe.report\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'\n"
        "from imgframe.frame import frame_from_records\n"
        "fig = imgframe.charts.summary_chart(frame_from_records([{'imageId': 'a'}], zone_id='z'),"
        " 'category')\n"
        "imgframe.charts.figure_bytes(fig)\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot used'\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
