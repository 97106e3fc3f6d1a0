"""Copy a whole workspace between stores (SQLite ↔ PostgreSQL), row for row, and prove it.

Both stores hold the same tables (PostgreSQL's schema is SQLite's, translated), so a copy is
each table's rows in key order, values unchanged: ids, timestamps as stored, money and JSON
data as their exact text, candidate states, the audit log with its chain and hashes. The copy
runs in one transaction of the destination, which must be empty; afterwards each table's row
count and content digest are compared, and the destination's audit chains verified.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import attrs

from .._errors import ConfigError, StoreError
from ._protocol import Store

__all__ = ["CopyReport", "copy_workspace", "table_digests"]

#: Read and written per batch.
BATCH = 2000
#: Bookkeeping of each store, never copied (each keeps its own migration record).
SKIPPED = frozenset({"schema_versions"})


@attrs.frozen(kw_only=True)
class CopyReport:
    """What a copy moved: rows per table, and the destination's audit check."""

    rows: dict[str, int]
    audit_entries: int
    audit_ok: bool


def _referenced() -> set[str]:
    """Tables other tables refer to (copied first, so foreign keys hold at every insert)."""
    import re

    from ._schema import MIGRATIONS

    text = " ".join(
        step for steps in MIGRATIONS.values() for step in steps if isinstance(step, str)
    )
    return set(re.findall(r"REFERENCES\s+(\w+)", text, flags=re.IGNORECASE))


def _tables(store: Any) -> list[str]:
    if hasattr(store, "url"):  # PostgreSQL: the tables of the workspace's schema
        sql = (
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    return sorted(str(r[0]) for r in store._q(sql) if str(r[0]) not in SKIPPED)


def _columns(store: Any, table: str) -> list[str]:
    cur = store._q(f"SELECT * FROM {table} LIMIT 0")
    if hasattr(cur, "description") and cur.description:
        return [str(d[0]) for d in cur.description]
    row = store._q(
        "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) "
        "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    ).fetchone()
    return str(row[0]).split(",")


def _rows(store: Any, table: str, columns: list[str]) -> list[Any]:
    order = ", ".join(columns)
    rows: list[Any] = store._q(f"SELECT {order} FROM {table} ORDER BY {order}").fetchall()
    return rows


def table_digests(store: Store) -> dict[str, tuple[int, str]]:
    """Per table: its row count and a digest of its rows (in key order, values as stored)."""
    out = {}
    for table in _tables(store):
        columns = sorted(_columns(store, table))
        digest = hashlib.sha256()
        # sorted here, not by SQL: the engines put NULLs at opposite ends
        rows = sorted(_rows(store, table, columns), key=_key)
        for row in rows:
            values = [v.hex() if isinstance(v, bytes) else v for v in row]
            digest.update(json.dumps(values, separators=(",", ":")).encode())
        out[table] = (len(rows), digest.hexdigest())
    return out


def copy_workspace(source: Store, target: Store) -> CopyReport:
    """Copy every row of ``source`` into the empty ``target``; verify counts, digests, audit."""
    src_tables, dst_tables = set(_tables(source)), set(_tables(target))
    if src_tables != dst_tables:
        raise StoreError(
            f"the two workspaces have different tables (only in the source: "
            f"{sorted(src_tables - dst_tables)}, only in the target: {sorted(dst_tables - src_tables)})",
            hint="open both with the same saas-license version, so both are migrated alike",
        )
    busy = [t for t in sorted(dst_tables) if _q1(target, f"SELECT COUNT(*) FROM {t}")]
    if busy:
        raise ConfigError(
            f"the target workspace is not empty (rows in {', '.join(busy)})",
            field="target",
            hint="copy into a new, empty workspace",
        )
    rows: dict[str, int] = {}
    dst: Any = target
    first = _referenced()
    with target.transaction():
        for table in sorted(src_tables, key=lambda t: (t not in first, t)):
            columns = _columns(source, table)
            data = _rows(source, table, columns)
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            for start in range(0, len(data), BATCH):
                dst._db.executemany(sql, [tuple(r) for r in data[start : start + BATCH]])
            rows[table] = len(data)
            if hasattr(target, "url") and "id" in columns and data:
                # identity columns continue after the copied ids (a text id, such as a stored
                # plan's, has no sequence)
                serial = dst._q(f"SELECT pg_get_serial_sequence('{table}', 'id')").fetchone()[0]
                if serial is not None:
                    dst._q(f"SELECT setval('{serial}', (SELECT MAX(id) FROM {table}))")
    want, have = table_digests(source), table_digests(target)
    differ = sorted(t for t in want if want[t] != have.get(t))
    if differ:
        raise StoreError(f"the copy differs from the source in {', '.join(differ)}")
    check = target.verify_audit()
    return CopyReport(rows=rows, audit_entries=check.entries, audit_ok=check.ok)


def _key(row: Any) -> list[tuple[bool, Any]]:
    return [(v is not None, v) for v in row]


def _q1(store: Any, sql: str) -> int:
    return int(store._q(sql).fetchone()[0])
