"""Issue 13's compact records migration (namespace ``compact``): a workspace whose candidates are
JSON and whose audit hashes are 64 hex characters converts losslessly: every candidate reads
back the same, every audit entry keeps its hashes (now 32-byte blobs) and the chains verify,
old entries and new ones appended after; a changed entry is still caught."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import attrs

from saas_license._audit import GENESIS_HASH, AuditEntry, chain_name
from saas_license._candidates.records import CandidateState, RemovalCandidate, UserResponse
from saas_license._convert import converter
from saas_license._store import SqliteStore
from saas_license._store._integrity import _COLUMNS, _hash_row
from saas_license._store._schema import MIGRATIONS
from saas_license._store._sqlite import _split_sql
from saas_license._store._sqlite.base import _dumps
from saas_license._store._sqlite.candidates import pack_candidate
from saas_license._time import format_instant

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)


def _before_compact(path: Path) -> sqlite3.Connection:
    """A database migrated to every namespace except ``compact``."""
    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("BEGIN")
    db.execute(
        "CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    for namespace, steps in MIGRATIONS.items():
        if namespace == "compact":
            continue
        for step in steps:
            if callable(step):
                step(db)
            else:
                for statement in _split_sql(step):
                    db.execute(statement)
        db.execute("INSERT INTO schema_versions VALUES (?, ?)", (namespace, len(steps)))
    return db


def _legacy_append(db: sqlite3.Connection, values: dict[str, object]) -> None:
    """An audit entry as the log stored it before: hashes as hex text."""
    chain = chain_name(values["profile"])  # type: ignore[arg-type]
    head = db.execute("SELECT seq, hash FROM audit_chains WHERE chain = ?", (chain,)).fetchone()
    seq, prev = (1, GENESIS_HASH) if head is None else (head[0] + 1, head[1])
    entry_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM audit_log").fetchone()[0]
    row = {**values, "id": entry_id, "chain": chain, "seq": seq, "prev_hash": prev}
    row["hash"] = _hash_row(row, chain=chain, seq=seq, prev_hash=prev)
    db.execute(
        f"INSERT INTO audit_log ({_COLUMNS}) VALUES (:id, :at, :actor, :action, :entity, "
        ":entity_id, :profile, :before, :after, :detail, :chain, :seq, :prev_hash, :hash)",
        row,
    )
    db.execute(
        "INSERT INTO audit_chains (chain, seq, hash) VALUES (?, ?, ?) "
        "ON CONFLICT(chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        (chain, seq, row["hash"]),
    )


def _candidates() -> list[RemovalCandidate]:
    out = []
    for n in range(1, 31):
        sid = n if n < 25 else 1000 + n  # the last ones' seats are gone
        out.append(
            RemovalCandidate(
                id=n,
                subscription_id=sid,
                profile="p",
                external_user_id=f"u{sid}" if n % 7 else f"renamed{n}",
                user_principal_name=f"u{sid}@corp.example",
                identifier="x.roadmaps",
                software_model=["Roadmaps", None, "Develop"][n % 3],
                state=list(CandidateState)[n % len(CandidateState)],
                inactive_days=60 + n,
                last_activity=None if n % 5 == 0 else T0 - dt.timedelta(days=60 + n),
                opened_at=T0 + dt.timedelta(minutes=n),
                updated_at=T0 + dt.timedelta(minutes=n, seconds=n % 2),
                closed_at=T0 + dt.timedelta(days=1) if n % 3 == 0 else None,
                message=f"no activity for {60 + n} days (rule: 60 days)" if n % 4 else "by hand",
                potential_savings=Decimal("12.50") if n % 2 else None,
                currency="USD" if n % 2 else None,
                recipient=f"u{sid}@corp.example" if n % 6 else None,
                approver="Software managers" if n % 2 else f"boss{n}@corp.example",
                approver_source="profile_group" if n % 2 else "manager",
                response=UserResponse.KEEP if n % 8 == 0 else None,
                keep_until=T0 + dt.timedelta(days=30) if n % 9 == 0 else None,
                reclaimed_at=T0 + dt.timedelta(days=2) if n % 10 == 0 else None,
                actual_savings=Decimal("12.5") if n % 10 == 0 else None,
            )
        )
    return out


def test_the_compact_migration_keeps_every_candidate_and_audit_hash(tmp_path: Path) -> None:
    path = tmp_path / "ws.db"
    db = _before_compact(path)
    for sid in range(1, 25):
        db.execute(
            "INSERT INTO seat_attrs (id, attributes, unknown) VALUES (1, '{}', '[]') "
            "ON CONFLICT DO NOTHING"
        )
        db.execute(
            "INSERT INTO subscriptions (id, profile, external_user_id, identifier, "
            "user_principal_name, first_seen_at, last_seen_at, attrs) "
            "VALUES (?, 'p', ?, 'x.roadmaps', ?, ?, ?, 1)",
            (sid, f"u{sid}", f"u{sid}@corp.example", format_instant(T0), format_instant(T0)),
        )
    candidates = _candidates()
    for n, c in enumerate(candidates):
        # both earlier stored forms: the whole JSON, and without the defaults (engine 2)
        data = _dumps(converter.unstructure(c)) if n % 2 else pack_candidate(c)
        db.execute(
            "INSERT INTO candidates (id, subscription_id, profile, state, opened_at, closed_at, "
            "keep_until, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                c.id,
                c.subscription_id,
                c.profile,
                c.state.value,
                format_instant(c.opened_at),
                None if c.closed_at is None else format_instant(c.closed_at),
                None if c.keep_until is None else format_instant(c.keep_until),
                data,
            ),
        )
    for n in range(12):
        _legacy_append(
            db,
            {
                "at": format_instant(T0 + dt.timedelta(seconds=n)),
                "actor": "system",
                "action": "candidate.created",
                "entity": "candidate",
                "entity_id": str(n),
                "profile": None if n % 4 == 0 else "p",
                "before": None,
                "after": _dumps({"state": "ready", "n": n}),
                "detail": f"entry {n} — ünïcode",
            },
        )
    db.execute("COMMIT")
    before = [dict(r) for r in db.execute("SELECT * FROM audit_log ORDER BY id")]
    assert all(isinstance(r["hash"], str) and len(r["hash"]) == 64 for r in before)
    db.close()

    store = SqliteStore(path)  # migrates
    try:
        assert store.schema_versions()["compact"] == len(MIGRATIONS["compact"])
        assert store.list_candidates() == candidates
        # the seat's key is not stored twice, unless it differs from the seat's
        keys = dict(store._q("SELECT id, user_id FROM candidates").fetchall())
        assert keys[1] is None and keys[7] == "renamed7" and keys[25] == "u1025"
        after = [dict(r) for r in store._q("SELECT * FROM audit_log ORDER BY id")]
        # entries already written keep their text form (``compact`` 3 compacts new ones only)
        assert all(r.pop("at_ms") is None and r.pop("kind") is None for r in after)
        assert [
            {**r, "prev_hash": r["prev_hash"].hex(), "hash": r["hash"].hex()} for r in after
        ] == before
        assert all(len(r["hash"]) == 32 and len(r["prev_hash"]) == 32 for r in after)
        check = store.verify_audit()
        assert check.ok, check.summary()
        assert check.entries == 12
        # new entries continue the converted chains
        store.append_audit(AuditEntry(at=T0, actor="t", action="x", entity="e", profile="p"))
        store.append_audit_many(
            [AuditEntry(at=T0, actor="t", action="y", entity="e", profile=None)] * 3
        )
        check = store.verify_audit()
        assert check.ok, check.summary()
        assert check.entries == 16
        listed = store.list_audit(limit=100)
        assert [e.hash for e in listed[:12]] == [r["hash"] for r in before]
        last: dict[str | None, str] = {}
        for e in listed:  # each entry links to the one before it in its chain
            assert e.prev_hash == last.get(e.chain, GENESIS_HASH)
            last[e.chain] = e.hash or ""
        # a changed entry is still caught
        store._db.execute("DROP TRIGGER audit_log_no_update")
        store._db.execute("UPDATE audit_log SET detail = 'rewritten' WHERE id = 3")
        kinds = {p.kind for p in store.verify_audit().problems}
        assert "changed" in kinds and "trigger" in kinds
        # candidates written after the migration read back too
        (extra,) = store.add_candidates([attrs.evolve(candidates[0], id=None, closed_at=T0)])
        assert store.get_candidate(extra.id or 0) == extra
    finally:
        store.close()
