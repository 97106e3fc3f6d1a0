"""The SQL the store's role parts speak, run on PostgreSQL: a connection with the interface of
:class:`sqlite3.Connection` over a psycopg connection.

The role parts (``_store/_sqlite/*.py``) are written against ``sqlite3``: ``?`` and ``:name``
placeholders, rows read by name or position, ``lastrowid``, ``sqlite3`` exception classes, a
few SQLite spellings (``IS ?``, ``LIKE`` that ignores case, ``temp.``, ``NOT INDEXED``).
:func:`translate` turns each statement into PostgreSQL once (cached), and :class:`Connection`
binds the parameters client-side (literals, as SQLite sees them: no parameter type guessing),
returns :class:`Row` objects and raises the ``sqlite3`` exception a part already handles, so one
set of SQL serves both stores and every change to it (the engine's set-based evaluation, the
reconciliation aggregates) reaches PostgreSQL too. What cannot be translated is refused loudly.
"""

from __future__ import annotations

import decimal
import functools
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = ["Connection", "Cursor", "Row", "map_error", "translate"]


class Row(tuple):  # type: ignore[type-arg]
    """A result row read by position or by column name, like :class:`sqlite3.Row`."""

    _names: dict[str, int]

    def __new__(cls, names: dict[str, int], values: Iterable[Any]) -> Row:
        row = super().__new__(cls, tuple(_value(v) for v in values))
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names[key])
            except KeyError:
                raise IndexError(f"no column named {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._names)


def _value(value: Any) -> Any:
    """A PostgreSQL value as SQLite would return it: numbers as int/float, binary as bytes."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|::|:[A-Za-z_]\w*|\?|%|[^'\"?:%]+|.", re.DOTALL)

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\s+NOT\s+INDEXED\b", re.IGNORECASE), ""),
    (re.compile(r"\s+INDEXED\s+BY\s+\w+", re.IGNORECASE), ""),
    # SQLite's "a IS b" / "a IS NOT b" compare NULLs as values: PostgreSQL spells them out
    (
        re.compile(r"\bIS\s+NOT\s+(?!(?:NULL|TRUE|FALSE|UNKNOWN|DISTINCT)\b)", re.IGNORECASE),
        "IS DISTINCT FROM ",
    ),
    (
        re.compile(r"\bIS\s+(?!(?:NOT|NULL|TRUE|FALSE|UNKNOWN|DISTINCT)\b)", re.IGNORECASE),
        "IS NOT DISTINCT FROM ",
    ),
    # SQLite allows "CROSS JOIN t a ON …" (a join order hint); PostgreSQL wants a plain JOIN
    (
        re.compile(r"\bCROSS\s+JOIN\s+([\w.]+(?:\s+(?!ON\b)\w+)?)\s+ON\b", re.IGNORECASE),
        r"JOIN \1 ON",
    ),
    (re.compile(r"\btemp\.(\w+)", re.IGNORECASE), r"pg_temp.\1"),
    (re.compile(r"\bLIKE\b", re.IGNORECASE), "ILIKE"),
    (re.compile(r"\bIFNULL\s*\(", re.IGNORECASE), "COALESCE("),
    (re.compile(r"\binstr\s*\(", re.IGNORECASE), "strpos("),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
    # SQLite's "+column" (no index for this term) is no operator on text in PostgreSQL
    (re.compile(r"(?<=[\s(=,])\+(?=[A-Za-z_])"), ""),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
)

#: json_extract(col, '$.key') -> (col::jsonb ->> 'key'): the key's value as text (a rewrite
#: that spans a string literal, so it runs before the ones that skip literals).
_JSON_EXTRACT = re.compile(r"\bjson_extract\s*\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)", re.IGNORECASE)

_JSON_EACH_IDS = re.compile(r"SELECT\s+value\s+FROM\s+json_each\(\?\)", re.IGNORECASE)

_REFUSED = re.compile(
    r"^\s*(PRAGMA|INSERT\s+OR\s+REPLACE|REPLACE\s+INTO)\b|\bsqlite_master\b"
    r"|\bGLOB\b|\bjson_group_array\b|\bWITHOUT\s+ROWID\b",
    re.I,
)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+(TEMP\w*\s+)?TABLE\b", re.IGNORECASE)
_OR_IGNORE = re.compile(r"^(\s*INSERT)\s+OR\s+IGNORE\b", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """One statement of the parts' SQLite dialect in PostgreSQL's, with psycopg placeholders."""
    if _REFUSED.search(sql):
        raise sqlite3.OperationalError(f"not supported on PostgreSQL: {sql.strip()[:80]}")
    # "x IN (SELECT value FROM json_each(?))": a JSON array of ids as one parameter
    sql = _JSON_EACH_IDS.sub(
        "SELECT value::bigint FROM json_array_elements_text(?::json) AS j(value)", sql
    )
    sql = _JSON_EXTRACT.sub("((\\1::jsonb ->> '\\2') COLLATE \"C\")", sql)
    out: list[str] = []
    for piece in _TOKENS.findall(sql):
        if piece == "?":
            out.append("%s")
        elif piece == "%":
            out.append("%%")
        elif piece.startswith(":") and piece != "::" and len(piece) > 1:
            out.append(f"%({piece[1:]})s")
        elif piece.startswith("'"):
            out.append(piece.replace("%", "%%"))
        else:
            out.append(piece)
    text = "".join(out)
    # keyword rewrites apply outside string literals only
    pieces = re.split(r"('(?:[^']|'')*')", text)
    for i in range(0, len(pieces), 2):
        for pattern, replacement in _REWRITES:
            pieces[i] = pattern.sub(replacement, pieces[i])
    text = "".join(pieces)
    if _CREATE_TABLE.match(text):
        # tables made at run time (stages) compare text byte-wise too, as the schema's do: a
        # join between a stage and the seats then uses the seats' indexes
        text = re.sub(r"\bTEXT\b(?!\s+COLLATE)", 'TEXT COLLATE "C"', text, flags=re.IGNORECASE)
        # SQLite's INTEGER is 64-bit, as the schema's BIGINT ids
        text = re.sub(r"\bINTEGER\b", "BIGINT", text, flags=re.IGNORECASE)
    ignore = _OR_IGNORE.match(text)
    if ignore:
        text = (
            ignore.group(1) + text[ignore.end() :].rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
        )
    return text


def map_error(exc: Exception) -> sqlite3.Error:
    """The ``sqlite3`` exception a part handles for a psycopg error (busy maps to ``locked``)."""
    from psycopg import errors

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(
        exc,
        (
            errors.LockNotAvailable,
            errors.DeadlockDetected,
            errors.SerializationFailure,
            errors.QueryCanceled,
        ),
    ):
        return sqlite3.OperationalError(f"database is locked ({message})")
    if isinstance(exc, (errors.IntegrityError, errors.RaiseException)):
        return sqlite3.IntegrityError(message)
    if isinstance(exc, errors.InsufficientPrivilege):
        return sqlite3.DatabaseError(f"permission denied: {message}")
    if isinstance(exc, errors.OperationalError):
        return sqlite3.OperationalError(message)
    return sqlite3.DatabaseError(message)


class Cursor:
    """The result of one statement: its rows (read at once), ``rowcount`` and ``lastrowid``."""

    def __init__(self, conn: Connection, rows: list[Row], rowcount: int, insert: bool) -> None:
        self._conn, self._rows, self.rowcount = conn, rows, rowcount
        self._insert = insert
        self._lastrowid: int | None = None
        self._pos = 0

    @property
    def lastrowid(self) -> int | None:
        """The id the last ``INSERT`` on this connection generated."""
        if self._lastrowid is None and self._insert:
            self._lastrowid = int(self._conn._scalar("SELECT lastval()"))
        return self._lastrowid

    def fetchone(self) -> Row | None:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchall(self) -> list[Row]:
        rest, self._pos = self._rows[self._pos :], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Row]:
        while (row := self.fetchone()) is not None:
            yield row


def _make_rows(cur: psycopg.ClientCursor[Any]) -> list[Row]:
    if cur.description is None:
        return []
    names = {c.name: i for i, c in enumerate(cur.description)}
    return [Row(names, values) for values in cur.fetchall()]


class Connection:
    """A psycopg connection (autocommit; the store issues ``BEGIN``/``COMMIT``) that speaks like
    a :class:`sqlite3.Connection` to the role parts."""

    #: Accepted and ignored: rows always read by name and position.
    row_factory: Any = None

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        from psycopg import ClientCursor

        self.raw = raw
        self._cursor = ClientCursor(raw)

    def _scalar(self, sql: str) -> Any:
        self._cursor.execute(sql)
        row = self._cursor.fetchone()
        return None if row is None else row[0]

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        """Run one statement; its rows are read at once."""
        import psycopg

        text, guarded = _guarded(translate(sql))
        try:
            self._cursor.execute(text, _params(params))
            rows = _make_rows(self._cursor)
        except psycopg.Error as exc:
            raise map_error(exc) from exc
        if guarded and self._cursor.rowcount == 0:
            # the duplicate SQLite would refuse, refused without aborting the transaction
            raise sqlite3.IntegrityError("UNIQUE constraint failed: the row exists already")
        return Cursor(self, rows, self._cursor.rowcount, _is_insert(text))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Cursor:
        """Run one statement per parameter set; ``rowcount`` is their sum.

        A plain ``INSERT … VALUES (…)`` of parameters and constants with at least
        :data:`COPY_FROM` rows goes by ``COPY`` (the values as the table's columns read them, as
        an ``INSERT`` coerces them; the table's triggers fire); one with ``ON CONFLICT DO
        NOTHING``, or fewer rows, as one statement per :data:`ROWS_PER_INSERT` rows (``VALUES
        (…), (…), …``); any other statement is pipelined, one per set.
        """
        import psycopg

        text = translate(sql)
        batch = [_params(p) for p in seq]
        if not batch:
            return Cursor(self, [], 0, False)
        shape = _multi_row(text)
        try:
            if (
                shape is not None
                and not shape[2]
                and len(batch) >= COPY_FROM
                and self._copy_insert(shape, batch)
            ):
                count = len(batch)
            elif shape is None or not all(isinstance(p, tuple) for p in batch):
                self._cursor.executemany(text, batch)
                count = self._cursor.rowcount
            else:
                head, row, tail = shape
                count = 0
                for n in range(0, len(batch), ROWS_PER_INSERT):
                    chunk = batch[n : n + ROWS_PER_INSERT]
                    self._cursor.execute(
                        head + ", ".join([row] * len(chunk)) + tail,
                        [v for p in chunk for v in p],
                    )
                    count += self._cursor.rowcount
        except psycopg.Error as exc:
            raise map_error(exc) from exc
        return Cursor(self, [], count, _is_insert(text))

    def _copy_insert(self, shape: tuple[str, str, str], batch: list[Any]) -> bool:
        """``INSERT … VALUES`` of ``batch`` by ``COPY``; False (nothing done) when the row has
        more than parameters and constants, or the parameter sets are not all tuples."""
        plan = _copy_plan(shape[0], shape[1])
        if plan is None or not all(isinstance(p, tuple) for p in batch):
            return False
        table, columns, items = plan
        if columns is None:
            self._cursor.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                (table,),
            )
            names = [str(r[0]) for r in self._cursor.fetchall()][: len(items)]
            columns = ", ".join('"' + c.replace('"', '""') + '"' for c in names)
        slots = [i for i, item in enumerate(items) if item is _PARAM]
        if all(item is _PARAM for item in items):
            rows: Iterable[Sequence[Any]] = batch
        else:
            template = list(items)

            def fill(params: Sequence[Any]) -> list[Any]:
                row = template[:]
                for slot, value in zip(slots, params, strict=True):
                    row[slot] = value
                return row

            rows = map(fill, batch)
        self.copy_rows(f"{table} ({columns})", rows)
        return True

    def copy_rows(self, table: str, rows: Iterable[Sequence[Any]]) -> int:
        """Append ``rows`` to ``table`` (every column, in order) by ``COPY``: one round trip for
        any number of rows (``executemany`` costs one per row). ``table`` is SQL, not data."""
        import psycopg

        count = 0
        try:
            with self.raw.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        except psycopg.Error as exc:
            raise map_error(exc) from exc
        return count

    @property
    def in_transaction(self) -> bool:
        """True inside ``BEGIN`` … ``COMMIT`` (as :attr:`sqlite3.Connection.in_transaction`)."""
        return int(self.raw.info.transaction_status) != 0

    def cost_exclusion_sql(
        self, rules: Sequence[Any], profile_types: Mapping[str, str], *, alias: str = "s"
    ) -> tuple[str, list[Any]]:
        """The reconciliation's cost exclusions, compiled for PostgreSQL (no Python SQL
        functions here: see ``_postgres/reconcile.py``)."""
        from .reconcile import cost_exclusion_sql

        return cost_exclusion_sql(self, rules, profile_types, alias=alias)

    def close(self) -> None:
        self._cursor.close()


#: Rows per statement when :meth:`Connection.executemany` inserts many rows at once.
ROWS_PER_INSERT = 500
#: From this many rows on, :meth:`Connection.executemany` inserts by ``COPY``.
COPY_FROM = 20

_PARAM = object()
_HEAD = re.compile(
    r"^\s*INSERT\s+INTO\s+([\w.\"]+)\s*(?:\(([^()]*)\)\s*)?VALUES\s*$", re.IGNORECASE
)
_ITEM = re.compile(r"^\s*(?:(%s)|(-?\d+)|'((?:[^']|'')*)'|(NULL))\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _copy_plan(head: str, row: str) -> tuple[str, str | None, tuple[Any, ...]] | None:
    """(table, its column list or None for "every column", each value: a parameter or a
    constant) of a multi-row insert that ``COPY`` can do; None when a value is an expression."""
    found = _HEAD.match(head)
    if found is None:
        return None
    items: list[Any] = []
    for piece in re.split(r",(?=(?:[^']*'[^']*')*[^']*$)", row[1:-1]):
        item = _ITEM.match(piece)
        if item is None:
            return None
        if item.group(1):
            items.append(_PARAM)
        elif item.group(2):
            items.append(int(item.group(2)))
        elif item.group(4):
            items.append(None)
        else:
            items.append(item.group(3).replace("''", "'").replace("%%", "%"))
    return found.group(1), found.group(2), tuple(items)


_VALUES = re.compile(
    r"^(\s*INSERT\s+INTO\s+[\w.\"]+\s*(?:\([^()]*\)\s*)?VALUES\s*)(\(.*\))"
    r"(\s+ON\s+CONFLICT\s+DO\s+NOTHING)?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


@functools.lru_cache(maxsize=256)
def _multi_row(text: str) -> tuple[str, str, str] | None:
    """(head, one row's ``(…)``, tail) of a translated plain ``INSERT … VALUES (…)`` with
    positional parameters and nothing after it but ``ON CONFLICT DO NOTHING`` (an upsert could
    meet one key twice in one statement, which PostgreSQL refuses); else None."""
    found = _VALUES.match(text)
    if found is None or "%(" in found.group(2):
        return None
    # one row: its first "(" closes only at its end ("(a), (b)" is two)
    depth = 0
    for i, piece in enumerate(re.split(r"('(?:[^']|'')*')", found.group(2)[1:-1])):
        if i % 2:
            continue  # a string literal
        for ch in piece:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                return None
    if depth != 0:
        return None
    return found.group(1), found.group(2), found.group(3) or ""


def _params(params: Sequence[Any] | Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
    if isinstance(params, Mapping):
        return dict(params)
    return tuple(params)


_INSERT_VALUES = re.compile(
    r"^\s*INSERT\s+INTO\s+[\w.\"]+\s*(?:\([^()]*\)\s*)?VALUES\b", re.IGNORECASE
)


@functools.lru_cache(maxsize=1024)
def _guarded(text: str) -> tuple[str, bool]:
    """A plain ``INSERT`` made to skip a duplicate instead of failing: PostgreSQL aborts the
    whole transaction on an error, SQLite only the statement, and parts catch the duplicate
    (``IntegrityError``) and carry on; the caller raises it when no row went in. Only an
    ``INSERT … VALUES``: an ``INSERT … SELECT`` may rightly insert no row (an empty selection)."""
    upper = text.upper()
    if not _INSERT_VALUES.match(text) or "ON CONFLICT" in upper or "RETURNING" in upper:
        return text, False
    return text.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING", True


def _is_insert(text: str) -> bool:
    return text.lstrip()[:6].upper() == "INSERT"
