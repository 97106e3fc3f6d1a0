"""A run's bulk path for new candidates (``proposed_seats`` into ``create_proposed``: candidate
rows and audit entries written in bulk, by ``COPY`` on PostgreSQL) stores on PostgreSQL exactly
what one ``create`` per proposal stores there, and what the same path stores on SQLite: the
same candidates, the same audit entries and hashes, chains that verify."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from saas_license._store import Store
from saas_license._store.copy import copy_workspace

from ..lifecycle.test_create_proposed import _build, _evaluate, _workflow, rule, seat
from . import server as pg
from .fixtures import PgSchema

pytestmark = pytest.mark.postgres


def _stored(store: Any) -> tuple[list[Any], list[Any]]:
    assert store.verify_audit().ok
    return store.list_candidates(), store.list_audit(limit=100_000)


def _one_each(store: Store) -> None:
    workflow = _workflow(store)  # type: ignore[arg-type]
    for page in _evaluate(store).proposals(7):  # type: ignore[arg-type]
        for sub, assessment in page:
            workflow.create(sub, assessment)


def _bulk(store: Store, batch: int) -> int:
    workflow = _workflow(store)  # type: ignore[arg-type]
    ev = _evaluate(store)  # type: ignore[arg-type]
    return sum(workflow.create_proposed(seats) for seats in ev.proposed_seats(batch))


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(seat, min_size=1, max_size=80),
    rules=st.lists(rule, min_size=3, max_size=3),
    batch=st.sampled_from([1, 3, 60]),
)
@example(  # a batch big enough for COPY (the dialect copies 20 rows or more)
    rows=[
        {"upn": "u@example.com", "model": m, "manager": None, "idle_days": 200 + n}
        | {"never_active": False, "person": None}
        for n in range(50)
        for m in ("Roadmaps", "Develop")
    ],
    rules=[{"inactivity_days": 30, "notify_user": True}] * 3,
    batch=60,
)
def test_create_proposed_on_postgresql(  # type: ignore[no-untyped-def]
    postgres_server: pg.Server, rows: list[dict[str, Any]], rules: list[dict[str, Any]], batch: int
) -> None:
    sqlite = _build(rows, rules)
    schemas = [PgSchema(postgres_server), PgSchema(postgres_server)]
    stores = [s.open() for s in schemas]
    try:
        for store in stores:
            copy_workspace(sqlite, store)
        _one_each(stores[0])
        created = _bulk(stores[1], batch)
        assert created == _bulk(sqlite, batch)
        expected = _stored(stores[0])
        assert _stored(stores[1]) == expected
        assert _stored(sqlite) == expected
    finally:
        for store, schema in zip(stores, schemas, strict=True):
            store.close()
            schema.drop()
        sqlite.close()
