"""Issue 13's compact records migration on PostgreSQL: a workspace migrated up to just before
the ``compact`` namespace, with JSON candidates and hex-text audit hashes, converts losslessly
(candidates read back the same, hashes become ``BYTEA`` with the same values, the chains verify),
and the restricted application role still cannot change or remove an audit row."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import psycopg
import pytest

from saas_license._audit import GENESIS_HASH, AuditEntry, chain_name
from saas_license._candidates.records import CandidateState, RemovalCandidate
from saas_license._convert import converter
from saas_license._store._integrity import _hash_row
from saas_license._store._postgres import schema as pg_schema_module
from saas_license._store._sqlite.base import _dumps
from saas_license._subscriptions import SubscriptionRecord
from saas_license._time import format_instant

from .fixtures import PgSchema

pytestmark = pytest.mark.postgres

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)


def test_the_compact_migration_on_postgres(
    pg_schema: PgSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = {k: v for k, v in pg_schema_module.PG_MIGRATIONS.items() if k != "compact"}
    monkeypatch.setattr("saas_license._store._postgres.PG_MIGRATIONS", without)
    store = pg_schema.open()
    store.upsert_subscriptions(
        "p",
        [
            SubscriptionRecord(
                external_user_id=f"u{i}", user_principal_name=f"u{i}@x.example", identifier="x.a"
            )
            for i in range(5)
        ],
        run_id="r1",
        now=T0,
    )
    seats = {s.external_user_id: s.id for s in store.iter_subscriptions("p")}
    store.close()
    candidates = [
        RemovalCandidate(
            id=n + 1,
            subscription_id=seats[f"u{n}"],
            profile="p",
            external_user_id=f"u{n}" if n != 3 else "other",
            user_principal_name=f"u{n}@x.example",
            identifier="x.a",
            software_model="Roadmaps" if n % 2 else None,
            state=CandidateState.READY,
            inactive_days=70 + n,
            last_activity=T0 - dt.timedelta(days=70 + n),
            opened_at=T0,
            updated_at=T0,
            message=f"no activity for {70 + n} days (rule: 60 days)",
            potential_savings=Decimal("9.99"),
            currency="EUR",
            approver="Software managers",
            approver_source="profile_group",
            recipient=f"u{n}@x.example",
        )
        for n in range(5)
    ]
    with psycopg.connect(pg_schema.owner_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {pg_schema.name}")
        for c in candidates:
            conn.execute(
                "INSERT INTO candidates (id, subscription_id, profile, state, opened_at, data) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    c.id,
                    c.subscription_id,
                    c.profile,
                    c.state.value,
                    format_instant(c.opened_at),
                    _dumps(converter.unstructure(c)),
                ),
            )
        heads: dict[str, tuple[int, str]] = {}
        for n in range(6):
            profile = None if n % 3 == 0 else "p"
            chain = chain_name(profile)
            seq, prev = heads.get(chain, (0, GENESIS_HASH))
            row = {
                "id": n + 1,
                "at": format_instant(T0),
                "actor": "system",
                "action": "candidate.created",
                "entity": "candidate",
                "entity_id": str(n),
                "profile": profile,
                "before": None,
                "after": json.dumps({"state": "ready"}),
                "detail": "old",
            }
            digest = _hash_row(row, chain=chain, seq=seq + 1, prev_hash=prev)
            conn.execute(
                "INSERT INTO audit_log (id, at, actor, action, entity, entity_id, profile, "
                "before, after, detail, chain, seq, prev_hash, hash) VALUES (%(id)s, %(at)s, "
                "%(actor)s, %(action)s, %(entity)s, %(entity_id)s, %(profile)s, %(before)s, "
                "%(after)s, %(detail)s, %(chain)s, %(seq)s, %(prev)s, %(hash)s)",
                row | {"chain": chain, "seq": seq + 1, "prev": prev, "hash": digest},
            )
            heads[chain] = (seq + 1, digest)
        for chain, (seq, digest) in heads.items():
            conn.execute(
                "INSERT INTO audit_chains (chain, seq, hash) VALUES (%s, %s, %s) "
                "ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (chain, seq, digest),
            )
    monkeypatch.undo()

    store = pg_schema.open()  # migrates the rest: compact
    try:
        assert store.list_candidates() == candidates
        check = store.verify_audit()
        assert check.ok, check.summary()
        assert check.heads == {c: h for c, (_, h) in heads.items()}
        store.append_audit(AuditEntry(at=T0, actor="t", action="x", entity="e", profile="p"))
        assert store.verify_audit().ok
        with psycopg.connect(pg_schema.owner_url, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {pg_schema.name}")
            kinds = conn.execute(
                "SELECT DISTINCT pg_typeof(hash)::text, octet_length(hash) FROM audit_log"
            ).fetchall()
        assert kinds == [("bytea", 32)]
    finally:
        store.close()
    # the restricted role still only appends
    with psycopg.connect(pg_schema.app_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {pg_schema.name}")
        for sql in ("UPDATE audit_log SET detail = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
