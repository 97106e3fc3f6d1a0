"""Compact audit entries (issue 13, migration ``compact`` 3 of this area: the fifth step): an
entry's instant is stored as integer milliseconds and its (actor, action, entity) as one shared
``audit_kinds`` row, while its hash is still taken over the text. Any entry reads back as it was
appended, filters find old and new entries alike, and changing either form still shows."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license import AuditEntry
from saas_license._audit import GENESIS_HASH
from saas_license._store._integrity import _COLUMNS, _hash_row, stored_hash
from saas_license._store._schema import MIGRATIONS
from saas_license._store._sqlite import SqliteStore
from saas_license._time import format_instant

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

texts = st.text(min_size=1, max_size=12)
entries = st.builds(
    AuditEntry,
    at=st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    actor=texts,
    action=texts,
    entity=texts,
    entity_id=st.none() | st.text(max_size=6),
    profile=st.none() | st.sampled_from(["a", "b"]),
    detail=st.text(max_size=20),
)


def _ms(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(entries, min_size=1, max_size=6), one_by_one=st.booleans())
def test_any_entry_reads_back_as_appended_and_verifies(
    tmp_path: Path, batch: list[AuditEntry], one_by_one: bool
) -> None:
    path = tmp_path / f"ws-{abs(hash((tuple(map(repr, batch)), one_by_one)))}.db"
    path.unlink(missing_ok=True)
    store = SqliteStore(path)
    try:
        if one_by_one:
            for e in batch:
                store.append_audit(e)
        else:
            store.append_audit_many(batch)
        got = store.list_audit(limit=100)
        assert [(g.at, g.actor, g.action, g.entity, g.entity_id, g.detail) for g in got] == [
            (_ms(e.at), e.actor, e.action, e.entity, e.entity_id, e.detail) for e in batch
        ]
        stored = store._q("SELECT at, actor, action, entity, at_ms, kind FROM audit_log").fetchall()
        assert all(tuple(r)[:4] == ("", "", "", "") for r in stored)  # written compact
        assert all(r["at_ms"] is not None and r["kind"] is not None for r in stored)
        check = store.verify_audit()
        assert check.ok, check.summary()
    finally:
        store.close()
        path.unlink(missing_ok=True)


def _old_and_new(tmp_path: Path) -> SqliteStore:
    """A workspace with entries written before ``compact`` 5 (text) and after it (compact)."""
    path = tmp_path / "ws.db"
    steps = MIGRATIONS["compact"]
    MIGRATIONS["compact"] = steps[:4]
    try:
        old = SqliteStore(path)
    finally:
        MIGRATIONS["compact"] = steps
    prev = GENESIS_HASH
    for i in range(4):  # as the store wrote them before: every column as text
        row = {
            "id": i + 1,
            "at": format_instant(NOW + dt.timedelta(seconds=i)),
            "actor": "system",
            "action": "candidate.created" if i % 2 else "seat.closed",
            "entity": "candidate" if i % 2 else "seat",
            "entity_id": str(i),
            "profile": "p",
            "before": None,
            "after": None,
            "detail": "",
        }
        digest = _hash_row(row, chain="profile:p", seq=i + 1, prev_hash=prev)
        old._db.execute(
            f"INSERT INTO audit_log ({_COLUMNS}) VALUES (:id, :at, :actor, :action, :entity, "
            ":entity_id, :profile, :before, :after, :detail, 'profile:p', :seq, :prev, :hash)",
            row | {"seq": i + 1, "prev": stored_hash(prev), "hash": stored_hash(digest)},
        )
        old._db.execute(
            "INSERT INTO audit_chains (chain, seq, hash) VALUES ('profile:p', ?, ?) "
            "ON CONFLICT(chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (i + 1, stored_hash(digest)),
        )
        prev = digest
    old.close()
    store = SqliteStore(path)
    for i in range(4, 8):
        store.append_audit(
            AuditEntry(
                at=NOW + dt.timedelta(seconds=i),
                actor="system",
                action="candidate.created" if i % 2 else "seat.closed",
                entity="candidate" if i % 2 else "seat",
                entity_id=str(i % 4),
                profile="p",
            )
        )
    return store


def test_filters_find_old_and_new_entries_alike(tmp_path: Path) -> None:
    store = _old_and_new(tmp_path)
    try:
        kinds = [r[0] for r in store._q("SELECT kind FROM audit_log ORDER BY id")]
        assert kinds[:4] == [None] * 4 and None not in kinds[4:]
        assert store.verify_audit().ok
        ids = lambda entries: [e.id for e in entries]  # noqa: E731
        assert ids(store.list_audit(entity="candidate")) == [2, 4, 6, 8]
        assert ids(store.list_audit(entity="candidate", entity_id="1")) == [2, 6]
        assert ids(store.list_audit(entity="seat", entity_id="2")) == [3, 7]
        assert ids(store.list_audit(entity_id="3")) == [4, 8]
        assert ids(store.list_audit(action="candidate.")) == [2, 4, 6, 8]
        assert ids(store.list_audit(action="seat.closed")) == [1, 3, 5, 7]
        assert ids(store.list_audit(since=NOW + dt.timedelta(seconds=3))) == [4, 5, 6, 7, 8]
        # to the millisecond the text form kept: an entry at 12:00:04.000 is not before 04.0005
        assert ids(store.list_audit(since=NOW + dt.timedelta(seconds=4, microseconds=500))) == [
            5,
            6,
            7,
            8,
        ]
        assert ids(store.list_audit(limit=3, last=True)) == [6, 7, 8]
    finally:
        store.close()


def test_changing_a_compact_entry_or_its_kind_shows(tmp_path: Path) -> None:
    store = _old_and_new(tmp_path)
    store.close()
    for sql in (
        "UPDATE audit_log SET actor = 'mallory' WHERE id = 6",  # an emptied text column
        "UPDATE audit_log SET at = 'x' WHERE id = 6",
        "UPDATE audit_log SET at_ms = at_ms + 1 WHERE id = 6",
        "UPDATE audit_log SET kind = kind + 1 WHERE id = 6",
        "UPDATE audit_kinds SET actor = 'mallory'",  # what the kinds say is hashed too
        "DELETE FROM audit_kinds",
    ):
        copy = tmp_path / "copy.db"
        src, dst = sqlite3.connect(tmp_path / "ws.db"), sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        dst.execute("DROP TRIGGER audit_log_no_update")
        dst.execute(sql)
        dst.commit()
        dst.close()
        store = SqliteStore(copy)
        try:
            problems = store.verify_audit().problems
            assert any(p.kind == "changed" for p in problems), sql
        finally:
            store.close()
            copy.unlink()
