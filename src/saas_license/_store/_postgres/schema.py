"""The workspace schema on PostgreSQL: the SQLite migrations (``_store/_schema.py``) translated
step by step, so both stores count the same versions per namespace, plus PostgreSQL's own
guards of the audit log and the grants of the restricted application role.

Each SQLite statement is translated by :func:`ddl`: ``INTEGER PRIMARY KEY`` becomes an identity
column, text compares byte-wise (``COLLATE "C"``, as SQLite's ``BINARY``), and the SQLite triggers
become PL/pgSQL functions and triggers (:data:`TRIGGERS`). A step that cannot be translated (a
new trigger, a Python step) raises :class:`NotImplementedError` when it is first applied, so a
migration added for SQLite never silently skips PostgreSQL (``tests/postgres`` applies them all).
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable

from .._schema import MIGRATIONS, Migration

__all__ = [
    "AUDIT_FUNCTIONS",
    "PG_MIGRATIONS",
    "TRIGGERS",
    "app_grants",
    "ddl",
]

_GUARD = """
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {body}
END
$$"""

#: The audit log's guards: function name → its PL/pgSQL body (``verify_audit`` compares them).
AUDIT_FUNCTIONS: dict[str, str] = {
    "audit_log_append_only": (
        "RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'integrity_constraint_violation';"
    ),
    "audit_log_must_be_chained": (
        "IF NEW.hash IS NULL OR NEW.chain IS NULL OR NEW.seq IS NULL OR NEW.prev_hash IS NULL THEN\n"
        "        RAISE EXCEPTION 'an audit entry must be chained (use Store.append_audit)'"
        " USING ERRCODE = 'integrity_constraint_violation';\n"
        "    END IF;\n"
        "    RETURN NEW;"
    ),
}

#: Each SQLite trigger of ``_schema.py`` by name → the PostgreSQL statements that replace it.
#: ``audit_log_no_replace`` needs no trigger here: PostgreSQL has no ``INSERT OR REPLACE``, the
#: primary key and ``(chain, seq)`` unique index refuse a second row, and an upsert is an UPDATE.
TRIGGERS: dict[str, list[str]] = {
    "audit_log_no_update": [
        _GUARD.format(name="audit_log_append_only", body=AUDIT_FUNCTIONS["audit_log_append_only"]),
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ],
    "audit_log_no_delete": [
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
    "audit_log_no_replace": [],
    "audit_log_chained": [
        _GUARD.format(
            name="audit_log_must_be_chained", body=AUDIT_FUNCTIONS["audit_log_must_be_chained"]
        ),
        "CREATE TRIGGER audit_log_chained BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_must_be_chained()",
    ],
}

#: The triggers ``verify_audit`` expects on ``audit_log``, with the function each runs.
AUDIT_TRIGGERS: dict[str, str] = {
    "audit_log_no_update": "audit_log_append_only",
    "audit_log_no_truncate": "audit_log_append_only",
    "audit_log_no_delete": "audit_log_append_only",
    "audit_log_chained": "audit_log_must_be_chained",
}

#: SQLite data fixes whose PostgreSQL spelling differs (normalised SQLite text → PostgreSQL).
_DATA_STEPS: dict[str, str] = {
    "UPDATE run_locks SET heartbeat_at = acquired_at, expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', acquired_at, '+2 minutes');": (
        "UPDATE run_locks SET heartbeat_at = acquired_at, expires_at = to_char("
        "(acquired_at::timestamptz + interval '2 minutes') AT TIME ZONE 'UTC', "
        '\'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\')'
    ),
}

_TRIGGER = re.compile(r"^\s*CREATE\s+TRIGGER\s+(\w+)", re.IGNORECASE)
_DROP_TRIGGER = re.compile(r"^\s*DROP\s+TRIGGER\s+(IF\s+EXISTS\s+)?(\w+)", re.IGNORECASE)


def _split(script: str) -> list[str]:
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements


def ddl(statement: str) -> list[str]:
    """One SQLite migration statement as PostgreSQL statements (none, one or several)."""
    normal = " ".join(statement.split())
    if normal in _DATA_STEPS:
        return [_DATA_STEPS[normal]]
    trigger = _TRIGGER.match(statement)
    if trigger:
        if trigger.group(1) not in TRIGGERS:
            raise NotImplementedError(
                f"the SQLite trigger {trigger.group(1)} has no PostgreSQL translation "
                "(add it to _store/_postgres/schema.py TRIGGERS)"
            )
        return TRIGGERS[trigger.group(1)]
    dropped = _DROP_TRIGGER.match(statement)
    if dropped:
        raise NotImplementedError(f"dropping trigger {dropped.group(2)} is not translated")
    text = statement.strip().rstrip(";")
    if re.search(r"\bstrftime\s*\(|\bjulianday\s*\(|\bdatetime\s*\(", text, re.IGNORECASE):
        raise NotImplementedError(f"SQLite date functions are not translated: {normal[:80]}")
    text = re.sub(
        r"\b(\w+)\s+INTEGER\s+PRIMARY\s+KEY\b",
        r"\1 BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(r"\bINTEGER\b", "BIGINT", text, flags=re.IGNORECASE)
    text = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', text, flags=re.IGNORECASE)
    text = re.sub(r"\bBLOB\b", "BYTEA", text, flags=re.IGNORECASE)
    text = re.sub(r"\bREAL\b", "DOUBLE PRECISION", text, flags=re.IGNORECASE)
    return [text]


#: A PostgreSQL migration step: SQL statements, or a function given the psycopg connection.
PgStep = list[str] | Callable[[object], None]


def _no_unchained_entries(_conn: object) -> None:
    """Chaining old audit entries: a PostgreSQL workspace's log was chained from its first entry."""


#: SQLite's Python steps, by function name → what runs on PostgreSQL instead.
_PY_STEPS: dict[str, Callable[[object], None]] = {
    "_chain_existing_audit": _no_unchained_entries,
}


def _translate_step(step: Migration) -> PgStep:
    if callable(step):
        name = getattr(step, "__name__", repr(step))
        if name not in _PY_STEPS:
            raise NotImplementedError(f"the Python migration step {name} has no PostgreSQL twin")
        return _PY_STEPS[name]
    return [pg for statement in _split(step) for pg in ddl(statement)]


def _pg_migrations() -> dict[str, list[Callable[[], PgStep]]]:
    # translated lazily, step by step, so an untranslatable new step fails where it is applied
    return {
        namespace: [functools.partial(_translate_step, step) for step in steps]
        for namespace, steps in MIGRATIONS.items()
    }


#: Per namespace, each step of :data:`~saas_license._store._schema.MIGRATIONS`, translated on use.
PG_MIGRATIONS = _pg_migrations()

#: Tables only PostgreSQL has (none the copy command moves).
PG_ONLY_TABLES = frozenset({"schema_versions"})


def app_grants(role: str) -> list[str]:
    """Grants that make ``role`` the restricted application role: it reads and writes every
    table but can only add to the audit log, and cannot change the schema or its guards."""
    quoted = '"' + role.replace('"', '""') + '"'
    return [
        f"GRANT USAGE ON SCHEMA {{schema}} TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {{schema}} TO {quoted}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {{schema}} TO {quoted}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {quoted}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_versions FROM {quoted}",
    ]
