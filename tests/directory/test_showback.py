"""Showback: reconciliation's counted and idle seats, and their cost, per department and cost
centre; users not in the directory are one row, never guessed into a department."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from saas_license._errors import ConfigError
from saas_license.reports import render_html

from ..lifecycle.conftest import Harness
from .conftest import write

PRICES = {"Aha! Roadmaps": 100, "Aha! Develop": 50, "Aha! Teamwork": 10}


def _priced(harness: Harness, tmp_path: Path) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    for model, cost in PRICES.items():
        ws.finance.add_entitlement(
            model, purchased_rights=20, unit_cost=cost, currency="USD", start="2026-01-01"
        )
    ws.directory.load(write(tmp_path))


def test_showback_by_department_worked_out_by_hand(harness: Harness, tmp_path: Path) -> None:
    _priced(harness, tmp_path)
    show = harness.ws.finance.showback("department")
    got = {
        r.group: (r.people, r.seats, r.idle_seats, r.excluded_seats, r.cost, r.idle_cost)
        for r in show.rows
    }
    d = Decimal
    assert got == {
        # ana R idle, ben R + Develop idle (through his alias), hal R active
        "Sales": (3, 4, 3, 0, d("350.00"), d("250.00")),
        # cy R idle, fay R + Teamwork idle (65 days, the threshold is 60)
        "Engineering": (2, 3, 3, 0, d("210.00"), d("210.00")),
        # svc active, gus idle
        "IT": (2, 2, 1, 0, d("200.00"), d("100.00")),
        # dee and eli are not in the directory
        "(not in directory)": (2, 2, 2, 0, d("200.00"), d("200.00")),
    }
    assert [r.group for r in show.rows][-1] == "(not in directory)"
    assert {r.currency for r in show.rows} == {"USD"}


def test_showback_adds_up_to_the_reconciliation(harness: Harness, tmp_path: Path) -> None:
    _priced(harness, tmp_path)
    ws = harness.ws
    ws.rules.add_exclusion(
        kind="attribute", attribute="directory.department", value="IT", effect="cost"
    )
    result = ws.finance.reconcile()
    for by in ("department", "cost_center"):
        show = ws.finance.showback(by)
        assert sum(r.seats for r in show.rows) == sum(m.rights_used for m in result.models)
        assert sum(r.idle_seats for r in show.rows) == sum(m.inactive_seats for m in result.models)
        assert sum(r.excluded_seats for r in show.rows) == sum(
            m.excluded_seats for m in result.models
        )
    it = ws.finance.showback("department").row("IT")
    assert it is not None and (it.seats, it.excluded_seats, it.cost) == (0, 2, Decimal("0.00"))
    cc = {r.group: r.seats for r in ws.finance.showback("cost_center").rows}
    assert cc == {"CC-100": 4, "CC-200": 3, "CC-900": 0, "(not in directory)": 2}


def test_unpriced_models_are_their_own_rows_and_bad_dimensions_are_refused(
    harness: Harness, tmp_path: Path
) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    ws.finance.add_entitlement(
        "Aha! Roadmaps", purchased_rights=20, unit_cost=100, currency="EUR", start="2026-01-01"
    )
    ws.directory.load(write(tmp_path))
    sales = [r for r in ws.finance.showback().rows if r.group == "Sales"]
    assert {(r.currency, r.seats, r.cost) for r in sales} == {
        ("EUR", 3, Decimal("300.00")),
        (None, 1, None),  # ben's Develop seat has no price
    }
    with pytest.raises(ConfigError, match="showback.by"):
        ws.finance.showback("manager")


def test_the_report_has_the_showback_sections(harness: Harness, tmp_path: Path) -> None:
    _priced(harness, tmp_path)
    ws = harness.ws
    html = ws.finance.report_html()
    assert "Showback by department" in html and "Showback by cost centre" in html
    assert "(not in directory)" in html
    plain = render_html(ws.finance.reconcile())
    assert "Showback" not in plain


def test_reconcile_by_department_on_the_cli(
    harness: Harness,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from saas_license._time import format_instant
    from saas_license.cli import main

    monkeypatch.setenv("SAAS_LICENSE_NOW", format_instant(harness.clock.now))
    _priced(harness, tmp_path)
    db = tmp_path / "cli.db"
    # the CLI opens a file: copy the in-memory workspace into one
    import sqlite3

    target = sqlite3.connect(db)
    harness.ws.store._db.backup(target)  # type: ignore[attr-defined]
    target.close()

    def cli(*args: str) -> tuple[int, str, str]:
        code = 0
        try:
            main(["--workspace", str(db), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = cli("reconcile", "--by", "department", "--json")
    assert code == 0, err
    doc = json.loads(out)
    text = json.dumps(doc)
    assert "Sales" in text and "(not in directory)" in text
    code, out, _ = cli("reconcile", "--by", "cost_center", "--csv")
    assert out.splitlines()[0].startswith("group,currency,people,seats")
    assert any(line.startswith("CC-100,USD,3,4,1,3,0,350.00,250.00") for line in out.splitlines())
    code, _, err = cli("reconcile", "--by", "team")
    assert code == 2 and "--by" in err
