"""Versioned schema migrations, grouped by namespace so each area of the core owns its tables.

A namespace's list only ever grows: never edit a migration that has shipped, append a new one.
A step is SQL, or a Python callable given the connection (inside the migration transaction) for
what SQL alone cannot do, such as hashing the audit entries already there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["MIGRATIONS", "Migration"]

#: One migration step: a SQL script, or a function run on the connection.
Migration = str | Callable[[sqlite3.Connection], None]

MIGRATIONS: dict[str, list[Migration]] = {
    "core": [
        # 1: the walking skeleton
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE aliases (name TEXT PRIMARY KEY, data TEXT NOT NULL);
        CREATE TABLE profiles (name TEXT PRIMARY KEY, data TEXT NOT NULL);
        CREATE TABLE software_models (
            name TEXT PRIMARY KEY,
            publisher TEXT NOT NULL,
            paid INTEGER NOT NULL,
            created_at TEXT
        );
        CREATE TABLE identifier_map (
            identifier TEXT PRIMARY KEY,
            software_model TEXT NOT NULL REFERENCES software_models(name)
        );
        CREATE TABLE subscriptions (
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
            created_run TEXT,
            seen_run TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            attributes TEXT NOT NULL DEFAULT '{}',
            UNIQUE (profile, external_user_id, identifier)
        );
        CREATE INDEX subscriptions_profile_active ON subscriptions (profile, active);
        CREATE INDEX subscriptions_user ON subscriptions (profile, external_user_id);
        CREATE INDEX subscriptions_identifier ON subscriptions (identifier);
        CREATE TABLE exclusion_rules (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
        CREATE TABLE reclamation_rules (
            id INTEGER PRIMARY KEY,
            software_model TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE TABLE candidates (
            id INTEGER PRIMARY KEY,
            subscription_id INTEGER NOT NULL,
            profile TEXT NOT NULL,
            state TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            closed_at TEXT,
            data TEXT NOT NULL
        );
        CREATE UNIQUE INDEX candidates_one_open
            ON candidates (subscription_id) WHERE closed_at IS NULL;
        CREATE INDEX candidates_profile_state ON candidates (profile, state);
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            profile TEXT NOT NULL,
            process TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX jobs_profile ON jobs (profile, started_at);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT,
            profile TEXT,
            before TEXT,
            after TEXT,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
        # 2: the reclamation lifecycle (issue 4): cooldowns, schedules, run locks, stored plans,
        # vendor reclaim actions (for undo) and the notification outbox
        """
        ALTER TABLE candidates ADD COLUMN keep_until TEXT;
        CREATE INDEX candidates_keep_until ON candidates (profile, keep_until)
            WHERE keep_until IS NOT NULL;
        CREATE INDEX candidates_subscription ON candidates (subscription_id);
        CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
        CREATE TABLE scheduled_jobs (
            profile TEXT NOT NULL,
            process TEXT NOT NULL,
            interval_seconds INTEGER NOT NULL,
            next_run_at TEXT NOT NULL,
            last_run_at TEXT,
            last_status TEXT,
            enabled INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (profile, process)
        );
        CREATE TABLE run_locks (
            profile TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            acquired_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE TABLE reclaim_plans (
            id TEXT PRIMARY KEY,
            profile TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            applied_at TEXT,
            data TEXT NOT NULL
        );
        CREATE TABLE reclaim_actions (
            id INTEGER PRIMARY KEY,
            profile TEXT NOT NULL,
            external_user_id TEXT NOT NULL,
            at TEXT NOT NULL,
            status TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX reclaim_actions_profile ON reclaim_actions (profile, at);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            profile TEXT,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX outbox_status ON outbox (status, id);
        """,
    ],
    "finance": [
        # 1: entitlements (rights bought) and saved reconciliation results (issue 5)
        """
        CREATE TABLE finance_entitlements (
            id INTEGER PRIMARY KEY,
            software_model TEXT NOT NULL,
            profile TEXT,
            data TEXT NOT NULL
        );
        CREATE INDEX finance_entitlements_model ON finance_entitlements (software_model);
        CREATE TABLE finance_reconciliations (
            id INTEGER PRIMARY KEY,
            as_of TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX finance_reconciliations_as_of ON finance_reconciliations (as_of);
        """,
        # 2: reconciliation in SQL (issue 13): active seats in (model, profile) order with their
        # last activity, so the counts per unit are read from the index alone, without a sort
        """
        CREATE INDEX finance_active_seats ON subscriptions (software_model, profile, last_activity)
            WHERE active = 1;
        """,
        # 3: reconciliation tiers and remediation (issue 16): allocations of company-wide
        # rights, each model's product, remediation options' statuses, and each seat's
        # reconciled/unlicensed flags as of the last saved reconciliation
        """
        CREATE TABLE finance_allocations (
            id INTEGER PRIMARY KEY,
            entitlement_id INTEGER NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX finance_allocations_entitlement ON finance_allocations (entitlement_id);
        CREATE TABLE finance_products (
            software_model TEXT PRIMARY KEY,
            product TEXT NOT NULL
        );
        CREATE TABLE finance_remediation (
            key TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE TABLE finance_seat_status (
            subscription_id INTEGER PRIMARY KEY,
            unlicensed INTEGER NOT NULL,
            reconciliation_id INTEGER NOT NULL
        );
        """,
        # 4: the reconciliation's index, cheap to keep up at ingest (issue 13): the same entries,
        # but within a (model, profile) ordered by blocks of 4,096 seat ids before last activity,
        # so a download's new seats land in a few leaves at the end of each block instead of
        # all over the index (random last activity); the counts still read the index alone
        """
        DROP INDEX IF EXISTS finance_active_seats;
        CREATE INDEX finance_active_seats
            ON subscriptions (software_model, profile, (id >> 12), last_activity) WHERE active = 1;
        """,
    ],
    "safety": [
        # 1: reclaim safety (issue 8): what the vendor did not report reliably, per seat, and
        # spoke records the core's boundary checks refused (quarantine), shown by `jobs`
        """
        ALTER TABLE subscriptions ADD COLUMN unknown TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE subscriptions ADD COLUMN quarantined_run TEXT;
        CREATE TABLE safety_quarantine (
            id INTEGER PRIMARY KEY,
            profile TEXT NOT NULL,
            run_id TEXT NOT NULL,
            at TEXT NOT NULL,
            spoke TEXT NOT NULL,
            external_user_id TEXT NOT NULL,
            identifier TEXT NOT NULL,
            field TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX safety_quarantine_profile ON safety_quarantine (profile, id);
        """,
    ],
}


def _chain_existing_audit(db: sqlite3.Connection) -> None:
    """Chain the audit entries written before the log was hash-chained (oldest first)."""
    from ._integrity import chain_unchained_entries

    chain_unchained_entries(db)


# Issue 8, items 6-7: lock heartbeats, and the hash-chained audit log. Kept apart from "core" so
# that this area owns its migrations.
MIGRATIONS["integrity"] = [
    # 1: run locks carry a heartbeat; audit entries carry their chain, position and hashes, and
    # each chain's head is kept; replacing an entry is refused even by INSERT OR REPLACE
    """
    ALTER TABLE run_locks ADD COLUMN heartbeat_at TEXT;
    UPDATE run_locks SET heartbeat_at = acquired_at,
        expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', acquired_at, '+2 minutes');
    ALTER TABLE audit_log ADD COLUMN chain TEXT;
    ALTER TABLE audit_log ADD COLUMN seq INTEGER;
    ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
    ALTER TABLE audit_log ADD COLUMN hash TEXT;
    CREATE TABLE audit_chains (
        chain TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    # 2: hash the entries already there, then index the chains and add the triggers
    _chain_existing_audit,
    """
    CREATE UNIQUE INDEX audit_log_chain_seq ON audit_log (chain, seq);
    CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
        WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
          OR EXISTS (SELECT 1 FROM audit_log WHERE chain = NEW.chain AND seq = NEW.seq)
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: an entry cannot be replaced'); END;
    CREATE TRIGGER audit_log_chained BEFORE INSERT ON audit_log
        WHEN NEW.hash IS NULL OR NEW.chain IS NULL OR NEW.seq IS NULL OR NEW.prev_hash IS NULL
        BEGIN SELECT RAISE(ABORT, 'an audit entry must be chained (use Store.append_audit)'); END;
    """,
]


def _lean_subscriptions(db: sqlite3.Connection) -> None:
    """Move each seat's attributes into shared rows and its run ids into small integers (issue 13).

    Lossless: every distinct (attributes, unknown) pair becomes one ``seat_attrs`` row that the
    seats point at, and every run id one ``download_runs`` row; the seats keep all other columns.
    """
    # the other areas' indexes on the seats (e.g. finance's), made again on the new table
    kept = [
        str(r[0])
        for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subscriptions' "
            "AND sql IS NOT NULL AND name NOT IN ('subscriptions_user', "
            "'subscriptions_profile_active', 'subscriptions_identifier') ORDER BY name"
        )
    ]
    for statement in (
        "CREATE TABLE seat_attrs (id INTEGER PRIMARY KEY, attributes TEXT NOT NULL, "
        "unknown TEXT NOT NULL, UNIQUE (attributes, unknown))",
        "CREATE TABLE download_runs (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE)",
        "INSERT OR IGNORE INTO seat_attrs (attributes, unknown) "
        "SELECT attributes, unknown FROM subscriptions ORDER BY id",
        "INSERT OR IGNORE INTO download_runs (run_id) "
        "SELECT run FROM (SELECT created_run AS run, id FROM subscriptions "
        "UNION ALL SELECT seen_run, id FROM subscriptions UNION ALL "
        "SELECT quarantined_run, id FROM subscriptions) WHERE run IS NOT NULL ORDER BY id",
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
        )""",
        "INSERT INTO subscriptions_lean SELECT s.id, s.profile, s.external_user_id, s.identifier, "
        "s.user_principal_name, s.display_name, s.software_model, s.last_activity, "
        "s.activity_checked_at, s.external_created, s.assigned_at, s.first_seen_at, "
        "s.last_seen_at, "
        "(SELECT id FROM download_runs WHERE run_id = s.created_run), "
        "(SELECT id FROM download_runs WHERE run_id = s.seen_run), "
        "(SELECT id FROM download_runs WHERE run_id = s.quarantined_run), s.active, "
        "(SELECT id FROM seat_attrs a WHERE a.attributes = s.attributes AND a.unknown = s.unknown) "
        "FROM subscriptions s ORDER BY s.id",
        "DROP TABLE subscriptions",
        "ALTER TABLE subscriptions_lean RENAME TO subscriptions",
        # (profile, external_user_id) is served by the unique key's prefix
        "CREATE INDEX subscriptions_profile_active ON subscriptions (profile, active)",
        "CREATE INDEX subscriptions_identifier ON subscriptions (identifier)",
        *kept,
    ):
        db.execute(statement)


def _compact_candidates(db: sqlite3.Connection) -> None:
    """Re-store every candidate's data without the fields at their default (read back the same)."""
    import json

    from .._candidates.records import RemovalCandidate
    from .._convert import converter
    from ._sqlite.candidates import pack_candidate

    rows = db.execute("SELECT id, data FROM candidates").fetchall()
    db.executemany(
        "UPDATE candidates SET data = ? WHERE id = ?",
        [
            (pack_candidate(converter.structure(json.loads(data), RemovalCandidate)), cid)
            for cid, data in rows
        ],
    )


#: A seat's instant columns, stored as integer epoch milliseconds (UTC) since ``engine`` 3.
SEAT_INSTANTS = (
    "last_activity",
    "activity_checked_at",
    "external_created",
    "assigned_at",
    "first_seen_at",
    "last_seen_at",
)


def _text_to_ms(value: object) -> int | None:
    """A seat instant stored as text (``format_instant``'s form, or any ISO-8601 instant with a
    zone) as epoch milliseconds; the same instant, to the millisecond."""
    from .._time import epoch_ms
    from ._sqlite.base import _dt

    if value is None:
        return None
    if isinstance(value, int):  # already converted (never the case in a shipped workspace)
        return value
    parsed = _dt(str(value))
    assert parsed is not None
    return epoch_ms(parsed)


def _integer_instants(db: sqlite3.Connection) -> None:
    """Store every seat instant as integer epoch milliseconds (UTC) instead of 24-character text
    (issue 13): ~100 bytes less a seat, and integer comparisons for evaluation and reconciliation.

    Lossless: text instants carry milliseconds, and each becomes the same millisecond. The table
    is rebuilt (a ``TEXT`` column would turn integers back into text), its indexes made again.
    """
    indexes = [
        str(r[0])
        for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subscriptions' "
            "AND sql IS NOT NULL ORDER BY name"
        )
    ]
    db.create_function("saas_license_text_ms", 1, _text_to_ms, deterministic=True)
    columns = [str(r[1]) for r in db.execute("PRAGMA table_info(subscriptions)")]
    select = ", ".join(f"saas_license_text_ms({c})" if c in SEAT_INSTANTS else c for c in columns)
    for statement in (
        """CREATE TABLE subscriptions_ms (
            id INTEGER PRIMARY KEY,
            profile TEXT NOT NULL,
            external_user_id TEXT NOT NULL,
            identifier TEXT NOT NULL,
            user_principal_name TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            software_model TEXT,
            last_activity INTEGER,
            activity_checked_at INTEGER,
            external_created INTEGER,
            assigned_at INTEGER,
            first_seen_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            created_run INTEGER,
            seen_run INTEGER,
            quarantined_run INTEGER,
            active INTEGER NOT NULL DEFAULT 1,
            attrs INTEGER NOT NULL,
            UNIQUE (profile, external_user_id, identifier)
        )""",
        f"INSERT INTO subscriptions_ms ({', '.join(columns)}) SELECT {select} "
        "FROM subscriptions ORDER BY id",
        "DROP TABLE subscriptions",
        "ALTER TABLE subscriptions_ms RENAME TO subscriptions",
        *indexes,
    ):
        db.execute(statement)


# Issue 13: a lean store (attributes shared between seats, integer run ids, compact candidates).
MIGRATIONS["engine"] = [
    # 1: seats point at shared attribute rows and integer run ids
    _lean_subscriptions,
    # 2: candidates stored without their default fields
    _compact_candidates,
    # 3: seat instants as integer epoch milliseconds (UTC)
    _integer_instants,
    # 4: no index on the seats' identifier alone (issue 13, ~24 bytes a seat and one more
    # index write per seat merged): only re-pointing an identifier's seats at a model
    # (``map_identifier``, rare) searched by it; every other query filters by profile first
    """
    DROP INDEX IF EXISTS subscriptions_identifier;
    """,
    # 5: a download's activity counted as checked by its merge, in the same write that marks
    # each seat seen (issue 13: one write per unchanged seat, not two): the instant it did so,
    # so the activity step of that run only counts the seats (NULL: stamped the old way)
    """
    ALTER TABLE download_runs ADD COLUMN activity_checked_at INTEGER;
    """,
    # 6: a re-run writes no unchanged seat (issue 13): a complete download carries forward the
    # runs its unchanged seats were last written by, so those seats read as seen (and, for a
    # download that carries activity, checked) by it. ``carried_to``: the profile's last
    # complete download that carried this run (itself for that download's own row);
    # ``carried_seen_at``/``carried_checked_at``: that download's instants (see
    # ``_store/_sqlite/seen.py``). Existing workspaces start with nothing carried.
    """
    ALTER TABLE download_runs ADD COLUMN profile TEXT;
    ALTER TABLE download_runs ADD COLUMN carried_to INTEGER;
    ALTER TABLE download_runs ADD COLUMN carried_seen_at INTEGER;
    ALTER TABLE download_runs ADD COLUMN carried_checked_at INTEGER;
    CREATE INDEX download_runs_carried ON download_runs (profile, carried_to);
    """,
]


# Issue 12: people answer notices through signed links; each link's nonce is spent once.
MIGRATIONS["people"] = [
    # 1: spent answer links (a link works once)
    """
    CREATE TABLE answer_links_spent (
        nonce TEXT PRIMARY KEY,
        candidate_id INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        role TEXT NOT NULL,
        choice TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX answer_links_spent_candidate ON answer_links_spent (candidate_id);
    """,
]

# Issue 13: a stored plan's items one row each, written and read a batch at a time, so neither
# saving nor reviewing a plan of 100,000 seats builds one JSON document of all of them.
MIGRATIONS["plans"] = [
    # 1: plan items (``part`` "items" or "held", in plan order)
    """
    CREATE TABLE reclaim_plan_items (
        plan_id TEXT NOT NULL,
        part TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (plan_id, part, seq)
    );
    """,
    # 2: items stored by reference (issue 13: ~190 us and ~2 KB an item as JSON copies of the
    # candidate and its seat): the candidate and seat ids, what apply does, the price, and the
    # basis of the decision (the candidate's state, the seat's holder and activity at plan
    # time, in integer milliseconds) that apply compares the seat with; a held item keeps its
    # candidate id and why. ``data`` is '' for such a row; older rows keep their JSON and read
    # as before.
    """
    ALTER TABLE reclaim_plan_items ADD COLUMN candidate_id INTEGER;
    ALTER TABLE reclaim_plan_items ADD COLUMN seat_id INTEGER;
    ALTER TABLE reclaim_plan_items ADD COLUMN kind INTEGER;
    ALTER TABLE reclaim_plan_items ADD COLUMN state TEXT;
    ALTER TABLE reclaim_plan_items ADD COLUMN user_id TEXT;
    ALTER TABLE reclaim_plan_items ADD COLUMN identifier TEXT;
    ALTER TABLE reclaim_plan_items ADD COLUMN last_activity INTEGER;
    ALTER TABLE reclaim_plan_items ADD COLUMN checked_at INTEGER;
    ALTER TABLE reclaim_plan_items ADD COLUMN savings TEXT;
    ALTER TABLE reclaim_plan_items ADD COLUMN currency TEXT;
    ALTER TABLE reclaim_plan_items ADD COLUMN reason TEXT;
    """,
]

# Issue 16: the user directory, a snapshot replaced whole by each load. People keep their
# record as JSON; every address they are known by (e-mail and aliases, normalised) points at
# them, so a seat resolves by one indexed look-up.
MIGRATIONS["directory"] = [
    # 1: people and their addresses
    """
    CREATE TABLE directory_people (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE directory_addresses (
        address TEXT PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES directory_people(id) ON DELETE CASCADE
    );
    CREATE INDEX directory_addresses_person ON directory_addresses (person_id);
    """,
]


def _candidate_columns(db: sqlite3.Connection) -> None:
    """Move every candidate from its JSON into the compact columns (issue 13, lossless: each
    one is read as a :class:`RemovalCandidate` and written back by the store's own encoder)."""
    import json

    from .._candidates.records import RemovalCandidate
    from .._convert import converter
    from ._sqlite.candidates import candidate_params

    rows = db.execute("SELECT id, data FROM candidates ORDER BY id").fetchall()
    for start in range(0, len(rows), 2000):
        part = [
            converter.structure(json.loads(data) | {"id": cid}, RemovalCandidate)
            for cid, data in rows[start : start + 2000]
        ]
        db.executemany(_CANDIDATE_COLUMNS, candidate_params(db, part))


_CANDIDATE_COLUMNS = (
    "UPDATE candidates SET opened = :opened, "
    "user_id = CASE WHEN :uid = (SELECT external_user_id FROM subscriptions WHERE id = :sid) "
    "THEN NULL ELSE :uid END, "
    "identifier = CASE WHEN :ident = (SELECT identifier FROM subscriptions WHERE id = :sid) "
    "THEN NULL ELSE :ident END, "
    "upn = :upn, model = :model, inactive_days = :days, last_activity = :last, rule_id = :rule, "
    "message = :message, approver = :approver, approver_source = :source, savings = :savings, "
    "currency = :currency, more = :more WHERE id = :id"
)


def _candidate_table_rebuilt(db: sqlite3.Connection) -> None:
    """The candidates table without its JSON and text opening time (rebuilt, not ``DROP
    COLUMN``, so SQLite before 3.35 migrates too); its indexes, any area's, are made again."""
    indexes = [
        str(r[0])
        for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'candidates' "
            "AND sql IS NOT NULL ORDER BY name"
        )
    ]
    for statement in (
        """CREATE TABLE candidates_compact (
            id INTEGER PRIMARY KEY,
            subscription_id INTEGER NOT NULL,
            profile TEXT NOT NULL,
            state TEXT NOT NULL,
            opened_at INTEGER NOT NULL,
            closed_at TEXT,
            keep_until TEXT,
            user_id TEXT,
            identifier TEXT,
            upn TEXT NOT NULL,
            model INTEGER,
            inactive_days INTEGER NOT NULL,
            last_activity INTEGER,
            rule_id INTEGER,
            message TEXT,
            approver INTEGER,
            approver_source INTEGER,
            savings TEXT,
            currency INTEGER,
            more TEXT
        )""",
        "INSERT INTO candidates_compact SELECT id, subscription_id, profile, state, opened, "
        "closed_at, keep_until, user_id, identifier, upn, model, inactive_days, last_activity, "
        "rule_id, message, approver, approver_source, savings, currency, more "
        "FROM candidates ORDER BY id",
        "DROP TABLE candidates",
        "ALTER TABLE candidates_compact RENAME TO candidates",
        *indexes,
    ):
        db.execute(statement)


def _audit_hashes_as_bytes(db: sqlite3.Connection) -> None:
    """Store the audit chain's hashes as 32-byte blobs instead of 64 hex characters (issue 13).

    The hashes themselves do not change (each is still SHA-256 over the entry with the
    previous hash in hex), so every chain verifies as before; the update guard is lifted for
    this transaction only.
    """
    from ._integrity import _NO_UPDATE

    rows = db.execute(
        "SELECT id, prev_hash, hash FROM audit_log WHERE typeof(hash) = 'text' "
        "OR typeof(prev_hash) = 'text'"
    ).fetchall()
    heads = db.execute(
        "SELECT chain, hash FROM audit_chains WHERE typeof(hash) = 'text'"
    ).fetchall()
    if not rows and not heads:
        return
    db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    db.executemany(
        "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?",
        [
            (
                bytes.fromhex(p) if isinstance(p, str) else p,
                bytes.fromhex(h) if isinstance(h, str) else h,
                i,
            )
            for i, p, h in rows
        ],
    )
    db.executemany(
        "UPDATE audit_chains SET hash = ? WHERE chain = ?",
        [(bytes.fromhex(h), c) for c, h in heads],
    )
    db.execute(_NO_UPDATE)


# Issue 13: compact candidates and audit entries (the "records" area).
MIGRATIONS["compact"] = [
    # 1: candidates in columns, with only what cannot be derived: the seat's key from the seat,
    # instants as integer milliseconds, repeated texts shared, the rest as compact JSON
    """
    CREATE TABLE candidate_texts (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
    ALTER TABLE candidates ADD COLUMN opened INTEGER;
    ALTER TABLE candidates ADD COLUMN user_id TEXT;
    ALTER TABLE candidates ADD COLUMN identifier TEXT;
    ALTER TABLE candidates ADD COLUMN upn TEXT;
    ALTER TABLE candidates ADD COLUMN model INTEGER;
    ALTER TABLE candidates ADD COLUMN inactive_days INTEGER;
    ALTER TABLE candidates ADD COLUMN last_activity INTEGER;
    ALTER TABLE candidates ADD COLUMN rule_id INTEGER;
    ALTER TABLE candidates ADD COLUMN message TEXT;
    ALTER TABLE candidates ADD COLUMN approver INTEGER;
    ALTER TABLE candidates ADD COLUMN approver_source INTEGER;
    ALTER TABLE candidates ADD COLUMN savings TEXT;
    ALTER TABLE candidates ADD COLUMN currency INTEGER;
    ALTER TABLE candidates ADD COLUMN more TEXT;
    """,
    _candidate_columns,
    _candidate_table_rebuilt,
    # 2: the audit chain's hashes as 32-byte blobs (the same hashes)
    _audit_hashes_as_bytes,
    # 3 (issue 13, ingest): new audit entries keep their instant as integer milliseconds and
    # their (actor, action, entity) as one shared row; their text columns are left empty, and
    # the hash is still taken over the text (so entries of either form verify alike). Entries
    # already written keep their form; each form is found by its own index.
    """
    CREATE TABLE audit_kinds (
        id INTEGER PRIMARY KEY,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        entity TEXT NOT NULL,
        UNIQUE (actor, action, entity)
    );
    ALTER TABLE audit_log ADD COLUMN at_ms INTEGER;
    ALTER TABLE audit_log ADD COLUMN kind INTEGER;
    DROP INDEX audit_log_entity;
    CREATE INDEX audit_log_entity ON audit_log (entity, entity_id) WHERE kind IS NULL;
    CREATE INDEX audit_log_kind ON audit_log (kind, entity_id) WHERE kind IS NOT NULL;
    """,
]
