"""Bar charts drawn as SVG on the server: no library, no script, no style attribute (the
dashboard's CSP refuses inline styles), only SVG presentation attributes and classes. Each
chart is an image with a title; the page shows its numbers in a table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 220
LEFT = 36  # room for the axis numbers
BOTTOM = 34  # room for the labels
TOP = 12


@dataclass(frozen=True)
class Series:
    """One set of bars: its name (for the legend) and CSS class, and a value per label."""

    name: str
    css: str
    values: Sequence[float]


def _nice_top(value: float) -> float:
    """A round number at or above ``value`` for the top of the axis."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 < value:
        step *= 10
    for factor in (1, 2, 2.5, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def _number(value: float) -> str:
    return f"{value:g}"


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Grouped bars, one group per label, one bar per series, with a legend and an axis."""
    plot_width = WIDTH - LEFT - 8
    plot_height = HEIGHT - TOP - BOTTOM
    top = _nice_top(max((v for s in series for v in s.values), default=0))
    group = plot_width / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    label_every = max(1, round(len(labels) / 12))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 18 * len(series)}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0, top / 2, top):
        y = TOP + plot_height - plot_height * tick / top
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"'
            ' stroke="#d9dee7" stroke-width="1"/>'
            f'<text class="tick" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end"'
            f' font-size="11" fill="#5b6575">{_number(tick)}</text>'
        )
    for index, label in enumerate(labels):
        x0 = LEFT + index * group + group * 0.1
        for number, item in enumerate(series):
            value = item.values[index]
            height = plot_height * value / top
            parts.append(
                f'<rect class="bar {escape(item.css)}" x="{x0 + number * bar:.1f}"'
                f' y="{TOP + plot_height - height:.1f}" width="{max(bar - 1, 1):.1f}"'
                f' height="{height:.1f}"><title>{escape(label)}: {escape(item.name)}'
                f" {_number(value)}</title></rect>"
            )
        if index % label_every == 0:
            parts.append(
                f'<text class="label" x="{x0 + group * 0.4:.1f}" y="{HEIGHT - BOTTOM + 16}"'
                f' text-anchor="middle" font-size="11" fill="#5b6575">{escape(label)}</text>'
            )
    for number, item in enumerate(series):
        y = HEIGHT + 18 * number
        parts.append(
            f'<rect class="bar {escape(item.css)}" x="{LEFT}" y="{y - 10}" width="12"'
            f' height="12"/><text x="{LEFT + 18}" y="{y}" font-size="12"'
            f' fill="#1d2430">{escape(item.name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
