"""Inline SVG charts for the report: drawn here, in Python, so the HTML file needs no script or network.

Every chart is an ``<svg role="img">`` with a ``<title>``; bars carry ``data-series`` so tests
and people can tell the series apart. Colours are the report's palette (see :data:`PALETTE`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from decimal import Decimal

from .._finance.reconciliation import (
    ACTIVITY_BUCKETS,
    ActivityBuckets,
    ReclaimOpportunity,
    ReconciliationRow,
)

__all__ = ["PALETTE", "activity_chart", "opportunities_chart", "savings_chart", "utilisation_chart"]

#: series → colour; each chart has its own colours so a rendered page can be checked by pixel.
PALETTE = {
    "owned": "#4c78a8",
    "used": "#f58518",
    "active": "#54a24b",
    "inactive": "#e45756",
    "activity": "#72b7b2",
    "potential": "#b279a2",
    "realised": "#9d755d",
    "candidate": "#d67195",
}

WIDTH = 560
LABEL_W = 200
VALUE_W = 90
BAR_H = 14


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg(name: str, title: str, height: int, body: str) -> str:
    return (
        f'<svg class="chart" data-chart="{name}" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{_esc(title)}</title>{body}</svg>"
    )


def _empty(name: str, title: str, message: str) -> str:
    return _svg(
        name,
        title,
        60,
        f'<text x="{WIDTH // 2}" y="34" text-anchor="middle" class="empty">{_esc(message)}</text>',
    )


def _legend(series: Sequence[tuple[str, str]], y: int) -> str:
    out, x = [], LABEL_W
    for key, label in series:
        out.append(
            f'<rect x="{x}" y="{y}" width="10" height="10" fill="{PALETTE[key]}"/>'
            f'<text x="{x + 14}" y="{y + 9}" class="legend">{_esc(label)}</text>'
        )
        x += 26 + 7 * len(label)
    return "".join(out)


def _short(label: str, limit: int = 30) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _bar(key: str, x: float, y: float, w: float, h: float, tip: str) -> str:
    return (
        f'<rect data-series="{key}" x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" '
        f'height="{h:.1f}" fill="{PALETTE[key]}"><title>{_esc(tip)}</title></rect>'
    )


def _scale(values: Sequence[float]) -> float:
    top = max(values, default=0)
    return (WIDTH - LABEL_W - VALUE_W) / top if top > 0 else 0.0


def _grouped_bars(
    name: str,
    title: str,
    groups: Sequence[tuple[str, Sequence[tuple[str, float, str]]]],
    legend: Sequence[tuple[str, str]],
) -> str:
    """Horizontal bars, one group per label, one bar per (series, value, shown text)."""
    scale = _scale([v for _, bars in groups for _, v, _ in bars])
    parts = [_legend(legend, 4)]
    y = 24
    for label, bars in groups:
        group_h = len(bars) * (BAR_H + 2)
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + group_h / 2 + 4:.1f}" text-anchor="end" '
            f'class="label">{_esc(_short(label))}</text>'
        )
        for key, value, shown in bars:
            w = value * scale
            parts.append(_bar(key, LABEL_W, y, w, BAR_H, f"{label}: {key} {shown}"))
            parts.append(
                f'<text x="{LABEL_W + w + 4:.1f}" y="{y + BAR_H - 3}" class="value">{_esc(shown)}</text>'
            )
            y += BAR_H + 2
        y += 10
    return _svg(name, title, y + 4, "".join(parts))


def utilisation_chart(models: Sequence[ReconciliationRow]) -> str:
    """Rights owned and used, and used seats split into active and inactive, per software model."""
    title = "Utilisation per software model"
    if not models:
        return _empty("utilisation", title, "No software models to reconcile yet")
    groups = [
        (
            r.software_model,
            [
                ("owned", float(r.rights_owned), str(r.rights_owned)),
                ("used", float(r.rights_used), str(r.rights_used)),
                ("active", float(r.active_seats), str(r.active_seats)),
                ("inactive", float(r.inactive_seats), str(r.inactive_seats)),
            ],
        )
        for r in models
    ]
    legend = [("owned", "owned"), ("used", "used"), ("active", "active"), ("inactive", "inactive")]
    return _grouped_bars("utilisation", title, groups, legend)


def activity_chart(activity: Sequence[ActivityBuckets]) -> str:
    """Counted seats by days since last activity (all models), one column per bucket."""
    title = "Days since last activity"
    totals = dict.fromkeys(ACTIVITY_BUCKETS, 0)
    for row in activity:
        for bucket, n in row.counts.items():
            totals[bucket] += n
    if not any(totals.values()):
        return _empty("activity", title, "No counted seats")
    height, top, bottom = 220, 20, 36
    plot_h = height - top - bottom
    peak = max(totals.values())
    col_w = (WIDTH - 40) / len(totals)
    parts = []
    for i, (bucket, n) in enumerate(totals.items()):
        h = plot_h * n / peak
        x = 20 + i * col_w + col_w * 0.15
        parts.append(
            _bar("activity", x, top + plot_h - h, col_w * 0.7, h, f"{bucket} days: {n} seats")
        )
        parts.append(
            f'<text x="{x + col_w * 0.35:.1f}" y="{top + plot_h - h - 4:.1f}" '
            f'text-anchor="middle" class="value">{n}</text>'
            f'<text x="{x + col_w * 0.35:.1f}" y="{height - 16}" text-anchor="middle" '
            f'class="label">{_esc(bucket if bucket == "never" else bucket + " days")}</text>'
        )
    parts.append(
        f'<line x1="20" x2="{WIDTH - 20}" y1="{top + plot_h}" y2="{top + plot_h}" class="axis"/>'
    )
    return _svg("activity", title, height, "".join(parts))


def _money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return "no price"
    return f"{currency or ''} {amount:,.2f}".strip()


def savings_chart(models: Sequence[ReconciliationRow]) -> str:
    """Potential savings (open candidates) and realised savings (reclaimed this year) per model."""
    title = "Savings per year: potential and realised"
    rows = [r for r in models if r.unit_price is not None]
    if not rows:
        return _empty("savings", title, "No unit costs recorded: add entitlements to see savings")
    groups = [
        (
            r.software_model,
            [
                (
                    "potential",
                    float(r.potential_savings or 0),
                    _money(r.potential_savings, r.currency),
                ),
                ("realised", float(r.actual_savings or 0), _money(r.actual_savings, r.currency)),
            ],
        )
        for r in rows
    ]
    legend = [("potential", "potential (open candidates)"), ("realised", "realised (this year)")]
    return _grouped_bars("savings", title, groups, legend)


def opportunities_chart(opportunities: Sequence[ReclaimOpportunity], *, top: int = 10) -> str:
    """The idlest open removal candidates, by days since last activity (never-active first)."""
    title = f"Top {top} reclaim candidates"
    shown = list(opportunities[:top])
    if not shown:
        return _empty("opportunities", title, "No open removal candidates")
    longest = max((o.days_inactive or 0) for o in shown)
    never_len = max(longest, 1) * 1.1
    groups = [
        (
            f"{o.user_principal_name.partition('@')[0]} · {o.software_model}",
            [
                (
                    "candidate",
                    never_len if o.days_inactive is None else float(o.days_inactive),
                    "never active" if o.days_inactive is None else f"{o.days_inactive} days",
                )
            ],
        )
        for o in shown
    ]
    return _grouped_bars("opportunities", title, groups, [("candidate", "days inactive")])
