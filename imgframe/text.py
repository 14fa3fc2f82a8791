"""Text from the API made safe for where it is shown: terminals, charts, HTML, Markdown, CSV.

Values come from a remote API, so every text cell is cleaned before it is displayed:
terminal escape sequences, control characters and bidirectional overrides are removed
(:func:`display_text`), Markdown cells are escaped (:func:`markdown_cell`), and text a
spreadsheet would run as a formula is neutralised (:data:`FORMULA_PATTERN`, the one rule
that CSV exports and printed CSV tables share).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FORMULA_PATTERN",
    "cell_text",
    "clean_text",
    "display_text",
    "display_width",
    "is_missing",
    "markdown_cell",
    "neutralize_text",
]

#: Text a spreadsheet would run as a formula: a value starting with ``=``, ``+``, ``-``,
#: ``@``, a tab or a carriage return, after any run of ``'`` (so that neutralising stays
#: reversible: one more ``'`` is added, and reading takes exactly one off). Group 1 is the
#: part a ``'`` goes in front of.
FORMULA_PATTERN = r"^('*[=+\-@\t\r])"
_FORMULA = re.compile(FORMULA_PATTERN)

# ESC-introduced sequences: CSI (colours, cursor moves), OSC (titles, hyperlinks; ended by
# BEL or ESC \), and the two-character forms. Removed whole so no fragment reaches a terminal.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]+")


def neutralize_text(text: str) -> str:
    """``text`` with a ``'`` in front when a spreadsheet would run it as a formula.

    >>> neutralize_text("=SUM(A1)"), neutralize_text("'=x"), neutralize_text("plain")
    ("'=SUM(A1)", "''=x", 'plain')
    """
    return _FORMULA.sub(r"'\1", text)


def display_text(value: Any) -> str:
    """``value`` as one line of text that is safe to show in a terminal, a chart or HTML.

    Escape sequences are removed whole; tabs, newlines and other line breaks become one
    space; other control characters and invisible format characters (bidirectional
    overrides such as U+202E, zero-width characters) are dropped. Missing values give ``""``.

    >>> display_text("\\x1b[31mred\\x1b[0m line\\nbreak \\u202eevil")
    'red line break evil'
    """
    return clean_text(cell_text(value))


def clean_text(text: str) -> str:
    """:func:`display_text` of a string: escape sequences removed whole, line breaks and tabs
    made one space, other control and invisible format characters dropped.

    >>> clean_text("bad\\x1b]0;title\\x07 sig\\r\\nnext")
    'bad sig next'
    """
    text = _ESCAPES.sub("", text)
    text = _WHITESPACE_CONTROLS.sub(" ", text)
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide East Asian characters and most emoji take
    two, combining marks none.

    >>> display_width("abc"), display_width("日本"), display_width("é")
    (3, 4, 1)
    """
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def markdown_cell(value: Any) -> str:
    """``value`` as the text of a Markdown table cell: made safe with :func:`display_text`,
    then Markdown and inline-HTML punctuation backslash-escaped (so ``|`` cannot end the
    cell and ``<script>`` stays text).

    >>> markdown_cell("a|b <i>x</i> *y*")
    'a\\\\|b \\\\<i\\\\>x\\\\</i\\\\> \\\\*y\\\\*'
    """
    return re.sub(r"([\\`*_\[\]<>|&#!~])", r"\\\1", display_text(value))


def cell_text(value: Any) -> str:
    """Any cell value as text, before cleaning: lists joined with ``, ``, tags as
    ``key=value``, missing values ``""``, timestamps in ISO-8601.

    >>> cell_text([{"key": "env", "value": "prod"}, {"key": "team", "value": "ml"}])
    'env=prod, team=ml'
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"key", "value"}:
        return f"{cell_text(value['key'])}={cell_text(value['value'])}"
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(cell_text(v) for v in value)
    if is_missing(value):
        return ""
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def is_missing(value: Any) -> bool:
    """True for a missing scalar (None, NA, NaN, NaT); a list or array is never missing.

    >>> is_missing(None), is_missing(float("nan")), is_missing([None]), is_missing("")
    (True, True, False, False)
    """
    if isinstance(value, list | tuple | dict | np.ndarray):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
