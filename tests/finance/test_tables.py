"""Result tables: HTML for notebooks, pandas with Decimals kept, CSV and JSON cells."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal

import pandas
import pytest

from saas_license import Table

from ._data import NOW, estate


def _table() -> Table:
    return Table(
        name="t",
        columns=("model", "rights", "cost", "when", "ok", "none"),
        rows=(
            ("<b>R&D</b>", 3, Decimal("10.50"), NOW, True, None),
            ("Develop", 12, Decimal("0.10"), dt.date(2026, 1, 2), False, None),
        ),
        title="Costs",
        as_of=NOW,
    )


def test_repr_html_escapes_and_marks_numbers() -> None:
    html = _table()._repr_html_()
    assert "&lt;b&gt;R&amp;D&lt;/b&gt;" in html and "<b>R&D</b>" not in html
    assert '<td class="num">10.50</td>' in html and '<td class="num">12</td>' in html
    assert "as of 2026-06-15T12:00:00.000Z" in html
    assert html.count("<tr>") == 3  # header + 2 rows


def test_repr_html_of_a_reconciliation_shows_status_and_models() -> None:
    html = estate()._repr_html_()
    assert "NOT compliant" in html and 'data-table="models"' in html and "Roadmaps" in html


def test_to_pandas_keeps_decimals_and_as_of() -> None:
    frame = _table().to_pandas()
    assert list(frame.columns) == ["model", "rights", "cost", "when", "ok", "none"]
    assert frame["cost"].tolist() == [Decimal("10.50"), Decimal("0.10")]
    assert all(isinstance(v, Decimal) for v in frame["cost"])
    assert frame["rights"].sum() == 15
    assert frame.attrs["as_of"] == NOW
    models = estate().to_pandas("models")
    assert set(models["software_model"]) == {"Develop", "Roadmaps", "Teamwork"}
    assert models.loc[models.software_model == "Roadmaps", "true_up_cost"].item() == Decimal(
        "706.15"
    )


def test_to_pandas_without_pandas_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"saas-license\[pandas\]"):
        _table().to_pandas()
    assert pandas is not None


def test_csv_and_json_cells() -> None:
    table = _table()
    assert table.to_csv().splitlines() == [
        "model,rights,cost,when,ok,none,as_of",
        "<b>R&D</b>,3,10.50,2026-06-15T12:00:00.000Z,true,,2026-06-15T12:00:00.000Z",
        "Develop,12,0.10,2026-01-02,false,,2026-06-15T12:00:00.000Z",
    ]
    assert table.to_records()[0] == {
        "model": "<b>R&D</b>",
        "rights": 3,
        "cost": "10.50",
        "when": "2026-06-15T12:00:00.000Z",
        "ok": True,
        "none": None,
    }
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Table(name="bad", columns=("a", "b", "c"), rows=((1, 2),))
