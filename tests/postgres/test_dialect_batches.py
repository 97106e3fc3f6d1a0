"""Many rows at once on PostgreSQL (``Connection.executemany``): a plain insert of many rows
goes by ``COPY``, fewer rows or ``INSERT OR IGNORE`` as multi-row ``VALUES``, anything else one
statement per row; every path stores exactly what one ``INSERT`` per row would, fires the
table's triggers and refuses what one would refuse."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from saas_license._store._postgres.dialect import COPY_FROM, Connection

from .fixtures import PgSchema

pytestmark = pytest.mark.postgres

#: text that COPY's text format and SQL literals each escape their own way
AWKWARD = ["tab\there", "new\nline", "back\\slash", "quote ' \"", "percent %s %(x)s", "é ✓", ""]


@pytest.fixture
def db(pg_schema: PgSchema) -> Iterator[Connection]:
    import psycopg

    raw = psycopg.connect(pg_schema.owner_url, autocommit=True)
    conn = Connection(raw)
    try:
        yield conn
    finally:
        conn.close()
        raw.close()


def _rows(n: int) -> list[tuple[Any, ...]]:
    return [
        (i, AWKWARD[i % len(AWKWARD)], None if i % 3 else i * 10**12, i / 4)
        for i in range(1, n + 1)
    ]


@pytest.mark.parametrize("n", [1, COPY_FROM - 1, COPY_FROM, 1234])
def test_many_rows_are_stored_exactly_with_constants(db: Connection, n: int) -> None:
    db.execute(
        "CREATE TABLE temp.m (id INTEGER PRIMARY KEY, t TEXT, big INTEGER, r REAL, k INTEGER, c TEXT)"
    )
    cur = db.executemany("INSERT INTO temp.m VALUES (?, ?, ?, ?, 7, 'it''s, 100%')", _rows(n))
    assert cur.rowcount == n
    got = db.execute("SELECT id, t, big, r, k, c FROM temp.m ORDER BY id").fetchall()
    assert [tuple(r) for r in got] == [(*row, 7, "it's, 100%") for row in _rows(n)]


@pytest.mark.parametrize("n", [3, 200])
def test_a_column_list_and_defaults(db: Connection, n: int) -> None:
    db.execute("CREATE TABLE temp.d (id INTEGER PRIMARY KEY, a TEXT, b INTEGER DEFAULT 5)")
    db.executemany("INSERT INTO temp.d (a, id) VALUES (?, ?)", [(f"a{i}", i) for i in range(n)])
    got = db.execute("SELECT id, a, b FROM temp.d ORDER BY id").fetchall()
    assert [tuple(r) for r in got] == [(i, f"a{i}", 5) for i in range(n)]


@pytest.mark.parametrize("n", [5, 300])
def test_insert_or_ignore_skips_duplicates_within_and_across_batches(
    db: Connection, n: int
) -> None:
    db.execute("CREATE TABLE temp.u (k TEXT PRIMARY KEY, v INTEGER)")
    db.execute("INSERT INTO temp.u VALUES ('k0', -1)")
    rows = [(f"k{i % (n // 2 + 1)}", i) for i in range(n)]
    db.executemany("INSERT OR IGNORE INTO temp.u VALUES (?, ?)", rows)
    got = dict(db.execute("SELECT k, v FROM temp.u").fetchall())
    first: dict[str, int] = {"k0": -1}
    for k, v in rows:
        first.setdefault(k, v)
    assert got == first


@pytest.mark.parametrize("n", [2, 100])
def test_a_duplicate_key_is_refused_and_nothing_is_half_written(db: Connection, n: int) -> None:
    db.execute("CREATE TABLE temp.x (id INTEGER PRIMARY KEY)")
    db.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError):
        db.executemany("INSERT INTO temp.x VALUES (?)", [(i % (n - 1),) for i in range(n)])
    db.execute("ROLLBACK")
    assert db.execute("SELECT count(*) FROM temp.x").fetchone()[0] == 0  # type: ignore[index]


@pytest.mark.parametrize("n", [2, 100])
def test_triggers_fire_for_every_row(db: Connection, n: int) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute(
        "CREATE FUNCTION no_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.v = 'bad' THEN RAISE EXCEPTION 'bad row' USING ERRCODE = "
        "'integrity_constraint_violation'; END IF; RETURN NEW; END $$"
    )
    db.execute("CREATE TRIGGER t_no_bad BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION no_bad()")
    rows = [(i, "bad" if i == n - 1 else "ok") for i in range(n)]
    with pytest.raises(sqlite3.IntegrityError, match="bad row"):
        db.executemany("INSERT INTO t (id, v) VALUES (?, ?)", rows)
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 0  # type: ignore[index]


def test_other_statements_run_once_per_row(db: Connection) -> None:
    db.execute("CREATE TABLE c (k TEXT PRIMARY KEY, n INTEGER)")
    db.executemany(
        "INSERT INTO c VALUES (?, 1) ON CONFLICT(k) DO UPDATE SET n = c.n + 1",
        [("a",), ("b",), ("a",)] * 10,
    )
    db.executemany("UPDATE c SET n = n * ? WHERE k = ?", [(2, "a"), (3, "a")])
    assert dict(db.execute("SELECT k, n FROM c").fetchall()) == {"a": 120, "b": 10}


def test_an_insert_of_an_empty_selection_is_no_duplicate(db: Connection) -> None:
    """``INSERT … SELECT`` of no rows inserts nothing and raises nothing (as on SQLite); a
    single-row ``INSERT … VALUES`` of a key that exists raises, without aborting the
    transaction (the statement is skipped, as SQLite skips it)."""
    db.execute("CREATE TABLE k (id INTEGER PRIMARY KEY)")
    db.execute("BEGIN")
    assert db.execute("INSERT INTO k (id) SELECT 1 WHERE FALSE").rowcount == 0
    db.execute("INSERT INTO k (id) VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO k (id) VALUES (1)")
    db.execute("INSERT INTO k (id) VALUES (2)")
    db.execute("COMMIT")
    assert [r[0] for r in db.execute("SELECT id FROM k ORDER BY id")] == [1, 2]
