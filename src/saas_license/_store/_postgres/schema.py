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
from typing import Any

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


def _lean_subscriptions(conn: object) -> None:
    """Issue 13's lean seats on PostgreSQL: attributes in shared rows, run ids as integers.

    The same tables and data moves as SQLite's step (``_store/_schema.py``), in PostgreSQL's
    SQL: the seats' other indexes are read from ``pg_indexes`` and made again.
    """
    db: Any = conn
    kept = [
        str(r[0])
        for r in db.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'subscriptions' AND indexname NOT IN ('subscriptions_user', "
            "'subscriptions_profile_active', 'subscriptions_identifier') AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'subscriptions'::regclass) "
            "ORDER BY indexname"
        ).fetchall()
    ]
    statements = [
        *ddl(
            "CREATE TABLE seat_attrs (id INTEGER PRIMARY KEY, attributes TEXT NOT NULL, "
            "unknown TEXT NOT NULL, UNIQUE (attributes, unknown))"
        ),
        *ddl("CREATE TABLE download_runs (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE)"),
        "INSERT INTO seat_attrs (attributes, unknown) SELECT attributes, unknown FROM "
        "(SELECT attributes, unknown, MIN(id) AS first FROM subscriptions "
        "GROUP BY attributes, unknown) x ORDER BY first",
        "INSERT INTO download_runs (run_id) SELECT run FROM (SELECT run, MIN(id) AS first FROM "
        "(SELECT created_run AS run, id FROM subscriptions UNION ALL SELECT seen_run, id FROM "
        "subscriptions UNION ALL SELECT quarantined_run, id FROM subscriptions) u "
        "WHERE run IS NOT NULL GROUP BY run) r ORDER BY first",
        *ddl(
            """CREATE TABLE subscriptions_lean (
            id INTEGER PRIMARY KEY,
            profile TEXT NOT NULL,
            external_user_id TEXT NOT NULL,
            identifier TEXT NOT NULL,
            user_principal_name TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            software_model TEXT,
            last_activity TEXT,
            activity_checked_at TEXT,
            external_created TEXT,
            assigned_at TEXT,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            created_run INTEGER,
            seen_run INTEGER,
            quarantined_run INTEGER,
            active INTEGER NOT NULL DEFAULT 1,
            attrs INTEGER NOT NULL,
            UNIQUE (profile, external_user_id, identifier)
        )"""
        ),
        "INSERT INTO subscriptions_lean SELECT s.id, s.profile, s.external_user_id, "
        "s.identifier, s.user_principal_name, s.display_name, s.software_model, "
        "s.last_activity, s.activity_checked_at, s.external_created, s.assigned_at, "
        "s.first_seen_at, s.last_seen_at, "
        "(SELECT id FROM download_runs WHERE run_id = s.created_run), "
        "(SELECT id FROM download_runs WHERE run_id = s.seen_run), "
        "(SELECT id FROM download_runs WHERE run_id = s.quarantined_run), s.active, "
        "(SELECT id FROM seat_attrs a WHERE a.attributes = s.attributes "
        "AND a.unknown = s.unknown) FROM subscriptions s ORDER BY s.id",
        "DROP TABLE subscriptions",
        "ALTER TABLE subscriptions_lean RENAME TO subscriptions",
        # the identity sequences follow the copied ids
        "SELECT setval(pg_get_serial_sequence('subscriptions', 'id'), "
        "COALESCE((SELECT MAX(id) FROM subscriptions), 0) + 1, false)",
        "CREATE INDEX subscriptions_profile_active ON subscriptions (profile, active)",
        "CREATE INDEX subscriptions_identifier ON subscriptions (identifier)",
        *kept,
    ]
    for statement in statements:
        db.raw.execute(statement)  # PostgreSQL's own SQL: no dialect translation


