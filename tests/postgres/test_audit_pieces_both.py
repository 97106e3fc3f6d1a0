"""The audit log's bulk writes on PostgreSQL (entries put together from pieces, many rows sent
by ``COPY``): a batch stores exactly the entries and hashes that one ``append_audit`` each
stores there, and that the same batch stores on SQLite."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from saas_license import AuditEntry
from saas_license._store._sqlite import SqliteStore

from . import server as pg
from .fixtures import PgSchema

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
#: Text PostgreSQL stores (no NUL, no lone surrogate): quotes, backslashes, control
#: characters and any other unicode.
text = st.text(st.characters(exclude_characters="\x00"), max_size=8) | st.sampled_from(
    ['"', "\\", "\x01\x1f\x7f", "é\u2028\U0001f600"]
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), text)
entries = st.builds(
    AuditEntry,
    at=st.sampled_from([NOW, NOW + dt.timedelta(microseconds=1500)]),
    actor=st.sampled_from(["system", 'ünï "q" \\']),
    action=st.sampled_from(["candidate.created", "x"]),
    entity=st.sampled_from(["candidate", "seat"]),
    entity_id=st.none() | text,
    profile=st.none() | st.sampled_from(["a", "b"]),
    before=st.none() | st.dictionaries(text, scalars, max_size=3),
    after=st.none() | st.dictionaries(text, scalars | st.lists(scalars, max_size=2), max_size=3),
    detail=text,
)


def _stored(store: Any) -> list[Any]:
    assert store.verify_audit().ok
    return store.list_audit(limit=100_000)


def _append(store: Any, head: list[AuditEntry], batch: list[AuditEntry], how: str) -> None:
    for e in head:
        store.append_audit(e)
    if how == "one":
        for e in batch:
            store.append_audit(e)
    elif how == "many":
        store.append_audit_many(batch)
    else:
        store.append_audit_similar(
            attrs.evolve(batch[0], entity_id=None, after=None, detail=""),
            [(e.entity_id, e.after, e.detail) for e in batch],
        )


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    head=st.lists(entries, max_size=2),
    batch=st.lists(entries, min_size=1, max_size=6),
    similar=st.booleans(),
)
@example(  # enough entries for COPY (the dialect copies 20 rows or more)
    head=[],
    batch=[
        AuditEntry(
            at=NOW,
            actor="system",
            action="candidate.created",
            entity="candidate",
            entity_id=str(n),
            profile="a",
            after={"state": "proposed", "subscription_id": n},
            detail=f'no activity for {n} days "\\"',
        )
        for n in range(30)
    ],
    similar=True,
)
def test_a_batch_on_postgresql_stores_what_one_append_each_would(
    postgres_server: pg.Server, head: list[AuditEntry], batch: list[AuditEntry], similar: bool
) -> None:
    if similar:  # append_audit_similar's entries: the first's shared fields, their own rest
        batch = [
            attrs.evolve(batch[0], entity_id=e.entity_id, after=e.after, detail=e.detail)
            for e in batch
        ]
    schemas = [PgSchema(postgres_server), PgSchema(postgres_server)]
    stores = [s.open() for s in schemas]
    sqlite = SqliteStore(":memory:")
    try:
        _append(stores[0], head, batch, "one")
        _append(stores[1], head, batch, "similar" if similar else "many")
        _append(sqlite, head, batch, "similar" if similar else "many")
        expected = _stored(stores[0])
        assert _stored(stores[1]) == expected
        assert _stored(sqlite) == expected
    finally:
        for store, schema in zip(stores, schemas, strict=True):
            store.close()
            schema.drop()
        sqlite.close()
