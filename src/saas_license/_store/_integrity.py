"""The hash-chained audit log on SQLite: appending, chaining old entries, and verifying.

Kept apart from the rest of the store so the chain's rules live in one place (issue 8, item 7):
functions over a raw connection, used by the SQLite store's audit part (``_sqlite/audit.py``) and
by the migration that chains entries written before the chain existed (``_schema.py``).
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterable
from typing import Any

from .._audit import (
    GENESIS_HASH,
    AuditProblem,
    AuditVerification,
    chain_name,
    entry_hash,
)
from .._time import epoch_ms, format_instant, from_epoch_ms

__all__ = [
    "AUDIT_TRIGGERS",
    "append_chained",
    "chain_unchained_entries",
    "verify_chain",
    "verify_entries",
]

_NO_UPDATE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
)

#: The guards of the audit log, by name, as their (whitespace-normalised) SQL must read.
AUDIT_TRIGGERS: dict[str, str] = {
    "audit_log_no_update": _NO_UPDATE,
    "audit_log_no_delete": (
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    ),
    "audit_log_no_replace": (
        "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
        "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id) "
        "OR EXISTS (SELECT 1 FROM audit_log WHERE chain = NEW.chain AND seq = NEW.seq) "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: an entry cannot be replaced'); END"
    ),
    "audit_log_chained": (
        "CREATE TRIGGER audit_log_chained BEFORE INSERT ON audit_log "
        "WHEN NEW.hash IS NULL OR NEW.chain IS NULL OR NEW.seq IS NULL OR NEW.prev_hash IS NULL "
        "BEGIN SELECT RAISE(ABORT, 'an audit entry must be chained (use Store.append_audit)'); END"
    ),
}

_COLUMNS = (
    "id, at, actor, action, entity, entity_id, profile, before, after, detail, "
    "chain, seq, prev_hash, hash"
)
#: The columns an entry is written with since migration ``compact`` 5: its instant as integer
#: milliseconds (``at_ms``, ``at`` left empty) and its (actor, action, entity) as a shared
#: ``audit_kinds`` row (``kind``, the three texts left empty), ~45 bytes less an entry.
_INSERT_COLUMNS = _COLUMNS + ", at_ms, kind"
_INSERT_VALUES = (
    "(:id, :at, :actor, :action, :entity, :entity_id, :profile, :before, :after, :detail, "
    ":chain, :seq, :prev_hash, :hash, :at_ms, :kind)"
)
#: What verification and listing read: the stored columns and the compact ones.
_READ_COLUMNS = _COLUMNS + ", at_ms, kind"


def hex_of(value: Any) -> Any:
    """A stored hash as its 64 hex characters: stored as 32 bytes since migration ``compact``
    2, as text before it (either is read; any other value is returned as it is)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


def stored_hash(hex_text: str) -> bytes:
    """A hash as stored: 32 bytes."""
    return bytes.fromhex(hex_text)


def _normalise(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.strip().rstrip(";")).replace("( ", "(").replace(" )", ")")


class AuditKinds:
    """The ``audit_kinds`` rows one write transaction uses: (actor, action, entity) → id, each
    stored once. Made per transaction (a kind stored by a transaction that rolled back must
    not be remembered)."""

    __slots__ = ("_db", "_ids", "_ms")

    def __init__(self, db: Any) -> None:
        self._db = db
        self._ids: dict[tuple[str, str, str], int] = {}
        self._ms: dict[str, int | None] = {}  # an instant's text → its milliseconds

    def ms_of(self, at: Any) -> int | None:
        """``at``'s integer milliseconds when the text is that millisecond's canonical form
        (the form the store writes), else None (the text is then kept as it is)."""
        if not isinstance(at, str):
            return None
        if at in self._ms:
            return self._ms[at]
        parsed, found = _instant(at), None
        if parsed is not None:
            ms = epoch_ms(parsed)
            found = ms if format_instant(from_epoch_ms(ms)) == at else None
        if len(self._ms) < 4096:  # a batch's entries mostly share one instant
            self._ms[at] = found
        return found

    def id_of(self, actor: str, action: str, entity: str) -> int:
        key = (actor, action, entity)
        found = self._ids.get(key)
        if found is None:
            self._db.execute(
                "INSERT INTO audit_kinds (actor, action, entity) VALUES (?, ?, ?) "
                "ON CONFLICT (actor, action, entity) DO NOTHING",
                key,
            )
            row = self._db.execute(
                "SELECT id FROM audit_kinds WHERE actor = ? AND action = ? AND entity = ?", key
            ).fetchone()
            found = self._ids[key] = int(row[0])
        return found


def compact_row(row: dict[str, Any], kinds: AuditKinds) -> dict[str, Any]:
    """An entry's stored columns (``row`` holds its text, as hashed): the instant as integer
    milliseconds when its text is the canonical form of that millisecond, the three texts as a
    kind; :func:`decoded` gives the same text back."""
    out = dict(row)
    out["at_ms"] = ms = kinds.ms_of(row["at"])
    if ms is not None:  # any other text is kept as it is
        out["at"] = ""
    out["kind"] = kinds.id_of(row["actor"], row["action"], row["entity"])
    out["actor"] = out["action"] = out["entity"] = ""
    return out


