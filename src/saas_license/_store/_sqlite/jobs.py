"""Job results, schedules and the per-profile run lock on SQLite.

Implements :class:`~saas_license._store._protocol.JobStore`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

import attrs

from ..._convert import converter
from ..._errors import RunInProgressError, StoreError
from ..._jobs import JobResult, JobStatus, RunLock, ScheduledJob
from ..._time import format_instant, parse_instant
from .base import SqliteBaseStore, _dt, _dumps, _is_busy, _ts

__all__ = ["SqliteJobStore"]


class SqliteJobStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.JobStore` part of
    :class:`~saas_license._store.SqliteStore`."""

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

    def release_run_lock(self, profile: str, owner: str) -> bool:
        """Release ``profile``'s lock if ``owner`` holds it; True if it did."""
        with self.transaction():
            cur = self._q("DELETE FROM run_locks WHERE profile = ? AND owner = ?", (profile, owner))
            return cur.rowcount == 1

    def break_run_lock(self, profile: str) -> bool:
        """Remove ``profile``'s lock whoever holds it (a crashed run); True if there was one."""
        with self.transaction():
            return self._q("DELETE FROM run_locks WHERE profile = ?", (profile,)).rowcount == 1

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
                    self._side_db.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms()}")
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
            hint="the other run carries on; see its job results (CLI `jobs`, Python `ws.jobs.query()`)",
        )


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
