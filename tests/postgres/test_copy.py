"""``workspace copy``: a SQLite workspace into PostgreSQL and back, losslessly: every table's
rows (counts and content), money to the cent, candidates' states, the audit chain verified."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from saas_license import Workspace
from saas_license._store.copy import table_digests
from saas_license.cli import cli

from .fixtures import PgSchema

pytestmark = pytest.mark.postgres


def test_sqlite_to_postgres_and_back_is_lossless(
    published: Workspace, pg_schema: PgSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = published
    ws.jobs.run("aha")
    ws.finance.add_entitlement(
        "Aha! Roadmaps",
        purchased_rights=40,
        unit_cost=Decimal("59.17"),
        currency="EUR",
        start=dt.date(2026, 1, 1),
    )
    ws.finance.reconcile(save=True)
    open_ids = [c.id for c in ws.candidates.query("aha")]
    ws.candidates.skip(open_ids[0], actor="alice", note="still needed", cooldown_days=30)
    states = {c.id: c.state for c in ws.candidates.query("aha")}
    assert len(set(states.values())) >= 2, states
    source_digests = table_digests(ws.store)
    money = ws.finance.reconcile().to_json_data()
    sqlite_path = ws.path
    ws.close()

    monkeypatch.setenv("SAAS_LICENSE_POSTGRES_OWNER_URL", pg_schema.owner_url)
    monkeypatch.setenv("SAAS_LICENSE_SECRETS", str(tmp_path / "pg.secrets.json"))
    runner = CliRunner()
    there = runner.invoke(cli, ["workspace", "copy", str(sqlite_path), pg_schema.app_url, "--json"])
    assert there.exit_code == 0, there.output
    report = json.loads(there.output)
    assert report["audit_ok"] and report["audit_entries"] > 0
    assert report["rows"]["subscriptions"] == source_digests["subscriptions"][0] > 0

    pg = Workspace.open(pg_schema.app_url, clock=lambda: published.clock(), create=False)
    try:
        assert table_digests(pg.store) == source_digests  # every row of every table
        assert {c.id: c.state for c in pg.candidates.query("aha")} == states
        assert pg.finance.reconcile().to_json_data() == money  # Decimal text survives as text
        assert pg.audit.verify().ok
    finally:
        pg.close()

    back = tmp_path / "back.db"
    again = runner.invoke(cli, ["workspace", "copy", pg_schema.app_url, str(back)])
    assert again.exit_code == 0, again.output
    assert "audit chain verified" in again.output
    returned = Workspace.open(back, create=False)
    try:
        assert table_digests(returned.store) == source_digests
    finally:
        returned.close()

    # a non-empty target is refused, and nothing in it changes
    refused = runner.invoke(cli, ["workspace", "copy", str(sqlite_path), str(back)])
    assert refused.exit_code == 2 and "not empty" in refused.output
