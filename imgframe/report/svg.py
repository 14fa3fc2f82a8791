"""The report's charts as plain, hand-written SVG: horizontal bar charts, bars split by
status, and the status trend, drawn from count tables the model already holds.

No plotting library: a chart is a few dozen ``<rect>`` and ``<text>`` elements, so it costs
microseconds, its text stays real text (searchable, selectable, read by screen readers),
and its colours are exactly the tables' (:data:`~imgframe.charts.STATUS_COLOURS` by status,
:data:`~imgframe.charts.BAR_COLOUR` otherwise). Every label comes from the API, so it is
cleaned (:func:`~imgframe.text.display_text`: no bidi overrides, controls or escape
sequences), cut to fit with ``…`` (the whole label stays in a ``<title>`` tooltip), and
HTML-escaped; nothing else from the data reaches the markup. Text widths are estimated from
character classes (there are no font metrics here), generously, so labels do not collide.
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ..charts import BAR_COLOUR, LABEL_CHARS, OTHER_COLOUR, STATUS_COLOURS
from ..summary import NONE_LABEL
from ..text import display_text

__all__ = ["Bar", "Series", "bar_chart", "stacked_chart", "text_width", "trend_chart"]

#: Width of a chart's coordinate system; the page scales it to its column.
WIDTH = 420
_INK = "#1a202c"
_MUTED = "#4a5568"
_FAINT = "#718096"
_GRID = "#e2e8f0"
_AXIS = "#a0aec0"
_EDGE = "#2d3748"
_TITLE = 15.0
_LABEL = 13.0
_SMALL = 11.5
_CAPTION = 10.5
_PITCH = 23.0  # one bar and its gap
_BAR = 15.0
#: How far past its own width a chart may be drawn: text at most 15% larger than set.
_GROW = 1.15


@dataclass(frozen=True)
class Bar:
    """One bar: its label (as the API gave it), its count and its colour."""

    label: str
    value: int
    colour: str


@dataclass(frozen=True)
class Series:
    """One status of a stacked chart: its name, colour and a count per group."""

    name: str
    colour: str
    values: Sequence[int]


# Advance widths of ASCII " " to "~" in DejaVu Sans, the widest of the usual sans-serif
# fallbacks, in thousandths of an em (measured in Chromium).
_ASCII = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337,
    636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531,
    1000, 709, 686, 698, 770, 632, 575, 775, 752, 295, 301, 658, 557, 863, 748, 787,
    603, 787, 695, 635, 597, 732, 684, 989, 685, 613, 685, 390, 337, 390, 838, 502,
    500, 613, 635, 550, 635, 615, 347, 635, 634, 278, 280, 579, 278, 974, 634, 612,
    635, 635, 396, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
)  # fmt: skip


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """An estimate of ``text``'s width at font ``size``, on the wide side: DejaVu Sans
    metrics for ASCII (bold about 12% wider), a full em for wide East Asian characters,
    (and the ellipsis), 0.8 em for any other character, and 3% to spare.

    >>> round(text_width("AVAILABLE", 10), 1), round(text_width("日本", 10), 1)
    (57.0, 20.6)
    """
    em = 0.0
    for ch in text:
        code = ord(ch)
        if 32 <= code < 127:
            em += _ASCII[code - 32] / 1000
        elif unicodedata.combining(ch):
            continue
        elif ch == "…" or unicodedata.east_asian_width(ch) in ("W", "F"):
            em += 1.0
        else:
            em += 0.8
    return em * size * (1.12 if bold else 1.0) * 1.03


def fit(text: str, size: float, width: float) -> str:
    """``text`` cut with ``…`` to fit ``width`` at font ``size``.

    >>> fit("a very long label indeed", 12, 60)
    'a very l…'
    """
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def label_text(value: object, limit: int = LABEL_CHARS) -> str:
    """A label as charts show it: cleaned, at most ``limit`` characters (then ``…``)."""
    text = display_text(value)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def bar_chart(bars: Sequence[Bar], *, title: str, caption: str, label: str) -> str:
    """Horizontal bars, in the order given, each with its count after it.

    >>> svg = bar_chart([Bar("<b>", 3, "#000000")], title="T", caption="C", label="A")
    >>> "&lt;b&gt;" in svg and "<b>" not in svg
    True
    """
    canvas = _Canvas(WIDTH, label)
    y = canvas.heading(title)
    if not bars:
        return canvas.nothing(y, "No images", caption)
    labels = [label_text(b.label) for b in bars]
    counts = [f"{b.value:,}" for b in bars]
    left = _label_column(labels)
    right = WIDTH - max(text_width(c, _SMALL) for c in counts) - 10
    scale = _Scale(max(b.value for b in bars), left, right)
    canvas.grid(scale, y, y + _PITCH * len(bars))
    for i, (bar, shown, count) in enumerate(zip(bars, labels, counts, strict=True)):
        top = y + i * _PITCH
        canvas.row_label(left, top, shown, bar.label)
        width = scale.x(bar.value) - left
        canvas.rect(left, top + (_PITCH - _BAR) / 2, width, _BAR, bar.colour, f"{shown}: {count}")
        canvas.text(left + width + 4, top + _PITCH / 2 + 4, count, _SMALL, _INK)
    y = canvas.axis(scale, y + _PITCH * len(bars))
    return canvas.finish(y, caption)


def stacked_chart(
    groups: Sequence[str], series: Sequence[Series], *, title: str, caption: str, label: str
) -> str:
    """Horizontal bars per group, each split into its statuses (in the order of
    ``series``), a legend naming them above, and the total after each bar."""
    canvas = _Canvas(WIDTH, label)
    y = canvas.heading(title)
    totals = [sum(s.values[i] for s in series) for i in range(len(groups))]
    if not groups or not max(totals, default=0):
        return canvas.nothing(y, "No images", caption)
    y = canvas.legend(y, [(label_text(s.name), s.colour) for s in series])
    labels = [label_text(g) for g in groups]
    counts = [f"{t:,}" for t in totals]
    left = _label_column(labels)
    right = WIDTH - max(text_width(c, _SMALL) for c in counts) - 10
    scale = _Scale(max(totals), left, right)
    canvas.grid(scale, y, y + _PITCH * len(groups))
    for i, (group, shown, count) in enumerate(zip(groups, labels, counts, strict=True)):
        top = y + i * _PITCH
        canvas.row_label(left, top, shown, group)
        start = 0
        for s in series:
            value = s.values[i]
            if value:
                x0, x1 = scale.x(start), scale.x(start + value)
                tip = f"{shown} · {label_text(s.name)}: {value:,}"
                canvas.rect(x0, top + (_PITCH - _BAR) / 2, x1 - x0, _BAR, s.colour, tip)
            start += value
        canvas.text(scale.x(start) + 4, top + _PITCH / 2 + 4, count, _SMALL, _INK)
    y = canvas.axis(scale, y + _PITCH * len(groups))
    return canvas.finish(y, caption)


def trend_chart(
    dates: Sequence[str], series: Sequence[Series], *, title: str, caption: str, label: str
) -> str:
    """Vertical bars per snapshot date, stacked by status, with a legend above."""
    width = WIDTH
    canvas = _Canvas(width, label)
    y = canvas.heading(title)
    totals = [sum(s.values[i] for s in series) for i in range(len(dates))]
    if not dates:
        return canvas.nothing(y, "No snapshots", caption)
    y = canvas.legend(y, [(label_text(s.name), s.colour) for s in series])
    ticks = _ticks(max(totals, default=0))
    left = max(text_width(tick_text(t), _SMALL) for t in ticks) + 10
    height = 190.0
    bottom = y + 6 + height
    step = (width - left - 6) / len(dates)
    bar = min(step * 0.7, 48.0)

    def at(value: float) -> float:
        return bottom - height * value / ticks[-1] if ticks[-1] else bottom

    for tick in ticks:
        canvas.line(left, at(tick), width - 6, at(tick), _GRID)
        canvas.text(left - 4, at(tick) + 3.5, tick_text(tick), _SMALL, _MUTED, anchor="end")
    canvas.line(left, bottom, width - 6, bottom, _AXIS)
    every = max(1, math.ceil(len(dates) / 12))  # at most about twelve date labels
    slanted = len(dates) > 6
    for i, day in enumerate(dates):
        x = left + step * i + (step - bar) / 2
        base = 0
        for s in series:
            value = s.values[i]
            if value:
                tip = f"{label_text(day, 12)} · {label_text(s.name)}: {value:,}"
                canvas.rect(x, at(base + value), bar, at(base) - at(base + value), s.colour, tip)
            base += value
        if i % every == 0:
            cx = x + bar / 2
            shown = label_text(day, 12)
            if slanted:
                canvas.text(cx, bottom + 12, shown, _SMALL, _INK, anchor="end", rotate=-30)
            else:
                canvas.text(cx, bottom + 14, shown, _SMALL, _INK, anchor="middle")
    y = bottom + (60 if slanted else 32)
    canvas.text(left + (width - left) / 2, y, "Snapshot date", _LABEL - 1, _INK, anchor="middle")
    return canvas.finish(y + 6, caption)


def status_colour(status: str) -> str:
    """The colour of a status's bars: its own, grey for none, slate for unknown ones."""
    return STATUS_COLOURS.get(status, BAR_COLOUR)


