"""Seats, software models, identifier mappings, activity and staged downloads on SQLite.

Implements :class:`~saas_license._store._protocol.SubscriptionStore`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import pickle
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..._errors import ConfigError, StoreError
from ..._faultpoints import kill_point
from ..._models import SoftwareModel
from ..._subscriptions import ActivityRecord, Subscription, SubscriptionRecord
from ..._time import format_instant
from .base import SqliteBaseStore, _batched, _dt, _dumps, _is_busy, _ts

__all__ = ["BATCH_SIZE", "STAGE_BATCH", "DownloadStage", "SqliteSubscriptionStore"]

BATCH_SIZE = 500
#: Seats merged (or closed) per write transaction when a staged download is swapped in: small
#: enough that no transaction holds the database's write lock for long, even at 1M seats.
STAGE_BATCH = 2000

_SUB_COLUMNS = (
    "id, profile, external_user_id, identifier, user_principal_name, display_name, software_model, "
    "last_activity, activity_checked_at, external_created, assigned_at, first_seen_at, "
    "last_seen_at, active, attributes, unknown"
)


class SqliteSubscriptionStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.SubscriptionStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    if TYPE_CHECKING:  # the run lock's fence, from the jobs part

        def _check_fence(self, profile: str, fence: str | None) -> None: ...

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
                    hint="create the model first, or pick an existing one (CLI `models`, Python `ws.subscriptions.models()`)",
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

    def query_subscriptions(
        self,
        profile: str | None = None,
        *,
        software_model: str | None = None,
        inactive_before: dt.datetime | None = None,
        active_only: bool = True,
    ) -> Iterator[Subscription]:
        """Stream subscriptions (by id, page by page) of a profile and/or software model;
        ``inactive_before`` keeps seats last active before it or never active."""
        where: list[str] = ["id > ?"]
        params: list[object] = []
        if profile is not None:
            where.append("profile = ?")
            params.append(profile)
        if software_model is not None:
            where.append("software_model = ?")
            params.append(software_model)
        if inactive_before is not None:
            where.append("(last_activity IS NULL OR last_activity < ?)")
            params.append(_ts(inactive_before))
        if active_only:
            where.append("active = 1")
        sql = f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        last_id = 0
        while True:
            rows = self._q(sql, (last_id, *params, BATCH_SIZE)).fetchall()
            if not rows:
                return
            for r in rows:
                yield self._row_to_subscription(r)
            last_id = rows[-1]["id"]

    def get_subscription(self, subscription_id: int) -> Subscription | None:
        """One subscription by id, active or not."""
        row = self._q(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE id = ?", (subscription_id,)
        ).fetchone()
        return None if row is None else self._row_to_subscription(row)

    def user_subscriptions(self, profile: str, external_user_id: str) -> list[Subscription]:
        """The active seats one user holds in one profile (what a per-user reclaim frees)."""
        rows = self._q(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions "
            "WHERE profile = ? AND external_user_id = ? AND active = 1 ORDER BY id",
            (profile, external_user_id),
        )
        return [self._row_to_subscription(r) for r in rows]

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

    def stage_download(
        self, profile: str, *, run_id: str, fence: str | None = None
    ) -> contextlib.AbstractContextManager[DownloadStage]:
        """A staging area for one download (see :class:`DownloadStage`); dropped on exit."""
        return DownloadStage(self, profile, run_id=run_id, fence=fence)

    def mark_seen(self, profile: str, keys: Iterable[tuple[str, str]], *, run_id: str) -> None:
        """Count existing seats (user, identifier) as seen by ``run_id`` without changing them:
        a quarantined record never closes or changes the seat it refers to."""
        with self.transaction():
            self._db.executemany(
                "UPDATE subscriptions SET seen_run = ?, quarantined_run = ? "
                "WHERE profile = ? AND external_user_id = ? AND identifier = ?",
                [(run_id, run_id, profile, user, ident) for user, ident in keys],
            )


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
        self, store: SqliteSubscriptionStore, profile: str, *, run_id: str, fence: str | None = None
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
