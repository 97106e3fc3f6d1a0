"""CSV import: line-numbered errors for bad rows, and nothing imported when any row is bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from saas_license import CsvImportError, Workspace
from saas_license._finance.csv_import import read_entitlements_csv

GOOD = """\ufeffsoftware_model,purchased_rights,unit_cost,currency,period,start,end,profile,name
Roadmaps,100,59.00,USD,monthly,2026-01-01,,,ROADMAPS-2026
Develop,20,"1,200.00",usd,annually,2026-01-01,2026-12-31,aha-eu,"EU, Develop"

Roadmaps,5,700,USD,,2026-03-01,,aha-us,
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "entitlements.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_import_reads_every_row(fin_ws: Workspace, tmp_path: Path) -> None:
    saved = fin_ws.finance.import_entitlements(_write(tmp_path, GOOD))
    assert [(e.software_model, e.purchased_rights, str(e.unit_cost)) for e in saved] == [
        ("Roadmaps", 100, "59.00"),
        ("Develop", 20, "1200.00"),
        ("Roadmaps", 5, "700"),
    ]
    assert saved[1].name == "EU, Develop" and saved[1].profile == "aha-eu"
    assert saved[2].period.value == "annually"  # the default when the cell is empty
    assert [e.id for e in fin_ws.finance.entitlements()] == [e.id for e in saved]
    assert sum(1 for a in fin_ws.audit.query() if a.action == "entitlement.imported") == 3


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(
    fin_ws: Workspace, tmp_path: Path
) -> None:
    text = (
        "software_model,purchased_rights,unit_cost,currency,start,profile\n"
        "Roadmaps,10,59,USD,2026-01-01,\n"  # line 2: fine
        "Roadmaps,ten,59,USD,2026-01-01,\n"  # line 3
        '"Develop\nmultiline",1,1,USD,2026-01-01,\n'  # lines 4-5: unknown model
        "Roadmaps,1,1.5,EUR,2026-01-01,\n"  # line 6: second currency for Roadmaps
        "Develop,1,1,USD,01/02/2026,\n"  # line 7
        "Develop,1,,USD,2026-01-01,\n"  # line 8: empty unit cost
        "Develop,1,1,USD,2026-01-01,aha-nowhere\n"  # line 9
        "Develop,1,1\n"  # line 10
    )
    with pytest.raises(CsvImportError) as info:
        fin_ws.finance.import_entitlements(_write(tmp_path, text))
    problems = [(p.line, p.field) for p in info.value.problems]
    assert problems == [
        (3, "purchased_rights"),
        (4, "software_model"),
        (6, "currency"),
        (7, "start"),
        (8, "unit_cost"),
        (9, "profile"),
        (10, "row"),
    ]
    assert info.value.field == "csv" and "nothing imported" in str(info.value)
    assert fin_ws.finance.entitlements() == []
    assert not [a for a in fin_ws.audit.query() if a.entity == "entitlement"]


def test_header_problems(tmp_path: Path) -> None:
    with pytest.raises(CsvImportError) as info:
        read_entitlements_csv(_write(tmp_path, "software_model,rights,colour\nx,1,red\n"))
    assert {(p.line, p.field) for p in info.value.problems} == {
        (1, "rights"),
        (1, "colour"),
        (1, "purchased_rights"),
        (1, "unit_cost"),
        (1, "currency"),
        (1, "start"),
    }
    with pytest.raises(CsvImportError, match="empty"):
        read_entitlements_csv(_write(tmp_path, ""))


def test_list_csv_round_trips_through_import(fin_ws: Workspace, tmp_path: Path) -> None:
    fin_ws.finance.import_entitlements(_write(tmp_path, GOOD))
    exported = fin_ws.finance.entitlements_table().to_csv()
    again = read_entitlements_csv("export.csv", text=exported)
    assert [(e.software_model, e.purchased_rights, e.unit_cost, e.profile) for e in again] == [
        (e.software_model, e.purchased_rights, e.unit_cost, e.profile)
        for e in fin_ws.finance.entitlements()
    ]
