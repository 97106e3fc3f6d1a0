"""The daily run's evaluation on both stores over the same vendor data: set-based in SQL on
each (the row-by-row path, :func:`evaluate`, is made to fail here, so neither falls back) —
the same verdicts, the same candidates, the same plan. Seat-for-seat agreement with
:func:`assess` over generated data is ``test_evaluation_sql_both.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from saas_license import HttpOptions, Workspace
from saas_license._secrets import SecretStore
from saas_license_aha.sandbox import SandboxApp

from ..conftest import API_KEY, NOW
from .fixtures import PgSchema

pytestmark = pytest.mark.postgres


def _run(ws: Workspace) -> tuple[object, ...]:
    ws.profiles.add_alias("aha-main", spoke="aha", base_url="https://acme.aha.io", api_key=API_KEY)
    ws.profiles.create("aha", spoke="aha", alias="aha-main")
    assert ws.profiles.validate("aha").download_ok
    ws.profiles.publish("aha")
    report = ws.jobs.run("aha")
    again = ws.jobs.run("aha")  # the second run changes nothing on either store
    cands = sorted(
        (c.external_user_id, c.identifier, c.state.value, c.inactive_days)
        for c in ws.candidates.query("aha")
    )
    plan = ws.plans.create("aha")
    return (
        report.verdicts,
        report.candidates_created,
        again.candidates_created,
        cands,
        sorted(
            (i.candidate.external_user_id, i.candidate.identifier, i.kind.value) for i in plan.items
        ),
    )


def test_same_verdicts_candidates_and_plan_on_both_stores(
    pg_schema: PgSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from saas_license import _pipeline

    def row_by_row(*args: object, **kwargs: object) -> None:
        raise AssertionError("the pipeline fell back to the row-by-row evaluation")

    monkeypatch.setattr(_pipeline, "evaluate", row_by_row)

    def http() -> HttpOptions:
        sandbox = SandboxApp(user_count=400, api_keys=[API_KEY], seed=23, anchor=NOW)
        return HttpOptions(transport=sandbox.transport(), rate_limit=False)

    sqlite = Workspace.open(tmp_path / "ws.db", http=http(), clock=lambda: NOW)
    pg = Workspace(
        pg_schema.open(),
        secrets=SecretStore(tmp_path / "pg.secrets.json"),
        http=http(),
        clock=lambda: NOW,
    )
    try:
        on_sqlite, on_postgres = _run(sqlite), _run(pg)
        assert on_postgres == on_sqlite
        assert on_sqlite[1] > 0  # candidates were created: the comparison means something
    finally:
        sqlite.close()
        pg.close()
