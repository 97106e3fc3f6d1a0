"""The embedded store: one SQLite file per workspace, WAL, migrations, batched transactional writes."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import pickle
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

from .._convert import converter
from .._faultpoints import kill_point
from .._files import create_private_file
from .._time import format_instant, parse_instant
from ..audit import AuditEntry, AuditVerification
from ..boundary import QuarantinedRecord
from ..candidates import CandidateState, RemovalCandidate
from ..errors import ConfigError, RunInProgressError, StoreError, WorkspaceBusyError
from ..jobs import JobResult, JobStatus, RunLock, ScheduledJob
from ..notify import DeliveryStatus, Notification
from ..profiles import ConnectionAlias, IntegrationProfile
from ..reclaim import ReclaimAction, ReclaimPlan
from ..rules import ExclusionRule, ReclamationRule
from ..subscriptions import ActivityRecord, SoftwareModel, Subscription, SubscriptionRecord
from ._finance import FinanceStoreMixin
from ._integrity import append_chained, verify_chain
from ._schema import MIGRATIONS

__all__ = ["BATCH_SIZE", "STAGE_BATCH", "DownloadStage", "SqliteStore", "WriteStats"]

log = logging.getLogger("saas_license.store")

BATCH_SIZE = 500
#: Seats merged (or closed) per write transaction when a staged download is swapped in: small
#: enough that no transaction holds the database's write lock for long, even at 1M seats.
STAGE_BATCH = 2000
#: How long a connection waits for another process's write transaction (milliseconds).
BUSY_TIMEOUT_MS = 10_000

_SUB_COLUMNS = (
    "id, profile, external_user_id, identifier, user_principal_name, display_name, software_model, "
    "last_activity, activity_checked_at, external_created, assigned_at, first_seen_at, "
    "last_seen_at, active, attributes, unknown"
)


def _ts(value: dt.datetime | None) -> str | None:
    return None if value is None else format_instant(value)


def _dt(value: str | None) -> dt.datetime | None:
    return None if value is None else parse_instant(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


class SqliteStore(FinanceStoreMixin):
    """A :class:`~saas_license.store.Store` on one SQLite database file (``":memory:"`` for tests).

    Writes run in transactions; nesting :meth:`transaction` joins the outer one, so a whole
    download either lands or leaves the store as it was.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                # owner-only from the first byte: the file holds emails and the audit log; SQLite
                # gives the -wal and -shm files the database file's mode
                create_private_file(self.path)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.DatabaseError, OSError) as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise self._busy() from None
            raise StoreError(
                f"cannot open the workspace database {self.path}: {exc}",
                hint="check the path and permissions, or point --workspace at another file",
            ) from None
        self._lock = threading.RLock()
        self._depth = 0
        self._side_db: sqlite3.Connection | None = None
        self._side_lock = threading.Lock()
        self.write_stats = WriteStats()
        self._migrate()

    def __repr__(self) -> str:
        return f"SqliteStore(path={self.path!r})"

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection (its write-lock figures go to the debug log)."""
        stats = self.write_stats
        log.debug(
            "write transactions: %d, longest %.1f ms, total %.2f s",
            stats.transactions,
            stats.longest_seconds * 1000,
            stats.total_seconds,
        )
        with self._side_lock:
            if self._side_db is not None:
                self._side_db.close()
                self._side_db = None
        self._db.close()

    def _busy(self) -> WorkspaceBusyError:
        return WorkspaceBusyError(
            f"the workspace {self.path} is busy: another saas-license process kept it locked "
            f"for more than {BUSY_TIMEOUT_MS // 1000} s",
            hint="try again in a moment",
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nested calls join the outer one.

        A database kept locked by another process past the busy timeout raises
        :class:`WorkspaceBusyError`, never a raw ``database is locked``.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise self._busy() from None
                raise StoreError(f"workspace database error: {exc}") from exc
            began = time.perf_counter()
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    self._db.execute("ROLLBACK")
                    if _is_busy(exc):
                        raise self._busy() from None
                    raise StoreError(f"workspace database error: {exc}") from exc
            finally:
                self._depth = 0
                self.write_stats.record(time.perf_counter() - began)

    def _q(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, tuple(params))
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise self._busy() from None
            raise StoreError(f"workspace database error: {exc}") from exc

    def _migrate(self) -> None:
        try:
            tables = {
                r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise self._busy() from None
            raise StoreError(
                f"{self.path} is not a saas-license workspace database ({exc})",
                hint="point --workspace at a new file or at an existing workspace",
            ) from None
        with self.transaction():
            if "schema_versions" not in tables:
                self._db.execute(
                    "CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
                )
            versions = {
                r["namespace"]: r["version"]
                for r in self._db.execute("SELECT * FROM schema_versions")
            }
            for namespace, steps in MIGRATIONS.items():
                have = versions.get(namespace, 0)
                if have > len(steps):
                    raise StoreError(
                        f"workspace schema {namespace!r} is version {have}, newer than this "
                        f"saas-license knows ({len(steps)})",
                        hint="upgrade saas-license to open this workspace",
                    )
                for step in steps[have:]:
                    if callable(step):
                        step(self._db)
                        continue
                    for statement in _split_sql(step):
                        self._db.execute(statement)
                if len(steps) != have:
                    self._db.execute(
                        "INSERT INTO schema_versions (namespace, version) VALUES (?, ?) "
                        "ON CONFLICT(namespace) DO UPDATE SET version = excluded.version",
                        (namespace, len(steps)),
                    )

    def schema_versions(self) -> dict[str, int]:
        """Applied migration count per namespace."""
        return {r[0]: r[1] for r in self._q("SELECT namespace, version FROM schema_versions")}

    # -- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A workspace-level setting."""
        row = self._q("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a workspace-level setting."""
        with self.transaction():
            self._q(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- aliases and profiles ---------------------------------------------------------------

    def save_alias(self, alias: ConnectionAlias) -> None:
        """Create or replace a connection alias."""
        with self.transaction():
            self._q(
                "INSERT INTO aliases (name, data) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET data = excluded.data",
                (alias.name, _dumps(converter.unstructure(alias))),
            )

    def get_alias(self, name: str) -> ConnectionAlias | None:
        """The alias called ``name``."""
        row = self._q("SELECT data FROM aliases WHERE name = ?", (name,)).fetchone()
        return None if row is None else converter.structure(json.loads(row[0]), ConnectionAlias)

    def list_aliases(self) -> list[ConnectionAlias]:
        """All aliases, by name."""
        rows = self._q("SELECT data FROM aliases ORDER BY name")
        return [converter.structure(json.loads(r[0]), ConnectionAlias) for r in rows]

    def save_profile(self, profile: IntegrationProfile) -> None:
        """Create or replace a profile."""
        with self.transaction():
            self._q(
                "INSERT INTO profiles (name, data) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET data = excluded.data",
                (profile.name, _dumps(converter.unstructure(profile))),
            )

    def get_profile(self, name: str) -> IntegrationProfile | None:
        """The profile called ``name``."""
        row = self._q("SELECT data FROM profiles WHERE name = ?", (name,)).fetchone()
        return None if row is None else converter.structure(json.loads(row[0]), IntegrationProfile)

    def list_profiles(self) -> list[IntegrationProfile]:
        """All profiles, by name."""
        rows = self._q("SELECT data FROM profiles ORDER BY name")
        return [converter.structure(json.loads(r[0]), IntegrationProfile) for r in rows]

    def delete_profile(self, name: str) -> None:
        """Delete a profile with its subscriptions, job results, schedule, lock and unapplied plans.

        Candidates (closed by the caller), reclaim actions, the outbox, the audit log and
        reclamation rules are kept.
        """
        with self.transaction():
            self._q("DELETE FROM subscriptions WHERE profile = ?", (name,))
            self._q("DELETE FROM jobs WHERE profile = ?", (name,))
            self._q("DELETE FROM scheduled_jobs WHERE profile = ?", (name,))
            self._q("DELETE FROM run_locks WHERE profile = ?", (name,))
            self._q("DELETE FROM reclaim_plans WHERE profile = ? AND applied_at IS NULL", (name,))
            self._q("DELETE FROM profiles WHERE name = ?", (name,))

    # -- software models --------------------------------------------------------------------

    def ensure_software_model(self, model: SoftwareModel) -> bool:
        """Create ``model`` unless one with its name exists; True if it was created."""
        with self.transaction():
            cur = self._q(
                "INSERT INTO software_models (name, publisher, paid, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO NOTHING",
                (model.name, model.publisher, int(model.paid), _ts(model.created_at)),
            )
            return cur.rowcount == 1

    def list_software_models(self) -> list[SoftwareModel]:
        """All software models, by name."""
        rows = self._q("SELECT * FROM software_models ORDER BY name")
        return [
            SoftwareModel(
                name=r["name"],
                publisher=r["publisher"],
                paid=bool(r["paid"]),
                created_at=_dt(r["created_at"]),
            )
            for r in rows
        ]

    def map_identifier(self, identifier: str, software_model: str) -> int:
        """Map ``identifier`` to a model and re-point every subscription carrying it; returns that count."""
        with self.transaction():
            if not self._q(
                "SELECT 1 FROM software_models WHERE name = ?", (software_model,)
            ).fetchone():
                raise ConfigError(
                    f"no software model named {software_model!r}",
                    field="software_model",
                    hint="create the model first or pick one from `saas-license models`",
                )
            self._q(
                "INSERT INTO identifier_map (identifier, software_model) VALUES (?, ?) "
                "ON CONFLICT(identifier) DO UPDATE SET software_model = excluded.software_model",
                (identifier, software_model),
            )
            cur = self._q(
                "UPDATE subscriptions SET software_model = ? WHERE identifier = ?",
                (software_model, identifier),
            )
            return cur.rowcount

    def unrecognized_identifiers(self) -> dict[str, dict[str, int]]:
        """identifier → {profile: active subscriptions} for identifiers mapped to no model."""
        out: dict[str, dict[str, int]] = {}
        for r in self._q(
            "SELECT identifier, profile, COUNT(*) FROM subscriptions "
            "WHERE active = 1 AND software_model IS NULL "
            "GROUP BY identifier, profile ORDER BY identifier, profile"
        ):
            out.setdefault(r[0], {})[r[1]] = r[2]
        return out

    def identifier_map(self) -> dict[str, str]:
        """identifier → software model name."""
        return {
            r[0]: r[1] for r in self._q("SELECT identifier, software_model FROM identifier_map")
        }

    def unmapped_identifiers(self, profile: str | None = None) -> dict[str, int]:
        """Identifiers on active subscriptions that map to no model, with their subscription counts."""
        sql = "SELECT identifier, COUNT(*) FROM subscriptions WHERE active = 1 AND software_model IS NULL"
        params: tuple[Any, ...] = ()
        if profile is not None:
            sql += " AND profile = ?"
            params = (profile,)
        return {
            r[0]: r[1] for r in self._q(sql + " GROUP BY identifier ORDER BY identifier", params)
        }

    # -- subscriptions ----------------------------------------------------------------------

    def upsert_subscriptions(
        self, profile: str, records: Iterable[SubscriptionRecord], *, run_id: str, now: dt.datetime
    ) -> int:
        """Insert or update seats in batches; a seat is (profile, user, identifier). Returns rows seen.

        Last activity only moves forward; a seat that had vanished and is back is active again.
        """
        now_s = format_instant(now)
        sql = (
            "INSERT INTO subscriptions (profile, external_user_id, identifier, user_principal_name, "
            "display_name, software_model, last_activity, external_created, assigned_at, "
            "first_seen_at, last_seen_at, created_run, seen_run, active, attributes, unknown) "
            "VALUES (?, ?, ?, ?, ?, (SELECT software_model FROM identifier_map WHERE identifier = ?), "
            "?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
            "ON CONFLICT(profile, external_user_id, identifier) DO UPDATE SET "
            "user_principal_name = excluded.user_principal_name, "
            "display_name = excluded.display_name, "
            "software_model = COALESCE(excluded.software_model, subscriptions.software_model), "
            "last_activity = CASE WHEN excluded.last_activity IS NOT NULL AND "
            "(subscriptions.last_activity IS NULL OR excluded.last_activity > subscriptions.last_activity) "
            "THEN excluded.last_activity ELSE subscriptions.last_activity END, "
            "external_created = COALESCE(excluded.external_created, subscriptions.external_created), "
            "assigned_at = COALESCE(excluded.assigned_at, subscriptions.assigned_at), "
            "last_seen_at = excluded.last_seen_at, seen_run = excluded.seen_run, active = 1, "
            "attributes = excluded.attributes, unknown = excluded.unknown"
        )
        seen = 0
        with self.transaction():
            for batch in _batched(records, BATCH_SIZE):
                rows = [
                    (
                        profile,
                        r.external_user_id,
                        r.identifier,
                        r.user_principal_name,
                        r.display_name,
                        r.identifier,
                        _ts(r.last_activity),
                        _ts(r.external_created),
                        _ts(r.assigned_at),
                        now_s,
                        now_s,
                        run_id,
                        run_id,
                        _dumps(r.attributes),
                        _dumps(sorted(r.unknown)),
                    )
                    for r in batch
                ]
                try:
                    self._db.executemany(sql, rows)
                except sqlite3.DatabaseError as exc:
                    if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                        raise self._busy() from None
                    raise StoreError(f"could not store subscriptions: {exc}") from exc
                seen += len(rows)
        return seen

    def count_created(self, profile: str, run_id: str) -> int:
        """Subscriptions first created by ``run_id``."""
        row = self._q(
            "SELECT COUNT(*) FROM subscriptions WHERE profile = ? AND created_run = ?",
            (profile, run_id),
        ).fetchone()
        return int(row[0])

    def close_unseen(self, profile: str, *, run_id: str, fence: str | None = None) -> list[int]:
        """Mark active seats not seen by the *completed* download ``run_id`` inactive; their ids.

        Closes in batches of :data:`STAGE_BATCH`, each its own short transaction (unless called
        inside an outer one); with ``fence`` (a run lock owner) each batch first checks that
        the run still holds the profile's lock.
        """
        unseen = "profile = ? AND active = 1 AND (seen_run IS NULL OR seen_run != ?)"
        ids = [
            r[0] for r in self._q(f"SELECT id FROM subscriptions WHERE {unseen}", (profile, run_id))
        ]
        closed: list[int] = []
        for batch in _batched(ids, STAGE_BATCH):
            with self.transaction():
                self._check_fence(profile, fence)
                marks = ", ".join("?" * len(batch))
                still = [
                    r[0]
                    for r in self._q(
                        f"SELECT id FROM subscriptions WHERE id IN ({marks}) AND {unseen}",
                        (*batch, profile, run_id),
                    )
                ]
                if still:
                    self._q(
                        f"UPDATE subscriptions SET active = 0 WHERE id IN ({', '.join('?' * len(still))})",
                        still,
                    )
                closed.extend(still)
            kill_point("download.closed")
        return closed

    def deactivate_subscription(self, subscription_id: int) -> None:
        """Mark one seat inactive (after a successful reclaim)."""
        with self.transaction():
            self._q("UPDATE subscriptions SET active = 0 WHERE id = ?", (subscription_id,))

    def reactivate_subscription(self, subscription_id: int) -> None:
        """Mark one seat active again (after an undo)."""
        with self.transaction():
            self._q("UPDATE subscriptions SET active = 1 WHERE id = ?", (subscription_id,))

    def stamp_activity_checked(self, profile: str, *, run_id: str, now: dt.datetime) -> int:
        """Count the activity the download ``run_id`` carried as checked at ``now``; rows stamped.

        Stamps by windows of :data:`STAGE_BATCH` ids, one short transaction each (issue 8). A
        seat whose last activity the vendor did not report, or whose record was quarantined this
        run, is not checked (issue 8, item 2).
        """
        # NOT INDEXED: walk the id window (a rowid range), never a whole profile's index entries
        sql = (
            "UPDATE subscriptions NOT INDEXED SET activity_checked_at = ? "
            "WHERE profile = ? AND seen_run = ? "
            "AND unknown NOT LIKE '%\"last_activity\"%' "
            "AND (quarantined_run IS NULL OR quarantined_run != seen_run)"
        )
        lo, hi = self._q(
            "SELECT MIN(id), MAX(id) FROM subscriptions WHERE profile = ?", (profile,)
        ).fetchone()
        stamped = 0
        for start in range(0 if lo is None else lo - 1, 0 if hi is None else hi, STAGE_BATCH):
            with self.transaction():
                cur = self._q(
                    sql + " AND id > ? AND id <= ?",
                    (format_instant(now), profile, run_id, start, start + STAGE_BATCH),
                )
            stamped += max(cur.rowcount, 0)
        return stamped

    def apply_activity(
        self, profile: str, records: Iterable[ActivityRecord], *, now: dt.datetime
    ) -> tuple[int, int]:
        """Move each user's last activity forward and stamp when it was checked.

        Returns (records read, subscription rows touched).
        """
        now_s = format_instant(now)
        sql = (
            "UPDATE subscriptions SET activity_checked_at = ?, last_activity = CASE "
            "WHEN ? IS NOT NULL AND (last_activity IS NULL OR ? > last_activity) THEN ? "
            "ELSE last_activity END WHERE profile = ? AND external_user_id = ?"
        )
        read = touched = 0
        # one short transaction per batch (joined into the caller's, if any): the vendor's
        # activity stream is never read while holding the database's write lock
        for batch in _batched(records, BATCH_SIZE):
            rows = []
            for r in batch:
                ts = _ts(r.last_activity)
                rows.append((now_s, ts, ts, ts, profile, r.external_user_id))
            with self.transaction():
                cur = self._db.executemany(sql, rows)
            read += len(rows)
            touched += max(cur.rowcount, 0)
        return read, touched

    def _row_to_subscription(self, r: sqlite3.Row) -> Subscription:
        return Subscription(
            id=r["id"],
            profile=r["profile"],
            external_user_id=r["external_user_id"],
            user_principal_name=r["user_principal_name"],
            identifier=r["identifier"],
            software_model=r["software_model"],
            display_name=r["display_name"],
            last_activity=_dt(r["last_activity"]),
            activity_checked_at=_dt(r["activity_checked_at"]),
            external_created=_dt(r["external_created"]),
            assigned_at=_dt(r["assigned_at"]),
            first_seen_at=_dt(r["first_seen_at"]),
            last_seen_at=_dt(r["last_seen_at"]),
            active=bool(r["active"]),
            attributes=json.loads(r["attributes"]),
            unknown=frozenset(json.loads(r["unknown"])),
        )

    def iter_subscriptions(
        self, profile: str | None = None, *, active_only: bool = True
    ) -> Iterator[Subscription]:
        """Stream subscriptions (ordered by id) without loading them all at once."""
        where, params = [], []
        if profile is not None:
            where.append("profile = ?")
            params.append(profile)
        if active_only:
            where.append("active = 1")
        sql = f"SELECT {_SUB_COLUMNS} FROM subscriptions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        last_id = 0
        while True:
            clause = (" AND " if where else " WHERE ") + "id > ?"
            rows = self._q(
                sql + clause + " ORDER BY id LIMIT ?", (*params, last_id, BATCH_SIZE)
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield self._row_to_subscription(r)
            last_id = rows[-1]["id"]

    def user_subscriptions(self, profile: str, external_user_id: str) -> list[Subscription]:
        """The active seats one user holds in one profile (what a per-user reclaim frees)."""
        rows = self._q(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions "
            "WHERE profile = ? AND external_user_id = ? AND active = 1 ORDER BY id",
            (profile, external_user_id),
        )
        return [self._row_to_subscription(r) for r in rows]

    def get_subscription(self, subscription_id: int) -> Subscription | None:
        """One subscription by id, active or not."""
        row = self._q(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE id = ?", (subscription_id,)
        ).fetchone()
        return None if row is None else self._row_to_subscription(row)

    def count_subscriptions(
        self, profile: str | None = None, *, by: str | None = None
    ) -> dict[str, int]:
        """Active subscription counts, in total (``{"total": n}``) or grouped by a column."""
        allowed = {None, "software_model", "identifier", "profile"}
        if by not in allowed:
            raise ConfigError(
                f"cannot group by {by!r}",
                field="by",
                hint=f"use one of {sorted(filter(None, allowed))}",
            )
        params: tuple[Any, ...] = (profile,) if profile else ()
        where = "WHERE active = 1" + (" AND profile = ?" if profile else "")
        if by is None:
            return {
                "total": int(
                    self._q(f"SELECT COUNT(*) FROM subscriptions {where}", params).fetchone()[0]
                )
            }
        rows = self._q(
            f"SELECT COALESCE({by}, '(unrecognized)'), COUNT(*) FROM subscriptions {where} "
            f"GROUP BY 1 ORDER BY 1",
            params,
        )
        return {r[0]: r[1] for r in rows}

    # -- rules ------------------------------------------------------------------------------

    def add_exclusion_rule(self, rule: ExclusionRule) -> ExclusionRule:
        """Store a new exclusion rule; returns it with its id."""
        with self.transaction():
            data = converter.unstructure(rule)
            data.pop("id", None)
            cur = self._q("INSERT INTO exclusion_rules (data) VALUES (?)", (_dumps(data),))
            return converter.structure({**data, "id": cur.lastrowid}, ExclusionRule)

    def list_exclusion_rules(self) -> list[ExclusionRule]:
        """All exclusion rules, oldest first."""
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ExclusionRule)
            for r in self._q("SELECT id, data FROM exclusion_rules ORDER BY id")
        ]

    def delete_exclusion_rule(self, rule_id: int) -> bool:
        """Remove an exclusion rule; True if it existed."""
        with self.transaction():
            return self._q("DELETE FROM exclusion_rules WHERE id = ?", (rule_id,)).rowcount == 1

    def save_reclamation_rule(self, rule: ReclamationRule) -> ReclamationRule:
        """Insert (no id) or replace (with id) a reclamation rule; returns it with its id."""
        data = converter.unstructure(rule)
        data.pop("id", None)
        with self.transaction():
            if rule.id is None:
                cur = self._q(
                    "INSERT INTO reclamation_rules (software_model, data) VALUES (?, ?)",
                    (rule.software_model, _dumps(data)),
                )
                rule_id = cur.lastrowid
            else:
                cur = self._q(
                    "UPDATE reclamation_rules SET software_model = ?, data = ? WHERE id = ?",
                    (rule.software_model, _dumps(data), rule.id),
                )
                if cur.rowcount != 1:
                    raise ConfigError(
                        f"no reclamation rule with id {rule.id}", field="reclamation_rule.id"
                    )
                rule_id = rule.id
        return converter.structure({**data, "id": rule_id}, ReclamationRule)

    def get_exclusion_rule(self, rule_id: int) -> ExclusionRule | None:
        """One exclusion rule by id."""
        row = self._q("SELECT id, data FROM exclusion_rules WHERE id = ?", (rule_id,)).fetchone()
        if row is None:
            return None
        return converter.structure({**json.loads(row["data"]), "id": row["id"]}, ExclusionRule)

    def update_exclusion_rule(self, rule: ExclusionRule) -> ExclusionRule:
        """Replace a stored exclusion rule (found by its id)."""
        data = converter.unstructure(rule)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "UPDATE exclusion_rules SET data = ? WHERE id = ?", (_dumps(data), rule.id)
            )
            if cur.rowcount != 1:
                raise ConfigError(f"no exclusion rule with id {rule.id}", field="exclusion_rule.id")
        return rule

    def get_reclamation_rule(self, software_model: str) -> ReclamationRule | None:
        """The (first) reclamation rule of ``software_model``."""
        row = self._q(
            "SELECT id, data FROM reclamation_rules WHERE software_model = ? ORDER BY id LIMIT 1",
            (software_model,),
        ).fetchone()
        if row is None:
            return None
        return converter.structure({**json.loads(row["data"]), "id": row["id"]}, ReclamationRule)

    def list_reclamation_rules(self) -> list[ReclamationRule]:
        """All reclamation rules, oldest first."""
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclamationRule)
            for r in self._q("SELECT id, data FROM reclamation_rules ORDER BY id")
        ]

    # -- candidates -------------------------------------------------------------------------

    def add_candidate(self, candidate: RemovalCandidate) -> RemovalCandidate:
        """Store a new candidate (its ``id`` is assigned here); one open candidate per seat."""
        data = converter.unstructure(candidate)
        with self.transaction():
            try:
                cur = self._db.execute(
                    "INSERT INTO candidates (subscription_id, profile, state, opened_at, closed_at, "
                    "keep_until, data) VALUES (?, ?, ?, ?, ?, ?, '{}')",
                    (
                        candidate.subscription_id,
                        candidate.profile,
                        candidate.state.value,
                        _ts(candidate.opened_at),
                        _ts(candidate.closed_at),
                        _ts(candidate.keep_until),
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreError(
                    f"subscription {candidate.subscription_id} already has an open removal candidate"
                ) from None
            data["id"] = cur.lastrowid
            self._q("UPDATE candidates SET data = ? WHERE id = ?", (_dumps(data), cur.lastrowid))
        return converter.structure(data, RemovalCandidate)

    def update_candidate(self, candidate: RemovalCandidate) -> None:
        """Replace a stored candidate with a new version of itself."""
        with self.transaction():
            cur = self._q(
                "UPDATE candidates SET state = ?, closed_at = ?, keep_until = ?, data = ? "
                "WHERE id = ?",
                (
                    candidate.state.value,
                    _ts(candidate.closed_at),
                    _ts(candidate.keep_until),
                    _dumps(converter.unstructure(candidate)),
                    candidate.id,
                ),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no removal candidate with id {candidate.id}")

    def get_candidate(self, candidate_id: int) -> RemovalCandidate | None:
        """One candidate by id."""
        row = self._q("SELECT data FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
        return None if row is None else converter.structure(json.loads(row[0]), RemovalCandidate)

    def list_candidates(
        self,
        profile: str | None = None,
        *,
        states: Iterable[CandidateState] | None = None,
        ids: Iterable[int] | None = None,
        subscription_ids: Iterable[int] | None = None,
    ) -> list[RemovalCandidate]:
        """Candidates, oldest first, optionally for one profile, some states, ids or seats."""
        sql = "SELECT data FROM candidates"
        where: list[str] = []
        params_: list[Any] = []
        if profile is not None:
            where.append("profile = ?")
            params_.append(profile)
        values: list[Any] | None
        for column, values in (
            ("state", None if states is None else [s.value for s in states]),
            ("id", None if ids is None else [int(i) for i in ids]),
            ("subscription_id", None if subscription_ids is None else list(subscription_ids)),
        ):
            if values is not None:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params_.extend(values)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._q(sql + " ORDER BY id", params_)
        return [converter.structure(json.loads(r[0]), RemovalCandidate) for r in rows]

    # -- jobs -------------------------------------------------------------------------------

    def save_job(self, job: JobResult) -> JobResult:
        """Insert a job result (no id) or update it (with id); returns it with its id."""
        data = converter.unstructure(job)
        data.pop("id", None)
        with self.transaction():
            if job.id is None:
                cur = self._q(
                    "INSERT INTO jobs (profile, process, status, started_at, data) VALUES (?, ?, ?, ?, ?)",
                    (job.profile, job.process, job.status.value, _ts(job.started_at), _dumps(data)),
                )
                job_id = cur.lastrowid
            else:
                self._q(
                    "UPDATE jobs SET status = ?, data = ? WHERE id = ?",
                    (job.status.value, _dumps(data), job.id),
                )
                job_id = job.id
        return converter.structure({**data, "id": job_id}, JobResult)

    def list_jobs(self, profile: str | None = None, *, limit: int = 100) -> list[JobResult]:
        """Most recent job results first."""
        sql, params = "SELECT id, data FROM jobs", []
        if profile is not None:
            sql += " WHERE profile = ?"
            params.append(profile)
        rows = self._q(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, JobResult) for r in rows
        ]

    # -- audit ------------------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Append one entry at the head of its hash chain (the log cannot be updated or deleted)."""
        values = {
            "at": _ts(entry.at),
            "actor": entry.actor,
            "action": entry.action,
            "entity": entry.entity,
            "entity_id": entry.entity_id,
            "profile": entry.profile,
            "before": None if entry.before is None else _dumps(entry.before),
            "after": None if entry.after is None else _dumps(entry.after),
            "detail": entry.detail,
        }
        with self.transaction():
            try:
                row = append_chained(self._db, values)
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise self._busy() from None
                raise StoreError(f"could not append to the audit log: {exc}") from exc
        return attrs.evolve(
            entry,
            id=row["id"],
            chain=row["chain"],
            seq=row["seq"],
            prev_hash=row["prev_hash"],
            hash=row["hash"],
        )

    def verify_audit(self) -> AuditVerification:
        """Check every audit chain entry by entry, the chain heads and the log's guards."""
        try:
            return verify_chain(self._db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"could not read the audit log: {exc}") from exc

    def list_audit(
        self,
        *,
        profile: str | None = None,
        entity: str | None = None,
        limit: int = 1000,
        entity_id: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        last: bool = False,
    ) -> list[AuditEntry]:
        """Audit entries, oldest first; ``action`` matches a prefix (``candidate.``), ``last``
        keeps the newest ``limit`` entries instead of the oldest."""
        sql, where = "SELECT * FROM audit_log", []
        params: list[Any] = []
        if profile is not None:
            where.append("profile = ?")
            params.append(profile)
        if entity is not None:
            where.append("entity = ?")
            params.append(entity)
        if entity_id is not None:
            where.append("entity_id = ?")
            params.append(entity_id)
        if action is not None:
            where.append("substr(action, 1, ?) = ?")
            params.extend([len(action), action])
        if since is not None:
            where.append("at >= ?")
            params.append(format_instant(since))
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = "DESC" if last else "ASC"
        rows = list(self._q(sql + f" ORDER BY id {order} LIMIT ?", (*params, limit)))
        if last:
            rows.reverse()
        return [
            AuditEntry(
                id=r["id"],
                at=parse_instant(r["at"]),
                actor=r["actor"],
                action=r["action"],
                entity=r["entity"],
                entity_id=r["entity_id"],
                profile=r["profile"],
                before=None if r["before"] is None else json.loads(r["before"]),
                after=None if r["after"] is None else json.loads(r["after"]),
                detail=r["detail"],
                chain=r["chain"],
                seq=r["seq"],
                prev_hash=r["prev_hash"],
                hash=r["hash"],
            )
            for r in rows
        ]

    # -- lifecycle: cooldowns, schedules, run locks, plans, reclaim actions, outbox -----------

    def cooldowns(self, profile: str, *, now: dt.datetime) -> dict[int, dt.datetime]:
        """subscription id → end of its cooldown, for seats that must not be proposed yet."""
        rows = self._q(
            "SELECT subscription_id, MAX(keep_until) FROM candidates "
            "WHERE profile = ? AND keep_until > ? GROUP BY subscription_id",
            (profile, format_instant(now)),
        )
        return {r[0]: parse_instant(r[1]) for r in rows}

    def save_schedule(self, job: ScheduledJob) -> None:
        """Create or replace the scheduled job (profile, process)."""
        with self.transaction():
            self._q(
                "INSERT INTO scheduled_jobs (profile, process, interval_seconds, next_run_at, "
                "last_run_at, last_status, enabled) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(profile, process) DO UPDATE SET "
                "interval_seconds = excluded.interval_seconds, next_run_at = excluded.next_run_at, "
                "last_run_at = excluded.last_run_at, last_status = excluded.last_status, "
                "enabled = excluded.enabled",
                (
                    job.profile,
                    job.process,
                    int(job.interval.total_seconds()),
                    format_instant(job.next_run_at),
                    _ts(job.last_run_at),
                    None if job.last_status is None else job.last_status.value,
                    int(job.enabled),
                ),
            )

    def list_schedules(self, profile: str | None = None) -> list[ScheduledJob]:
        """Scheduled jobs, by profile and process."""
        sql, params = "SELECT * FROM scheduled_jobs", []
        if profile is not None:
            sql += " WHERE profile = ?"
            params.append(profile)
        return [
            ScheduledJob(
                profile=r["profile"],
                process=r["process"],
                interval=dt.timedelta(seconds=r["interval_seconds"]),
                next_run_at=parse_instant(r["next_run_at"]),
                last_run_at=_dt(r["last_run_at"]),
                last_status=None if r["last_status"] is None else JobStatus(r["last_status"]),
                enabled=bool(r["enabled"]),
            )
            for r in self._q(sql + " ORDER BY profile, process", params)
        ]

    def delete_schedules(self, profile: str, process: str | None = None) -> int:
        """Remove a profile's scheduled jobs (or one of them); returns how many went."""
        with self.transaction():
            if process is None:
                cur = self._q("DELETE FROM scheduled_jobs WHERE profile = ?", (profile,))
            else:
                cur = self._q(
                    "DELETE FROM scheduled_jobs WHERE profile = ? AND process = ?",
                    (profile, process),
                )
            return cur.rowcount

    # -- run locks (issue 8, item 6): atomic takeover, heartbeats, fences ---------------------

    def _row_to_lock(self, r: sqlite3.Row) -> RunLock:
        return RunLock(
            profile=r["profile"],
            owner=r["owner"],
            host=r["host"],
            pid=r["pid"],
            acquired_at=parse_instant(r["acquired_at"]),
            expires_at=parse_instant(r["expires_at"]),
            heartbeat_at=_dt(r["heartbeat_at"]),
        )

    def get_run_lock(self, profile: str) -> RunLock | None:
        """Who holds ``profile``'s run lock, if anyone (expired locks included)."""
        row = self._q("SELECT * FROM run_locks WHERE profile = ?", (profile,)).fetchone()
        return None if row is None else self._row_to_lock(row)

    def acquire_run_lock(self, lock: RunLock, *, now: dt.datetime) -> RunLock | None:
        """Take ``lock`` unless another owner holds an unexpired one; returns that holder if so.

        Reads first without waiting for the write lock, so a second run is told at once; the
        take itself is one write transaction (insert if free, else replace an expired holder).
        """
        held = self.get_run_lock(lock.profile)
        if held is not None and held.owner != lock.owner and held.expires_at > now:
            return held
        with self.transaction():
            cur = self._q(
                "INSERT INTO run_locks (profile, owner, host, pid, acquired_at, expires_at, "
                "heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(profile) DO NOTHING",
                _lock_values(lock),
            )
            if cur.rowcount == 1:
                return None
            held = self.get_run_lock(lock.profile)
            if held is None or held.owner == lock.owner or held.expires_at <= now:
                if held is None or self.take_over_run_lock(lock, expected=held):
                    return None
                held = self.get_run_lock(lock.profile)
            return held

    def take_over_run_lock(self, lock: RunLock, *, expected: RunLock) -> bool:
        """Compare-and-set: replace the lock exactly as ``expected`` was read (same owner, same
        heartbeat) by ``lock``; False when anything changed meanwhile (another process won, or
        the holder's heartbeat came in)."""
        with self.transaction():
            cur = self._q(
                "UPDATE run_locks SET owner = ?, host = ?, pid = ?, acquired_at = ?, "
                "expires_at = ?, heartbeat_at = ? "
                "WHERE profile = ? AND owner = ? AND heartbeat_at IS ?",
                (
                    *_lock_values(lock)[1:],
                    lock.profile,
                    expected.owner,
                    _ts(expected.heartbeat_at),
                ),
            )
            return cur.rowcount == 1

    def heartbeat_run_lock(
        self, profile: str, owner: str, *, at: dt.datetime, expires_at: dt.datetime
    ) -> bool:
        """The holder's sign of life; False when ``owner`` no longer holds the lock.

        Safe to call from a background thread: on a file database it uses a connection of its
        own, so it never interleaves with the run's transactions on the main connection.
        """
        sql = (
            "UPDATE run_locks SET heartbeat_at = ?, expires_at = ? WHERE profile = ? AND owner = ?"
        )
        params = (format_instant(at), format_instant(expires_at), profile, owner)
        if self.path == ":memory:":
            with self.transaction():
                return self._q(sql, params).rowcount == 1
        with self._side_lock:
            try:
                if self._side_db is None:
                    self._side_db = sqlite3.connect(
                        self.path, isolation_level=None, check_same_thread=False
                    )
                    self._side_db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                return self._side_db.execute(sql, params).rowcount == 1
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise self._busy() from None
                raise StoreError(f"workspace database error: {exc}") from exc

    def holds_run_lock(self, profile: str, owner: str) -> bool:
        """True when ``owner`` holds ``profile``'s run lock right now."""
        row = self._q("SELECT owner FROM run_locks WHERE profile = ?", (profile,)).fetchone()
        return row is not None and row[0] == owner

    def _check_fence(self, profile: str, fence: str | None) -> None:
        """Inside a write transaction: refuse to write for a run that lost its lock."""
        if fence is None or self.holds_run_lock(profile, fence):
            return
        holder = self.get_run_lock(profile)
        who = "nobody" if holder is None else f"{holder.host}, pid {holder.pid}"
        raise RunInProgressError(
            f"this run of {profile!r} lost its run lock (now held by {who}); it stops here "
            "without writing more",
            hint="the other run carries on; check `saas-license jobs`",
        )

    def release_run_lock(self, profile: str, owner: str) -> bool:
        """Release ``profile``'s lock if ``owner`` holds it; True if it did."""
        with self.transaction():
            cur = self._q("DELETE FROM run_locks WHERE profile = ? AND owner = ?", (profile, owner))
            return cur.rowcount == 1

    def break_run_lock(self, profile: str) -> bool:
        """Remove ``profile``'s lock whoever holds it (a crashed run); True if there was one."""
        with self.transaction():
            return self._q("DELETE FROM run_locks WHERE profile = ?", (profile,)).rowcount == 1

    # -- staged downloads (issue 8, item 6) -----------------------------------------------------

    def stage_download(
        self, profile: str, *, run_id: str, fence: str | None = None
    ) -> contextlib.AbstractContextManager[DownloadStage]:
        """A staging area for one download (see :class:`DownloadStage`); dropped on exit."""
        return DownloadStage(self, profile, run_id=run_id, fence=fence)

    def save_plan(self, plan: ReclaimPlan) -> None:
        """Store a reclaim plan under its id (which must be set, with ``expires_at``)."""
        if plan.id is None or plan.expires_at is None:
            raise StoreError("a stored reclaim plan needs an id and an expiry")
        with self.transaction():
            self._q(
                "INSERT INTO reclaim_plans (id, profile, created_at, expires_at, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    plan.id,
                    plan.profile,
                    format_instant(plan.created_at),
                    format_instant(plan.expires_at),
                    _dumps(converter.unstructure(plan)),
                ),
            )

    def get_plan(self, plan_id: str) -> tuple[ReclaimPlan, dt.datetime | None] | None:
        """A stored plan and when it was applied (None = not yet)."""
        row = self._q(
            "SELECT data, applied_at FROM reclaim_plans WHERE id = ?", (plan_id,)
        ).fetchone()
        if row is None:
            return None
        return converter.structure(json.loads(row[0]), ReclaimPlan), _dt(row[1])

    def mark_plan_applied(self, plan_id: str, at: dt.datetime) -> bool:
        """Mark a plan applied; False if it already was (a plan is applied at most once)."""
        with self.transaction():
            cur = self._q(
                "UPDATE reclaim_plans SET applied_at = ? WHERE id = ? AND applied_at IS NULL",
                (format_instant(at), plan_id),
            )
            return cur.rowcount == 1

    def add_reclaim_action(self, action: ReclaimAction) -> ReclaimAction:
        """Record one vendor reclaim call; returns it with its id."""
        data = converter.unstructure(action)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "INSERT INTO reclaim_actions (profile, external_user_id, at, status, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    action.profile,
                    action.external_user_id,
                    format_instant(action.at),
                    action.status,
                    _dumps(data),
                ),
            )
        return converter.structure({**data, "id": cur.lastrowid}, ReclaimAction)

    def update_reclaim_action(self, action: ReclaimAction) -> None:
        """Replace a stored reclaim action (after an undo)."""
        data = converter.unstructure(action)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "UPDATE reclaim_actions SET status = ?, data = ? WHERE id = ?",
                (action.status, _dumps(data), action.id),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no reclaim action with id {action.id}")

    def get_reclaim_action(self, action_id: int) -> ReclaimAction | None:
        """One reclaim action by id."""
        row = self._q("SELECT id, data FROM reclaim_actions WHERE id = ?", (action_id,)).fetchone()
        if row is None:
            return None
        return converter.structure({**json.loads(row["data"]), "id": row["id"]}, ReclaimAction)

    def list_reclaim_actions(
        self, profile: str | None = None, *, limit: int = 1000
    ) -> list[ReclaimAction]:
        """Reclaim actions, oldest first."""
        sql, params = "SELECT id, data FROM reclaim_actions", []
        if profile is not None:
            sql += " WHERE profile = ?"
            params.append(profile)
        rows = self._q(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclaimAction)
            for r in rows
        ]

    # -- reclaim safety (issue 8): quarantine, unresolved outcomes, abandoned jobs ----------

    def add_quarantined(self, records: Iterable[QuarantinedRecord]) -> int:
        """Keep spoke records the core's boundary checks refused; returns how many."""
        rows = [
            (
                q.profile,
                q.run_id,
                format_instant(q.at),
                q.spoke,
                q.external_user_id,
                q.identifier,
                q.field,
                q.reason,
            )
            for q in records
        ]
        if rows:
            with self.transaction():
                self._db.executemany(
                    "INSERT INTO safety_quarantine (profile, run_id, at, spoke, external_user_id, "
                    "identifier, field, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        return len(rows)

    def list_quarantined(
        self, profile: str | None = None, *, run_id: str | None = None, limit: int = 100
    ) -> list[QuarantinedRecord]:
        """Quarantined spoke records, newest first."""
        where, params = [], []
        for column, value in (("profile", profile), ("run_id", run_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM safety_quarantine" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._q(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [
            QuarantinedRecord(
                profile=r["profile"],
                run_id=r["run_id"],
                at=parse_instant(r["at"]),
                spoke=r["spoke"],
                external_user_id=r["external_user_id"],
                identifier=r["identifier"],
                field=r["field"],
                reason=r["reason"],
                id=r["id"],
            )
            for r in rows
        ]

    def mark_seen(self, profile: str, keys: Iterable[tuple[str, str]], *, run_id: str) -> None:
        """Count existing seats (user, identifier) as seen by ``run_id`` without changing them:
        a quarantined record never closes or changes the seat it refers to."""
        with self.transaction():
            self._db.executemany(
                "UPDATE subscriptions SET seen_run = ?, quarantined_run = ? "
                "WHERE profile = ? AND external_user_id = ? AND identifier = ?",
                [(run_id, run_id, profile, user, ident) for user, ident in keys],
            )

    def unresolved_reclaim_actions(self, profile: str) -> list[ReclaimAction]:
        """Reclaims whose outcome was never seen (``requested``: the process died; ``unknown``)."""
        rows = self._q(
            "SELECT id, data FROM reclaim_actions WHERE profile = ? "
            "AND status IN ('requested', 'unknown') ORDER BY id",
            (profile,),
        )
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclaimAction)
            for r in rows
        ]

    def abandon_running_jobs(self, profile: str, *, now: dt.datetime, reason: str) -> int:
        """Mark ``profile``'s jobs still ``running`` as abandoned (their process died); how many.

        Only call while holding the profile's run lock: then no live process owns them.
        """
        with self.transaction():
            rows = self._q(
                "SELECT id, data FROM jobs WHERE profile = ? AND status = ?",
                (profile, JobStatus.RUNNING.value),
            ).fetchall()
            for r in rows:
                job = converter.structure({**json.loads(r["data"]), "id": r["id"]}, JobResult)
                self.save_job(
                    attrs.evolve(job, status=JobStatus.ABANDONED, finished_at=now, error=reason)
                )
        return len(rows)

    def add_notification(self, notification: Notification) -> Notification:
        """Put a notification in the outbox; returns it with its id."""
        data = converter.unstructure(notification)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "INSERT INTO outbox (created_at, profile, kind, status, data) VALUES (?, ?, ?, ?, ?)",
                (
                    format_instant(notification.created_at),
                    notification.profile,
                    notification.kind.value,
                    notification.status.value,
                    _dumps(data),
                ),
            )
        return converter.structure({**data, "id": cur.lastrowid}, Notification)

    def update_notification(self, notification: Notification) -> None:
        """Record a delivery attempt on a stored notification."""
        data = converter.unstructure(notification)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "UPDATE outbox SET status = ?, data = ? WHERE id = ?",
                (notification.status.value, _dumps(data), notification.id),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no notification with id {notification.id}")

    def get_notification(self, notification_id: int) -> Notification | None:
        """One notification by id."""
        row = self._q("SELECT id, data FROM outbox WHERE id = ?", (notification_id,)).fetchone()
        if row is None:
            return None
        return converter.structure({**json.loads(row["data"]), "id": row["id"]}, Notification)

    def list_notifications(
        self,
        *,
        status: DeliveryStatus | None = None,
        profile: str | None = None,
        limit: int = 1000,
    ) -> list[Notification]:
        """Notifications in the outbox, oldest first."""
        sql, where, params = "SELECT id, data FROM outbox", [], []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if profile is not None:
            where.append("profile = ?")
            params.append(profile)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._q(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, Notification)
            for r in rows
        ]


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text or "busy" in text


