"""Golden files: the exact JSON and CSV shapes of every finance table for a fixed estate.

A change to these shapes breaks scripts that read them: when it is deliberate, regenerate with
``SAAS_LICENSE_UPDATE_GOLDEN=1 python -m pytest tests/finance/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from saas_license import Table
from saas_license._finance.entitlements import ENTITLEMENT_COLUMNS

from ._data import ENTITLEMENTS, NOW, estate

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SAAS_LICENSE_UPDATE_GOLDEN") == "1"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8", newline="")
    assert path.exists(), f"missing golden file {path}; run with SAAS_LICENSE_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def test_reconciliation_json_document() -> None:
    document = estate().to_json_data()
    _check("reconciliation.json", json.dumps(document, indent=2) + "\n")


@pytest.mark.parametrize(
    "table",
    [
        "products",
        "models",
        "metrics",
        "profiles",
        "remediation",
        "unlicensed",
        "unmapped",
        "activity",
        "opportunities",
        "totals",
    ],
)
def test_reconciliation_table_csv(table: str) -> None:
    _check(f"{table}.csv", estate().table(table).to_csv())


def test_entitlements_table_csv_and_json() -> None:
    table = Table.from_dicts(
        "entitlements",
        ENTITLEMENT_COLUMNS,
        [e.to_row(at=NOW, timezone="UTC") for e in ENTITLEMENTS],
        title="Entitlements",
        as_of=NOW,
    )
    _check("entitlements.csv", table.to_csv())
    _check("entitlements.json", json.dumps(table.to_json_data(), indent=2) + "\n")


def test_every_reconciliation_table_has_a_golden_file() -> None:
    assert set(estate().tables()) == {
        p.stem for p in GOLDEN.glob("*.csv") if p.stem != "entitlements"
    }