def plain_colour(label: str) -> str:
    """The colour of a bar that is not a status: slate, light grey for the missing key."""
    return OTHER_COLOUR if label == NONE_LABEL else BAR_COLOUR


# --------------------------------------------------------------------------------------------
# Drawing


def _label_column(labels: Sequence[str]) -> float:
    """Where the bars start: after the widest label, but never past 42% of the width."""
    return min(max(text_width(t, _LABEL) for t in labels) + 10, WIDTH * 0.42)


class _Scale:
    """Counts to x positions between ``left`` and ``right``, over nice ticks, as few as
    keep their labels apart."""

    def __init__(self, top: int, left: float, right: float) -> None:
        self.left, self.right = left, right
        self.ticks = _ticks(top)
        while len(self.ticks) > 2:
            room = (right - left) / (len(self.ticks) - 1)
            if room >= max(text_width(tick_text(t), _SMALL) for t in self.ticks) + 8:
                break
            self.ticks = _ticks(top, fewer=len(self.ticks) - 1)

    def x(self, value: float) -> float:
        end = self.ticks[-1]
        return self.left + (self.right - self.left) * (value / end if end else 0.0)


def _ticks(top: int, fewer: int = 6) -> list[int]:
    """0 and whole-number steps of 1, 2, 2.5 or 5 times a power of ten up to at least
    ``top``: at most ``fewer`` of them, about five.

    >>> _ticks(3353), _ticks(7), _ticks(0), _ticks(851_002, fewer=4)
    ([0, 1000, 2000, 3000, 4000], [0, 2, 4, 6, 8], [0, 1], [0, 500000, 1000000])
    """
    if top <= 0:
        return [0, 1]
    raw = top / max(1, min(5, fewer - 1))
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(
        (m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw and (m * power) % 1 == 0),
        10 * power,
    )
    step = max(1, int(step))
    ticks = [i * step for i in range(math.ceil(top / step) + 1)]
    return ticks if len(ticks) <= fewer else _ticks(top, fewer - 1)


