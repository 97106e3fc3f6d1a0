"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from .._audit import AuditVerification
from .._finance.reconciliation import Reconciliation
from .._finance.showback import Showback
from .._time import format_instant
from ._svg import activity_chart, opportunities_chart, savings_chart, utilisation_chart

__all__ = ["render_html"]

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1f2933; background: #ffffff; }
header { padding: 20px 28px 8px; border-bottom: 1px solid #e4e7eb; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 8px; }
.meta { color: #52606d; margin: 0; }
main { padding: 16px 28px 32px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 18px; }
.card { border: 1px solid #e4e7eb; border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.card .k { color: #52606d; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 20px; font-weight: 600; }
.bad { color: #b42318; } .good { color: #1a7f37; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid #e4e7eb; border-radius: 8px; padding: 12px; }
figcaption { font-weight: 600; margin-bottom: 6px; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; }
svg .label, svg .legend { fill: #323f4b; } svg .value { fill: #52606d; }
svg .axis { stroke: #9aa5b1; } svg .empty { fill: #7b8794; font-size: 13px; }
section { margin-top: 24px; }
table.saas-license { border-collapse: collapse; width: 100%; font-size: 12.5px; }
table.saas-license caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.saas-license th, table.saas-license td { border-bottom: 1px solid #e4e7eb;
       padding: 4px 8px; text-align: left; white-space: nowrap; }
table.saas-license th { background: #f5f7fa; }
table.saas-license td.num { text-align: right; font-variant-numeric: tabular-nums; }
.as-of { color: #7b8794; font-weight: 400; } .more, .note { color: #52606d; font-size: 12px; }
.scroll { overflow-x: auto; }
footer { color: #7b8794; font-size: 12px; padding: 0 28px 24px; }
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _local(at: dt.datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _card(key: str, value: str, cls: str = "") -> str:
    return f'<div class="card"><div class="k">{_esc(key)}</div><div class="v {cls}">{_esc(value)}</div></div>'


def _money(amounts: dict[str, Decimal]) -> str:
    return " + ".join(f"{c} {a:,.2f}" for c, a in amounts.items() if a) or "0.00"


def render_html(
    result: Reconciliation,
    *,
    title: str = "SaaS license report",
    audit: AuditVerification | None = None,
    showback: Sequence[Showback] = (),
) -> str:
    """Render a reconciliation as one HTML page: summary, four charts, and the result tables.

    With ``audit`` (``ws.audit.verify()``) a card says whether the audit log verifies; each
    ``showback`` (``ws.finance.showback(by)``) adds its breakdown after the result tables.
    """
    tz = result.timezone
    totals = result.totals()
    unlicensed = result.unlicensed_count  # counted; the table lists the first of them
    unmapped = sum(u.subscriptions for u in result.unmapped)
    cards = [
        _card(
            "Compliance",
            "compliant" if result.compliant else "not compliant",
            "good" if result.compliant else "bad",
        ),
        _card("True-up cost / yr", _money({c: t["true_up_cost"] for c, t in totals.items()})),
        _card(
            "Over-licensed / yr",
            _money({c: t["over_licensed_amount"] for c, t in totals.items()}),
        ),
        _card(
            "Potential savings / yr",
            _money({c: t["potential_savings"] for c, t in totals.items()}),
        ),
        _card(
            "Realised savings (YTD)",
            _money({c: t["actual_savings"] for c, t in totals.items()}),
        ),
        _card("Unlicensed seats", str(unlicensed), "bad" if unlicensed else ""),
        _card("Unmapped seats", str(unmapped), "bad" if unmapped else ""),
    ]
    if audit is not None:
        cards.append(
            _card(
                "Audit log",
                "verified" if audit.ok else f"BROKEN ({len(audit.problems)} problems)",
                "good" if audit.ok else "bad",
            )
        )
    freshness = ", ".join(
        f"{_esc(p)}: {_esc(_local(at, tz)) if at else 'never downloaded'}"
        for p, at in sorted(result.data_as_of.items())
    )
    charts = [
        ("Utilisation per software model", utilisation_chart(result.models)),
        ("Days since last activity (counted seats)", activity_chart(result.activity)),
        ("Savings per year", savings_chart(result.models)),
        ("Top reclaim candidates", opportunities_chart(result.opportunities)),
    ]
    figures = "".join(
        f"<figure><figcaption>{_esc(cap)}</figcaption>{svg}</figure>" for cap, svg in charts
    )
    tables = result.tables()
    limits = {"opportunities": 25, "unlicensed": 50}
    sections = "".join(
        f'<section class="scroll">{tables[name].to_html(max_rows=limits.get(name))}</section>'
        for name in (
            "products",
            "models",
            "metrics",
            "profiles",
            "remediation",
            "opportunities",
            "unlicensed",
            "unmapped",
            "totals",
        )
    )
    sections += "".join(
        f'<section class="scroll showback">{s.table().to_html()}</section>' for s in showback
    )
    audit_note = f" {_esc(audit.summary())}." if audit is not None else ""
    from .. import __version__

    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_esc(title)}</h1>"
        f'<p class="meta">As of <time datetime="{format_instant(result.as_of)}">'
        f"{_esc(_local(result.as_of, tz))}</time> ({_esc(tz)}; "
        f"{_esc(format_instant(result.as_of))}). Data downloaded: {freshness or 'no profiles'}."
        f"{audit_note} Money is per year at the average unit cost of the rights in use.</p></header>"
        f'<main><div class="cards">{"".join(cards)}</div>'
        f'<div class="charts">{figures}</div>{sections}</main>'
        f"<footer>saas-license {_esc(__version__)}. Every figure is as of the time above; "
        "seats excluded from cost are not counted.</footer></body></html>"
    )
