"""Reports people look at: a self-contained HTML page with charts, and JSON/CSV exports of every table."""

from ._export import write_csv, write_json
from ._html import render_html
from ._svg import (
    PALETTE,
    activity_chart,
    opportunities_chart,
    savings_chart,
    utilisation_chart,
)

__all__ = [
    "PALETTE",
    "activity_chart",
    "opportunities_chart",
    "render_html",
    "savings_chart",
    "utilisation_chart",
    "write_csv",
    "write_json",
]
