"""The hash-chained audit log: every kind of tampering is found, and replacing is refused."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from saas_license import AuditEntry, SqliteStore, Workspace
from saas_license.audit import GENESIS_HASH, chain_name
from saas_license.cli import cli
from saas_license.store._integrity import AUDIT_TRIGGERS
from saas_license.store._schema import MIGRATIONS
from saas_license.store._sqlite import _split_sql

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)


def _entry(i: int, profile: str | None) -> AuditEntry:
    return AuditEntry(
        at=NOW + dt.timedelta(seconds=i),
        actor="t",
        action=f"thing.{i}",
        entity="thing",
        entity_id=str(i),
        profile=profile,
        before=None if i % 2 else {"state": "a"},
        after={"state": "b", "n": i},
        detail=f"entry {i}",
    )


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    """Twelve entries over three chains: profiles a and b, and the workspace."""
    s = SqliteStore(tmp_path / "a.db")
    for i in range(12):
        s.append_audit(_entry(i, ("a", "b", None)[i % 3]))
    return s


def _raw(store: SqliteStore) -> sqlite3.Connection:
    """A second connection, as someone with the file would use (no guard lifted by us)."""
    db = sqlite3.connect(store.path, isolation_level=None)
    return db


def _kinds(store: SqliteStore) -> set[str]:
    return {p.kind for p in store.verify_audit().problems}


def test_entries_chain_per_profile_and_workspace(store: SqliteStore) -> None:
    entries = store.list_audit()
    assert [e.chain for e in entries[:3]] == ["profile:a", "profile:b", "workspace"]
    for chain in ("profile:a", "profile:b", "workspace"):
        mine = [e for e in entries if e.chain == chain]
        assert [e.seq for e in mine] == [1, 2, 3, 4]
        assert mine[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(mine))
    result = store.verify_audit()
    assert result.ok and result.entries == 12
    assert result.chains == {"profile:a": 4, "profile:b": 4, "workspace": 4}
    assert chain_name(None) == "workspace" and chain_name("x") == "profile:x"


def test_a_changed_entry_is_found(store: SqliteStore) -> None:
    db = _raw(store)
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 4")
    db.execute(AUDIT_TRIGGERS["audit_log_no_update"])  # and the guard put back
    result = store.verify_audit()
    assert not result.ok
    assert [(p.kind, p.entry_id) for p in result.problems] == [("changed", 4)]
    assert "was changed" in result.summary()


def test_a_change_to_the_before_value_is_found(store: SqliteStore) -> None:
    db = _raw(store)
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("""UPDATE audit_log SET after = '{"n":5,"state":"x"}' WHERE id = 6""")
    db.execute(AUDIT_TRIGGERS["audit_log_no_update"])
    assert [(p.kind, p.entry_id) for p in store.verify_audit().problems] == [("changed", 6)]


def test_a_removed_entry_is_found(store: SqliteStore) -> None:
    db = _raw(store)
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE id = 4")  # profile:a #2
    db.execute(AUDIT_TRIGGERS["audit_log_no_delete"])
    problems = store.verify_audit().problems
    assert [(p.kind, p.chain) for p in problems] == [("removed", "profile:a")]
    assert "#2 are missing" in problems[0].message or "#2" in problems[0].message


def test_removed_last_entries_are_found_by_the_chain_head(store: SqliteStore) -> None:
    db = _raw(store)
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE id IN (11, 12)")  # the heads of b and workspace
    db.execute(AUDIT_TRIGGERS["audit_log_no_delete"])
    problems = store.verify_audit().problems
    assert {(p.kind, p.chain) for p in problems} == {
        ("removed", "profile:b"),
        ("removed", "workspace"),
    }


def test_an_inserted_entry_is_found(store: SqliteStore) -> None:
    db = _raw(store)
    db.execute("DROP TRIGGER audit_log_chained")
    db.execute(
        "INSERT INTO audit_log (at, actor, action, entity, detail) "
        "VALUES ('2026-06-15T12:00:00.000Z', 'mallory', 'x', 'y', '')"
    )
    db.execute(AUDIT_TRIGGERS["audit_log_chained"])
    assert _kinds(store) == {"inserted"}


def test_an_entry_forged_into_a_chain_is_found(store: SqliteStore) -> None:
    """A forger who knows the hashing appends a well-formed entry but cannot move the head."""
    head = store.list_audit(profile="a")[-1]
    db = _raw(store)
    db.execute(
        "INSERT INTO audit_log (id, at, actor, action, entity, detail, profile, chain, seq, "
        "prev_hash, hash) VALUES (100, '2026-06-15T12:00:00.000Z', 'mallory', 'x', 'y', '', "
        "'a', 'profile:a', ?, ?, ?)",
        ((head.seq or 0) + 1, head.hash, "f" * 64),
    )
    assert _kinds(store) == {"changed", "inserted"}


def test_insert_or_replace_cannot_replace_an_entry(store: SqliteStore) -> None:
    db = _raw(store)
    with pytest.raises(sqlite3.DatabaseError, match="cannot be replaced"):
        db.execute(
            "INSERT OR REPLACE INTO audit_log (id, at, actor, action, entity, detail, chain, seq, "
            "prev_hash, hash) VALUES (3, '2026-06-15T12:00:00.000Z', 'mallory', 'x', 'y', '', "
            "'workspace', 1, ?, ?)",
            (GENESIS_HASH, "0" * 64),
        )
    with pytest.raises(sqlite3.DatabaseError, match="cannot be replaced"):  # same place in chain
        db.execute(
            "REPLACE INTO audit_log (id, at, actor, action, entity, detail, chain, seq, "
            "prev_hash, hash) VALUES (99, '2026-06-15T12:00:00.000Z', 'mallory', 'x', 'y', '', "
            "'workspace', 2, ?, ?)",
            (GENESIS_HASH, "0" * 64),
        )
    assert store.verify_audit().ok


def test_a_replaced_entry_is_found(store: SqliteStore) -> None:
    """With every guard dropped, an entry is replaced by one hashed correctly on its own."""
    from saas_license.audit import entry_hash

    original = store.list_audit(profile="a")[1]  # profile:a #2 (id 4)
    db = _raw(store)
    for name in AUDIT_TRIGGERS:
        db.execute(f"DROP TRIGGER {name}")
    fields = {
        "chain": "profile:a",
        "seq": 2,
        "prev_hash": "1" * 64,  # the forger does not link it to entry #1
        "entry_id": original.id or 0,
        "at": "2026-06-15T12:00:03.000Z",
        "actor": "mallory",
        "action": original.action,
        "entity": "thing",
        "entity_id": "3",
        "profile": "a",
        "before": None,
        "after": '{"n":3,"state":"b"}',
        "detail": "nothing to see",
    }
    db.execute(
        "INSERT OR REPLACE INTO audit_log (id, at, actor, action, entity, entity_id, profile, "
        "before, after, detail, chain, seq, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            original.id,
            fields["at"],
            fields["actor"],
            fields["action"],
            "thing",
            "3",
            "a",
            None,
            fields["after"],
            fields["detail"],
            "profile:a",
            2,
            fields["prev_hash"],
            entry_hash(**fields),  # type: ignore[arg-type]
        ),
    )
    result = store.verify_audit()
    kinds = {p.kind for p in result.problems}
    assert "replaced" in kinds and "trigger" in kinds
    assert any(p.entry_id == original.id for p in result.problems if p.kind == "replaced")


@pytest.mark.parametrize("name", sorted(AUDIT_TRIGGERS))
def test_a_dropped_or_altered_trigger_is_found(store: SqliteStore, name: str) -> None:
    db = _raw(store)
    db.execute(f"DROP TRIGGER {name}")
    result = store.verify_audit()
    assert [(p.kind, name in p.message) for p in result.problems] == [("trigger", True)]
    # a guard of the same name that guards nothing
    db.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON audit_log WHEN 0 BEGIN SELECT 1; END")
    result = store.verify_audit()
    assert [(p.kind, "altered" in p.message) for p in result.problems] == [("trigger", True)]


def test_existing_entries_are_chained_by_the_migration(tmp_path: Path) -> None:
    """A workspace from before the chain: its entries are chained, oldest first, on open."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER)")
    for namespace in ("core", "finance"):
        for step in MIGRATIONS[namespace]:
            assert isinstance(step, str)
            for statement in _split_sql(step):
                db.execute(statement)
        db.execute(
            "INSERT INTO schema_versions VALUES (?, ?)", (namespace, len(MIGRATIONS[namespace]))
        )
    for i, profile in enumerate(["a", None, "a", "b", None]):
        db.execute(
            "INSERT INTO audit_log (at, actor, action, entity, profile, after, detail) "
            "VALUES (?, 'old', ?, 'thing', ?, ?, '')",
            (f"2026-01-0{i + 1}T00:00:00.000Z", f"old.{i}", profile, json.dumps({"i": i})),
        )
    db.close()
    store = SqliteStore(path)
    assert store.schema_versions()["integrity"] == len(MIGRATIONS["integrity"])
    entries = store.list_audit()
    assert [(e.chain, e.seq) for e in entries] == [
        ("profile:a", 1),
        ("workspace", 1),
        ("profile:a", 2),
        ("profile:b", 1),
        ("workspace", 2),
    ]
    assert store.verify_audit().ok
    store.append_audit(_entry(9, "a"))  # new entries continue the migrated chains
    assert store.list_audit(profile="a")[-1].seq == 3 and store.verify_audit().ok
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # guard back in place
        store._db.execute("UPDATE audit_log SET actor = 'x'")


