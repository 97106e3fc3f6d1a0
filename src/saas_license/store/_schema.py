"""Versioned schema migrations, grouped by namespace so each area of the core owns its tables.

A namespace's list only ever grows: never edit a migration that has shipped, append a new one.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: dict[str, list[str]] = {
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
    ],
}
