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
