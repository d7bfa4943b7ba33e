"""Inline SVG charts for the sync report: pure functions from runs to markup, no scripts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from html import escape

from .report_data import RunPoint

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 14, 40
# bottom to top in each bar; `sent` is drawn as a line over the bars
STACK = (("acknowledged", "ack"), ("rejected", "rej"), ("failed", "fail"))
MAX_X_LABELS = 7


def nice_step(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten at least `value` (and at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if factor * power >= value:
            return int(factor * power)
    return int(10 * power)


def _when(run: RunPoint) -> str:
    return run.started_at.strftime("%Y-%m-%d %H:%M:%S") if run.started_at else "unknown time"


def _label_format(runs: Sequence[RunPoint]) -> str:
    """Times alone when every run is of one day, with the date otherwise."""
    moments = [r.started_at for r in runs if r.started_at is not None]
    if moments and min(moments).date() == max(moments).date():
        return "%H:%M:%S" if max(moments) - min(moments) < timedelta(hours=1) else "%H:%M"
    return "%b %d %H:%M"


def _label_indexes(count: int) -> set[int]:
    if count <= MAX_X_LABELS:
        return set(range(count))
    step = (count - 1) / (MAX_X_LABELS - 1)
    return {round(i * step) for i in range(MAX_X_LABELS)}


def runs_chart(runs: Sequence[RunPoint], title: str) -> str:
    """Stacked bars per run (acknowledged, rejected, failed) and a line of the rows sent.

    Each run is a `<g class="run">` carrying its numbers as data-* attributes and a native
    tooltip (`<title>`); the y axis has round ticks from zero."""
    if not runs:
        return '<p class="empty">No sync recorded yet.</p>'
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    highest = max(max(r.sent, r.acknowledged + r.rejected + r.failed) for r in runs)
    step = nice_step(max(highest, 1) / 4)
    top_value = step * max(1, math.ceil(highest / step))
    band = plot_w / len(runs)
    bar = max(1.0, min(band * 0.6, 44.0))

    def y(value: int) -> float:
        return TOP + plot_h - value / top_value * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">'
    ]
    for tick in range(0, top_value + 1, step):
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{tick:,}</text>"
        )
    labels, label_format = _label_indexes(len(runs)), _label_format(runs)
    points = []
    for i, run in enumerate(runs):
        cx = LEFT + band * (i + 0.5)
        points.append(f"{cx:.1f},{y(run.sent):.1f}")
        tooltip = (
            f"{_when(run)} · {run.status}\nsent {run.sent:,} · acknowledged "
            f"{run.acknowledged:,} · rejected {run.rejected:,} · failed {run.failed:,}"
        )
        parts.append(
            f'<g class="run" data-run-id="{escape(run.run_id)}" '
            f'data-status="{escape(run.status)}" data-sent="{run.sent}" '
            f'data-acknowledged="{run.acknowledged}" data-rejected="{run.rejected}" '
            f'data-failed="{run.failed}"><title>{escape(tooltip)}</title>'
            f'<rect class="band" x="{cx - band / 2:.1f}" y="{TOP}" width="{band:.1f}" '
            f'height="{plot_h}"/>'
        )
        base = 0
        for field, css in STACK:
            value = getattr(run, field)
            if value:
                parts.append(
                    f'<rect class="{css}" x="{cx - bar / 2:.1f}" y="{y(base + value):.1f}" '
                    f'width="{bar:.1f}" height="{y(base) - y(base + value):.1f}"/>'
                )
            base += value
        if run.status != "success":
            parts.append(
                f'<circle class="status-{escape(run.status)}" cx="{cx:.1f}" '
                f'cy="{TOP + plot_h + 8}" r="3"/>'
            )
        parts.append("</g>")
        if i in labels and run.started_at is not None:
            parts.append(
                f'<text class="tick" x="{cx:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
                f"{run.started_at.strftime(label_format)}</text>"
            )
    if len(points) > 1:
        parts.append(f'<polyline class="sent" points="{" ".join(points)}"/>')
    parts += [
        f'<circle class="sent-dot" cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3"/>'
        for p in points
    ]
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
