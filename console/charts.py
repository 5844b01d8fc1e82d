"""Server-rendered SVG bar charts for the dashboard: no JavaScript, no inline styles (the CSP allows neither);
colours come from classes in console/static/console/dashboard.css."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 640, 180, 16, 22, 8


def bar_chart(*, values: Sequence[int | Decimal], labels: Sequence[str], titles: Sequence[str],
              label_every: int = 1, title: str) -> SafeString:
    """One bar per value, a label under every ``label_every``-th bar, a tooltip (SVG ``<title>``) on each."""
    top = max([float(v) for v in values] + [0.0])
    slot = (WIDTH - 2 * LEFT) / max(len(values), 1)
    plot = HEIGHT - TOP - BOTTOM
    bars, texts = [], []
    for i, (value, label, tip) in enumerate(zip(values, labels, titles, strict=True)):
        height = plot * max(float(value), 0.0) / top if top > 0 else 0.0
        x = LEFT + i * slot + slot * 0.1
        bars.append((f"{x:.1f}", f"{TOP + plot - height:.1f}", f"{slot * 0.8:.1f}", f"{height:.1f}", tip))
        if i % label_every == 0:
            texts.append((f"{LEFT + i * slot + slot / 2:.1f}", HEIGHT - 6, label))
    return format_html(
        '<svg class="console-chart" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"></line>{}{}</svg>',
        WIDTH, HEIGHT, title, LEFT, TOP + plot, WIDTH - LEFT, TOP + plot,
        format_html_join("", '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>', bars),
        format_html_join("", '<text class="label" x="{}" y="{}" text-anchor="middle">{}</text>', texts),
    )


def line_chart(*, points: Sequence[tuple[float, float]], x_range: tuple[float, float], x_labels: Sequence[tuple[float, str]],
               y_max: float, y_ticks: Sequence[float], y_unit: str, title: str, threshold: float | None = None,
               gap: float | None = None, width: int = WIDTH, height: int = HEIGHT) -> SafeString:
    """A line through ``(x, y)`` points (x in ``x_range``, y from 0 to ``y_max``), broken where two points are more
    than ``gap`` apart on x (no reading then); ``y_ticks`` get a grid line, ``x_labels`` a label under the axis and
    ``threshold`` a dashed line (e.g. the low-battery level)."""
    left, right = 40, 8
    plot_w, plot_h = width - left - right, height - TOP - BOTTOM
    x0, x1 = x_range
    span = (x1 - x0) or 1.0

    def xy(x: float, y: float) -> str:
        return f"{left + plot_w * (x - x0) / span:.1f},{TOP + plot_h * (1 - min(max(y, 0.0), y_max) / y_max):.1f}"

    lines: list[list[str]] = []
    last_x: float | None = None
    for x, y in points:
        if last_x is None or (gap is not None and x - last_x > gap):
            lines.append([])
        lines[-1].append(xy(x, y))
        last_x = x
    grid = format_html_join("", '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                            '<text class="label" x="{}" y="{}" text-anchor="end">{}{}</text>', (
                                (left, y, width - right, y, left - 4, y + 4, f"{tick:g}", y_unit)
                                for tick in y_ticks for y in [round(TOP + plot_h * (1 - tick / y_max), 1)]))
    labels = format_html_join("", '<text class="label" x="{}" y="{}" text-anchor="middle">{}</text>', (
        (round(left + plot_w * (x - x0) / span, 1), height - 6, text) for x, text in x_labels))
    limit = format_html('<line class="threshold" x1="{}" y1="{}" x2="{}" y2="{}"></line>', left,
                        round(TOP + plot_h * (1 - threshold / y_max), 1), width - right,
                        round(TOP + plot_h * (1 - threshold / y_max), 1)) if threshold is not None else ""
    paths = format_html_join("", '<polyline class="line" points="{}"></polyline>',
                             ((" ".join(line),) for line in lines if len(line) > 1))
    dots = format_html_join("", '<circle class="dot" cx="{}" cy="{}" r="2"></circle>',
                            (tuple(line[0].split(",")) for line in lines if len(line) == 1))
    return format_html(
        '<svg class="console-chart console-line-chart" viewBox="0 0 {} {}" role="img" aria-label="{}">{}{}{}{}{}</svg>',
        width, height, title, grid, limit, paths, dots, labels)