def _integer_instants(conn: object) -> None:
    """Issue 13's integer seat instants on PostgreSQL: each text instant becomes ``BIGINT``
    epoch milliseconds (UTC), the same millisecond (indexes on them are rebuilt by the type
    change)."""
    from .._schema import SEAT_INSTANTS

    db: Any = conn
    changes = ", ".join(
        f"ALTER COLUMN {c} TYPE BIGINT USING floor(extract(epoch FROM {c}::timestamptz) * 1000)::bigint"
        for c in SEAT_INSTANTS
    )
    db.raw.execute(f"ALTER TABLE subscriptions {changes}")  # one rewrite; PostgreSQL's own SQL


def _audit_hashes_as_bytes(conn: object) -> None:
    """Issue 13's compact audit hashes on PostgreSQL: the hash columns become ``BYTEA`` (the
    same hashes, decoded from hex; a type change fires no row trigger and keeps the grants)."""
    db: Any = conn
    for statement in (
        "ALTER TABLE audit_log ALTER COLUMN prev_hash TYPE BYTEA USING decode(prev_hash, 'hex'), "
        "ALTER COLUMN hash TYPE BYTEA USING decode(hash, 'hex')",
        "ALTER TABLE audit_chains ALTER COLUMN hash TYPE BYTEA USING decode(hash, 'hex')",
    ):
        db.raw.execute(statement)


def _candidate_table_rebuilt(conn: object) -> None:
    """Issue 13's compact candidates on PostgreSQL: the JSON and text opening time dropped and
    the integer one renamed (PostgreSQL drops columns in place; SQLite rebuilds the table)."""
    db: Any = conn
    for statement in (
        "ALTER TABLE candidates DROP COLUMN data",
        "ALTER TABLE candidates DROP COLUMN opened_at",
        "ALTER TABLE candidates RENAME COLUMN opened TO opened_at",
        "ALTER TABLE candidates ALTER COLUMN opened_at SET NOT NULL",
        "ALTER TABLE candidates ALTER COLUMN upn SET NOT NULL",
        "ALTER TABLE candidates ALTER COLUMN inactive_days SET NOT NULL",
    ):
        db.raw.execute(statement)


def _same_step(name: str) -> Callable[[object], None]:
    """A SQLite Python step whose statements the dialect runs unchanged on PostgreSQL."""

    def run(conn: object) -> None:
        from .. import _schema

        getattr(_schema, name)(conn)

    return run


#: SQLite's Python steps, by function name → what runs on PostgreSQL instead.
_PY_STEPS: dict[str, Callable[[object], None]] = {
    "_chain_existing_audit": _no_unchained_entries,
    "_lean_subscriptions": _lean_subscriptions,
    "_compact_candidates": _same_step("_compact_candidates"),
    "_integer_instants": _integer_instants,
    "_candidate_columns": _same_step("_candidate_columns"),
    "_candidate_table_rebuilt": _candidate_table_rebuilt,
    "_audit_hashes_as_bytes": _audit_hashes_as_bytes,
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


#: Per namespace, each step of :data:`~saas_license._store._schema.MIGRATIONS`, translated on use;
#: plus PostgreSQL's own namespace.
PG_MIGRATIONS = _pg_migrations()

#: PostgreSQL's own steps (namespace ``postgres``).
_PG_ONLY: list[PgStep] = [
    # 1: the application role may refresh the planner's statistics of the seats (only a
    # table's owner may ANALYZE it): a download that fills an empty table is otherwise planned
    # as if the table were empty, seat by seat against all of them
    [
        "CREATE FUNCTION saas_license_analyze_seats() RETURNS void LANGUAGE plpgsql "
        "SECURITY DEFINER SET search_path FROM CURRENT AS $$ BEGIN "
        "ANALYZE subscriptions; ANALYZE seat_attrs; END $$",
    ],
]
PG_MIGRATIONS["postgres"] = [functools.partial(lambda step: step, step) for step in _PG_ONLY]

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
        # what compact entries' kinds say is part of what their hashes cover (the table exists
        # from migration ``compact`` 5 on)
        "DO $$ BEGIN IF to_regclass('audit_kinds') IS NOT NULL THEN "
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_kinds FROM {quoted}; END IF; END $$",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_versions FROM {quoted}",
    ]
