"""CSV exports neutralise formula cells (OWASP); workspace files and our directories are private."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from saas_license import SecretStore, Table, Workspace, read_entitlements_csv
from saas_license.http import FileTokenStore, OAuth2Token
from saas_license.secrets import Secret
from saas_license.tables import FORMULA_PREFIXES, csv_cell

EVIL = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "=1"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("text", EVIL)
def test_formula_text_is_prefixed_with_a_quote(text: str) -> None:
    table = Table(name="t", title="T", columns=("user", "n"), rows=((text, 1),))
    (row,) = list(csv.reader(io.StringIO(table.to_csv(), newline="")))[1:]
    assert row == ["'" + text, "1"]


def test_numbers_dates_and_plain_text_are_left_alone() -> None:
    day = dt.date(2026, 1, 2)
    table = Table(
        name="t",
        title="T",
        columns=("a", "b", "c", "d", "e"),
        rows=((Decimal("-3.50"), -4, day, "plain", "a=b"),),
    )
    assert table.to_csv().splitlines()[1] == "-3.50,-4,2026-01-02,plain,a=b"
    assert csv_cell("") == "" and csv_cell(None) == ""
    assert set(FORMULA_PREFIXES) == {"=", "+", "-", "@", "\t", "\r"}


def test_every_csv_export_of_the_report_is_neutralised(tmp_path: Path) -> None:
    """`report --csv DIR` writes every reconciliation table with the rule applied."""
    from saas_license.reports import write_csv

    with Workspace.open(tmp_path / "ws.db") as ws:
        ws.add_software_model("=cmd|' /C calc'!A0", publisher="+evil")
        ws.add_entitlement(
            software_model="=cmd|' /C calc'!A0",
            purchased_rights=3,
            unit_cost=Decimal("10"),
            currency="USD",
            start=dt.date(2026, 1, 1),
            name="@evil",
        )
        result = ws.reconcile()
        paths = write_csv(result, tmp_path / "out")
    cells = [c for p in paths for row in csv.reader(p.open(newline="")) for c in row]
    assert cells and not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    assert "'=cmd|' /C calc'!A0" in cells


def test_entitlements_round_trip_through_their_csv(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "ws.db") as ws:
        ws.add_software_model("Roadmaps", publisher="Aha!")
        ws.add_entitlement(
            software_model="Roadmaps",
            purchased_rights=3,
            unit_cost=Decimal("10"),
            currency="USD",
            start=dt.date(2026, 1, 1),
            name="=HYPERLINK(1)",
        )
        exported = ws.entitlements_table().to_csv()
    assert "'=HYPERLINK(1)" in exported
    (again,) = read_entitlements_csv("e.csv", text=exported)
    assert again.name == "=HYPERLINK(1)"  # what we neutralised reads back as it was


def test_workspace_files_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual default, which would make them 0644
    try:
        target = tmp_path / "new" / "deeper" / "ws.db"
        with Workspace.open(target) as ws:
            ws.add_alias("a", spoke="aha", base_url="https://acme.aha.io", api_key="k" * 20)
            ws.store.set_meta("x", "y")
            files = sorted(target.parent.glob("ws.db*"))
            assert {f.name for f in files} >= {
                "ws.db",
                "ws.db-wal",
                "ws.db-shm",
                "ws.db.secrets.json",
            }
            assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert _mode(tmp_path / "new") == 0o700 and _mode(target.parent) == 0o700
    finally:
        os.umask(old)


def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)  # noqa: S103 - a directory someone else set up
    with Workspace.open(shared / "ws.db"):
        pass
    assert _mode(shared) == 0o755 and _mode(shared / "ws.db") == 0o600


def test_secrets_and_token_files_and_their_new_directories_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        secrets = SecretStore(tmp_path / "s" / "secrets.json")
        secrets.set("k", Secret("value"))
        assert _mode(tmp_path / "s") == 0o700 and _mode(tmp_path / "s" / "secrets.json") == 0o600
        tokens = FileTokenStore(tmp_path / "t" / "u" / "token.json")
        tokens.save(OAuth2Token(access_token=Secret("abc")))
        assert _mode(tmp_path / "t") == 0o700 and _mode(tmp_path / "t" / "u") == 0o700
        assert _mode(tmp_path / "t" / "u" / "token.json") == 0o600
    finally:
        os.umask(old)