def _lock_values(lock: RunLock) -> tuple[Any, ...]:
    return (
        lock.profile,
        lock.owner,
        lock.host,
        lock.pid,
        format_instant(lock.acquired_at),
        format_instant(lock.expires_at),
        _ts(lock.heartbeat_at),
    )


@attrs.define
class WriteStats:
    """How long this connection held the database's write lock: count, total and longest."""

    transactions: int = 0
    total_seconds: float = 0.0
    longest_seconds: float = 0.0

    def record(self, seconds: float) -> None:
        """Count one finished write transaction."""
        self.transactions += 1
        self.total_seconds += seconds
        self.longest_seconds = max(self.longest_seconds, seconds)


class DownloadStage:
    """One download staged outside the database's write lock, then swapped in short transactions.

    :meth:`add` streams the spoke's records into a temporary table of this connection (writing
    it takes no lock on the workspace), so reads, rule edits and ``jobs`` work all through a
    long download. :meth:`merge` then upserts them in batches of :data:`STAGE_BATCH`, one
    short transaction each, and :meth:`close_unseen` closes vanished seats the same way. Only a
    download that was staged completely is merged, so only a complete download closes seats; a
    failed one leaves the store as it was. With ``fence`` each batch checks the run still holds
    the profile's lock. A crash mid-merge leaves some seats refreshed (each with true vendor
    data) and none closed; the next complete run finishes the job.
    """

    def __init__(
        self, store: SqliteStore, profile: str, *, run_id: str, fence: str | None = None
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]+", run_id):
            raise StoreError(f"a download's run id must be a plain token, not {run_id!r}")
        self._store, self.profile, self.run_id, self.fence = store, profile, run_id, fence
        self._table = f"temp.stage_{run_id}"
        self.identifiers: set[str] = set()
        self.staged = 0

    def __enter__(self) -> DownloadStage:
        self._store._q(
            f"CREATE TABLE IF NOT EXISTS {self._table} (seq INTEGER PRIMARY KEY, record BLOB NOT NULL)"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._store._q(f"DROP TABLE IF EXISTS {self._table}")

    def add(self, records: Iterable[SubscriptionRecord]) -> int:
        """Stage records as the spoke yields them (no workspace lock held); returns how many."""
        for batch in _batched(records, STAGE_BATCH):
            rows = []
            for r in batch:
                self.staged += 1
                self.identifiers.add(r.identifier)
                rows.append((self.staged, pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)))
            try:
                with self._store._lock:  # never inside another thread's transaction
                    self._store._db.executemany(
                        f"INSERT INTO {self._table} (seq, record) VALUES (?, ?)", rows
                    )
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"could not stage the download: {exc}") from exc
            kill_point("download.staged")
        return self.staged

    def merge(self, *, now: dt.datetime) -> int:
        """Upsert the staged records into the workspace, one short transaction per batch."""
        last = merged = 0
        while True:
            rows = self._store._q(
                f"SELECT seq, record FROM {self._table} WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, STAGE_BATCH),
            ).fetchall()
            if not rows:
                return merged
            records = [pickle.loads(r[1]) for r in rows]  # noqa: S301 - our own temp table
            with self._store.transaction():
                self._store._check_fence(self.profile, self.fence)
                merged += self._store.upsert_subscriptions(
                    self.profile, records, run_id=self.run_id, now=now
                )
            last = rows[-1][0]
            kill_point("download.merged")

    def close_unseen(self) -> list[int]:
        """Close the seats this (complete) download did not see; their ids."""
        return self._store.close_unseen(self.profile, run_id=self.run_id, fence=self.fence)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (``BEGIN … END;``) whole."""
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
