"""Fixtures of the bad-input corpus: one populated workspace, copied fresh for every case, and a
dump of every table to prove that a refused input changed nothing."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from saas_license import HttpOptions, Workspace
from saas_license_aha.sandbox import SandboxApp

API_KEY = "corpus-key-0123456789"


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in rowid order: equal dumps mean a logically equal workspace."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY rowid').fetchall() for n in names}
    finally:
        con.close()


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a published Aha! profile, one run's seats and candidates, an entitlement."""
    folder = tmp_path_factory.mktemp("corpus-template")
    app = SandboxApp(user_count=150, api_keys=[API_KEY], seed=5)
    path = folder / "ws.db"
    with Workspace.open(path, http=HttpOptions(transport=app.transport(), rate_limit=False)) as ws:
        ws.add_alias("aha-main", spoke="aha", base_url="https://acme.aha.io", api_key=API_KEY)
        ws.create_profile("aha", spoke="aha", alias="aha-main")
        assert ws.validate("aha").download_ok
        ws.publish("aha")
        ws.run("aha")
        ws.add_entitlement(
            "Aha! Roadmaps",
            purchased_rights=50,
            unit_cost="59.00",
            currency="USD",
            start="2026-01-01",
        )
        ws.add_exclusion_rule(kind="domain", value="partner.example", effect="reclaim")
    return path


@pytest.fixture
def ws_path(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template workspace (database and secrets file)."""
    target = tmp_path / "ws.db"
    shutil.copy(template, target)
    secrets = template.with_name(template.name + ".secrets.json")
    if secrets.exists():
        shutil.copy(secrets, target.with_name(target.name + ".secrets.json"))
    return target