def tick_text(value: int) -> str:
    """An axis label: ``1,500``, and ``250k`` or ``1.5M`` from 100,000 on.

    >>> tick_text(1500), tick_text(250_000), tick_text(1_500_000)
    ('1,500', '250k', '1.5M')
    """
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 100_000:
        return f"{value / 1000:g}k"
    return f"{value:,}"


def _h(text: str) -> str:
    return html.escape(text, quote=True)


class _Canvas:
    """Elements of one chart, in drawing order."""

    def __init__(self, width: float, label: str) -> None:
        self.width = width
        self.label = label
        self.parts: list[str] = []

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        colour: str,
        *,
        anchor: str = "start",
        weight: str = "",
        rotate: float = 0.0,
        tip: str = "",
        fit_to: float = 0.0,
    ) -> None:
        attrs = f'x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" fill="{colour}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if weight:
            attrs += f' font-weight="{weight}"'
        if rotate:
            attrs += f' transform="rotate({rotate:g} {x:.1f} {y:.1f})"'
        if fit_to and text_width(text, size, bold=bool(weight)) > fit_to:
            attrs += f' textLength="{fit_to:.1f}" lengthAdjust="spacingAndGlyphs"'
        title = f"<title>{_h(tip)}</title>" if tip and tip != text else ""
        self.parts.append(f"<text {attrs}>{title}{_h(text)}</text>")

    def rect(self, x: float, y: float, w: float, h: float, colour: str, tip: str) -> None:
        # A thin dark edge keeps light bars (DELETING's yellow) visible on white.
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.6):.1f}" height="{h:.1f}" '
            f'fill="{colour}" stroke="{_EDGE}" stroke-width="0.4"><title>{_h(tip)}</title></rect>'
        )

    def line(self, x0: float, y0: float, x1: float, y1: float, colour: str) -> None:
        self.parts.append(
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
            f'stroke="{colour}" stroke-width="0.8"/>'
        )

    def heading(self, title: str) -> float:
        self.text(2, 16, label_text(title, 90), _TITLE, _INK, weight="bold", fit_to=self.width - 4)
        return 32.0

    def row_label(self, left: float, top: float, shown: str, full: object) -> None:
        text = fit(shown, _LABEL, left - 10)
        self.text(left - 6, top + _PITCH / 2 + 4, text, _LABEL, _INK, anchor="end",
                  tip=display_text(full))  # fmt: skip

    def legend(self, y: float, items: Sequence[tuple[str, str]]) -> float:
        """Swatches and names, flowing over as many lines as they need."""
        x, line = 2.0, y
        for name, colour in items:
            need = 16 + text_width(name, _SMALL) + 12
            if x > 2 and x + need > self.width:
                x, line = 2.0, line + 16
            self.parts.append(
                f'<rect x="{x:.1f}" y="{line:.1f}" width="10" height="10" fill="{colour}" '
                f'stroke="{_EDGE}" stroke-width="0.4"/>'
            )
            self.text(x + 14, line + 9, name, _SMALL, _INK)
            x += need
        return line + 20

    def grid(self, scale: _Scale, top: float, bottom: float) -> None:
        for tick in scale.ticks:
            self.line(scale.x(tick), top, scale.x(tick), bottom, _GRID)
        self.line(scale.left, top, scale.left, bottom, _AXIS)

    def axis(self, scale: _Scale, y: float) -> float:
        self.line(scale.left, y, scale.right, y, _AXIS)
        for tick in scale.ticks:
            self.text(scale.x(tick), y + 13, tick_text(tick), _SMALL, _MUTED, anchor="middle")
        middle = (scale.left + scale.right) / 2
        self.text(middle, y + 28, "Images", _LABEL - 1, _INK, anchor="middle")
        return y + 34

    def nothing(self, y: float, text: str, caption: str) -> str:
        self.text(self.width / 2, y + 40, text, _LABEL, _FAINT, anchor="middle")
        return self.finish(y + 70, caption)

    def finish(self, y: float, caption: str) -> str:
        if caption:
            shown = label_text(caption, 160)
            self.text(2, y + 12, shown, _CAPTION, _MUTED, fit_to=self.width - 4)
            y += 18
        height = math.ceil(y)
        return (
            f'<svg role="img" aria-label="{_h(self.label)}" viewBox="0 0 {self.width:g} {height}" '
            f'style="max-width:{self.width * _GROW:g}px" xmlns="http://www.w3.org/2000/svg" '
            f'font-family="system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif">'
            f"<title>{_h(self.label)}</title>" + "".join(self.parts) + "</svg>"
        )