def test_audit_commands_show_whether_the_chain_verifies(tmp_path: Path) -> None:
    path = tmp_path / "ws.db"
    with Workspace.open(path) as ws:
        for i in range(3):
            ws.store.append_audit(_entry(i, "a"))
        assert ws.verify_audit().ok
    runner = CliRunner()
    ok = runner.invoke(cli, ["--workspace", str(path), "audit", "verify"])
    assert ok.exit_code == 0 and "audit chain verified: 3 entries in 1 chain" in ok.output
    listed = runner.invoke(cli, ["--workspace", str(path), "audit", "--json"])
    assert json.loads(listed.output)["verified"] is True
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET detail = 'rewritten' WHERE id = 2")
    db.close()
    bad = runner.invoke(cli, ["--workspace", str(path), "audit", "verify", "--json"])
    assert bad.exit_code == 1
    body = json.loads(bad.output)
    assert body["verified"] is False
    assert {p["kind"] for p in body["problems"]} == {"changed", "trigger"}
    listed = runner.invoke(cli, ["--workspace", str(path), "audit"])
    assert "audit chain BROKEN" in listed.output


def test_the_report_shows_whether_the_chain_verifies(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "ws.db") as ws:
        ws.store.append_audit(_entry(1, None))
        assert "audit chain verified" in ws.report_html()
        ws.store._db.execute("DROP TRIGGER audit_log_no_delete")
        page = ws.report_html()
        assert "audit chain BROKEN" in page and "Audit log" in page