def _instant(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or len(text) != 24 or text[23] != "Z":
        return None
    try:
        return dt.datetime.fromisoformat(text[:23]).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def read_kinds(db: Any) -> dict[int, tuple[str, str, str]]:
    """Every ``audit_kinds`` row: id → (actor, action, entity)."""
    return {
        int(r[0]): (str(r[1]), str(r[2]), str(r[3]))
        for r in db.execute("SELECT id, actor, action, entity FROM audit_kinds")
    }


def decoded(row: Any, kinds: dict[int, tuple[str, str, str]]) -> dict[str, Any]:
    """A stored entry (read with :data:`_READ_COLUMNS`) with its text as written and hashed.

    Each compact part is put in front of its text column (empty when written compact), so an
    entry whose text columns were edited afterwards no longer hashes as written (and an entry
    whose kind is missing decodes to its bare columns, which do not either).
    """
    out = {k: row[k] for k in row.keys()}  # noqa: SIM118 (a row iterates its values)
    at_ms, kind = out.pop("at_ms"), out.pop("kind")
    if at_ms is not None:
        out["at"] = format_instant(from_epoch_ms(int(at_ms))) + str(out["at"])
    if kind is not None:
        actor, action, entity = kinds.get(int(kind), ("", "", ""))
        out["actor"] = actor + str(out["actor"])
        out["action"] = action + str(out["action"])
        out["entity"] = entity + str(out["entity"])
    return out


def _hash_row(row: Any, *, chain: str, seq: int, prev_hash: str) -> str:
    return entry_hash(
        chain=chain,
        seq=seq,
        prev_hash=prev_hash,
        entry_id=int(row["id"]),
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        profile=row["profile"],
        before=row["before"],
        after=row["after"],
        detail=row["detail"],
    )


def append_chained(
    db: sqlite3.Connection, values: dict[str, Any], *, compact: bool = True
) -> dict[str, Any]:
    """Insert one entry at the head of its chain; call inside a write transaction.

    ``values`` holds the stored text of the entry's columns (``at``, ``actor``, …). Returns the
    row as inserted, with ``id``, ``chain``, ``seq``, ``prev_hash`` and ``hash``. ``compact``
    False writes the text form of a schema before ``compact`` 5 (for tests of migrations).
    """
    chain = chain_name(values["profile"])
    head = db.execute("SELECT seq, hash FROM audit_chains WHERE chain = ?", (chain,)).fetchone()
    seq, prev = (1, GENESIS_HASH) if head is None else (int(head[0]) + 1, hex_of(head[1]))
    entry_id = int(db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM audit_log").fetchone()[0])
    row = {**values, "id": entry_id, "chain": chain, "seq": seq, "prev_hash": prev}
    row["hash"] = _hash_row(row, chain=chain, seq=seq, prev_hash=prev)
    hashes = {"prev_hash": stored_hash(prev), "hash": stored_hash(row["hash"])}
    if compact:
        db.execute(
            f"INSERT INTO audit_log ({_INSERT_COLUMNS}) VALUES {_INSERT_VALUES}",
            compact_row(row, AuditKinds(db)) | hashes,
        )
    else:
        db.execute(
            f"INSERT INTO audit_log ({_COLUMNS}) VALUES (:id, :at, :actor, :action, :entity, "
            ":entity_id, :profile, :before, :after, :detail, :chain, :seq, :prev_hash, :hash)",
            row | hashes,
        )
    db.execute(
        "INSERT INTO audit_chains (chain, seq, hash) VALUES (?, ?, ?) "
        "ON CONFLICT(chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        (chain, seq, stored_hash(row["hash"])),
    )
    return row


def chain_unchained_entries(db: sqlite3.Connection) -> int:
    """Chain entries that have no hash yet (written before the log was chained), oldest first.

    Runs inside the migration transaction; the update guard is lifted only for that transaction.
    Returns how many entries were chained.
    """
    db.row_factory = sqlite3.Row
    rows = db.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE hash IS NULL ORDER BY id").fetchall()
    if not rows:
        return 0
    heads = {
        r[0]: (int(r[1]), str(hex_of(r[2])))
        for r in db.execute("SELECT chain, seq, hash FROM audit_chains")
    }
    db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    for r in rows:
        chain = chain_name(r["profile"])
        seq, prev = heads.get(chain, (0, GENESIS_HASH))
        seq += 1
        digest = _hash_row(r, chain=chain, seq=seq, prev_hash=prev)
        db.execute(
            "UPDATE audit_log SET chain = ?, seq = ?, prev_hash = ?, hash = ? WHERE id = ?",
            (chain, seq, prev, digest, r["id"]),
        )
        heads[chain] = (seq, digest)
    db.executemany(
        "INSERT INTO audit_chains (chain, seq, hash) VALUES (?, ?, ?) "
        "ON CONFLICT(chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        [(c, s, h) for c, (s, h) in heads.items()],
    )
    db.execute(_NO_UPDATE)
    return len(rows)


def _check_triggers(db: sqlite3.Connection) -> list[AuditProblem]:
    have = {
        r[0]: r[1]
        for r in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        )
    }
    problems = []
    for name, sql in AUDIT_TRIGGERS.items():
        if name not in have:
            problems.append(
                AuditProblem(kind="trigger", message=f"the audit log guard {name} was dropped")
            )
        elif _normalise(have[name]) != _normalise(sql):
            problems.append(
                AuditProblem(kind="trigger", message=f"the audit log guard {name} was altered")
            )
    return problems


def verify_chain(db: sqlite3.Connection) -> AuditVerification:
    """Check every chain entry by entry, the chain heads, and the guards of the log."""
    db.row_factory = sqlite3.Row
    return verify_entries(db, _check_triggers(db))


def verify_entries(db: Any, problems: list[AuditProblem]) -> AuditVerification:
    """Check every chain entry by entry and against its head, after the store's own checks of
    its guards (``problems``); ``db`` is any connection whose rows read by column name."""
    heads = {
        r[0]: (int(r[1]), str(hex_of(r[2])))
        for r in db.execute("SELECT chain, seq, hash FROM audit_chains")
    }
    kinds = read_kinds(db)
    rows = [
        decoded(r, kinds)
        for r in db.execute(f"SELECT {_READ_COLUMNS} FROM audit_log ORDER BY chain, seq, id")
    ]
    by_chain: dict[str, list[Any]] = {}
    for r in rows:
        if r["hash"] is None or r["chain"] is None or r["seq"] is None:
            problems.append(
                AuditProblem(
                    kind="inserted",
                    message=f"entry {r['id']} ({r['action']}) is not part of any chain",
                    entry_id=r["id"],
                )
            )
            continue
        by_chain.setdefault(r["chain"], []).append(r)
    counts: dict[str, int] = {}
    out_heads: dict[str, str] = {}
    for chain in sorted(set(by_chain) | set(heads)):
        entries = by_chain.get(chain, [])
        problems.extend(_verify_one(chain, entries, heads.get(chain)))
        counts[chain] = len(entries)
        if entries:
            out_heads[chain] = hex_of(entries[-1]["hash"])
    return AuditVerification(
        entries=len(rows), chains=counts, heads=out_heads, problems=tuple(problems)
    )


def _verify_one(
    chain: str, entries: Iterable[Any], head: tuple[int, str] | None
) -> list[AuditProblem]:
    problems: list[AuditProblem] = []

    def problem(kind: str, message: str, r: Any = None) -> None:
        problems.append(
            AuditProblem(
                kind=kind,
                message=f"{chain}: {message}",
                chain=chain,
                seq=None if r is None else r["seq"],
                entry_id=None if r is None else r["id"],
            )
        )

    expected, prev_hash, last_id = 1, GENESIS_HASH, 0
    last: Any = None
    for r in entries:
        seq = int(r["seq"])
        where = f"entry {r['id']} (#{seq}, {r['action']})"
        if last is not None and seq == int(last["seq"]):
            problem("inserted", f"{where} takes the place #{seq} of entry {last['id']}", r)
            continue
        if seq > expected:
            missing = f"#{expected}" if seq == expected + 1 else f"#{expected}-#{seq - 1}"
            problem("removed", f"entries {missing} are missing before {where}", r)
        elif hex_of(r["prev_hash"]) != prev_hash:
            problem(
                "replaced", f"{where} does not follow the entry before it (a replaced entry)", r
            )
        if chain_name(r["profile"]) != chain:
            problem("changed", f"{where} names profile {r['profile']!r} of another chain", r)
        digest = hex_of(r["hash"])
        if _hash_row(r, chain=chain, seq=seq, prev_hash=hex_of(r["prev_hash"])) != digest:
            problem("changed", f"{where} was changed after it was written", r)
        if int(r["id"]) <= last_id:
            problem("inserted", f"{where} is out of order (id after {last_id})", r)
        expected, prev_hash, last_id, last = seq + 1, digest, int(r["id"]), r
    if head is None:
        if last is not None:
            problem("inserted", "the chain has no recorded head (entries were inserted)")
        return problems
    head_seq, head_hash = head
    if last is None:
        problem("removed", f"all {head_seq} entries are missing")
    elif head_seq > int(last["seq"]):
        problem("removed", f"the last entries #{int(last['seq']) + 1}-#{head_seq} are missing")
    elif head_seq < int(last["seq"]):
        problem("inserted", f"entries after #{head_seq} were added outside the log's writer")
    elif head_hash != hex_of(last["hash"]):
        problem("replaced", f"the last entry #{head_seq} is not the one written")
    return problems
