"""Scheduled jobs per published profile, what is due, and the run lock that keeps runs apart.

Cron or a systemd timer calling ``saas-license run --due`` every few minutes is all an operator
needs: each profile runs when its jobs fall due, and never twice at the same time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import uuid
from collections.abc import Iterator

from .errors import RunInProgressError
from .jobs import JobStatus, RunLock, ScheduledJob
from .profiles import IntegrationProfile, Process
from .store import Store

__all__ = ["due_profiles", "next_run", "record_run", "run_lock", "schedule_profile"]

#: The processes that get a scheduled job (reclaim is event-driven, as in the reference).
SCHEDULED = (Process.DOWNLOAD, Process.ACTIVITY)


def _wanted(profile: IntegrationProfile) -> list[str]:
    return [p.value for p in SCHEDULED if p in profile.processes.enabled()]


def schedule_profile(
    store: Store, profile: IntegrationProfile, *, now: dt.datetime, interval: dt.timedelta
) -> list[ScheduledJob]:
    """Make the profile's schedule match its processes: add missing jobs (due at once), drop
    jobs of processes switched off. Existing jobs keep their timing."""
    have = {j.process: j for j in store.list_schedules(profile.name)}
    wanted = _wanted(profile)
    for process in set(have) - set(wanted):
        store.delete_schedules(profile.name, process)
    out = []
    for process in wanted:
        job = have.get(process) or ScheduledJob(
            profile=profile.name, process=process, interval=interval, next_run_at=now
        )
        if process not in have:
            store.save_schedule(job)
        out.append(job)
    return out


def next_run(job: ScheduledJob, now: dt.datetime) -> dt.datetime:
    """The next slot after ``now`` on the job's cadence (keeps the time of day stable)."""
    nxt = job.next_run_at
    if nxt > now:
        return nxt
    steps = (now - nxt) // job.interval + 1
    return nxt + steps * job.interval


def record_run(
    store: Store,
    profile: IntegrationProfile,
    *,
    started: dt.datetime,
    status: JobStatus,
    retry: dt.timedelta,
) -> None:
    """After a run: stamp the profile's jobs and move them to their next slot (soon after a failure)."""
    for job in store.list_schedules(profile.name):
        nxt = next_run(job, started) if status is JobStatus.COMPLETE else started + retry
        store.save_schedule(
            ScheduledJob(
                profile=job.profile,
                process=job.process,
                interval=job.interval,
                next_run_at=nxt,
                last_run_at=started,
                last_status=status,
                enabled=job.enabled,
            )
        )


def due_profiles(
    store: Store, *, now: dt.datetime, interval: dt.timedelta
) -> list[IntegrationProfile]:
    """Published profiles with a job due at ``now`` (a published profile without a schedule,
    e.g. from an older workspace, is scheduled now and so is due)."""
    out = []
    for profile in store.list_profiles():
        if not profile.is_published:
            continue
        jobs = store.list_schedules(profile.name)
        if not jobs:
            jobs = schedule_profile(store, profile, now=now, interval=interval)
        if any(j.is_due(now) for j in jobs):
            out.append(profile)
    return out


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # pragma: no cover - no cheap liveness check; rely on the TTL
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(lock: RunLock, now: dt.datetime) -> bool:
    if lock.expires_at <= now:
        return True
    return lock.host == socket.gethostname() and not _pid_alive(lock.pid)


@contextlib.contextmanager
def run_lock(
    store: Store, profile: str, *, now: dt.datetime, ttl: dt.timedelta
) -> Iterator[RunLock]:
    """Hold ``profile``'s run lock for the block, or raise :class:`RunInProgressError` at once.

    A lock left by a crashed run is taken over when it expired (``ttl``) or when its process is
    gone (same host).
    """
    lock = RunLock(
        profile=profile,
        owner=uuid.uuid4().hex,
        host=socket.gethostname(),
        pid=os.getpid(),
        acquired_at=now,
        expires_at=now + ttl,
    )
    holder = store.acquire_run_lock(lock, now=now)
    if holder is not None and _stale(holder, now):
        store.break_run_lock(profile)
        holder = store.acquire_run_lock(lock, now=now)
    if holder is not None:
        raise RunInProgressError(
            f"profile {profile!r} is already running (started {holder.acquired_at:%Y-%m-%d %H:%M} "
            f"UTC on {holder.host}, pid {holder.pid}); this run stops here",
            hint=f"wait for it to finish; if it crashed, `saas-license jobs unlock {profile}`",
        )
    try:
        yield lock
    finally:
        store.release_run_lock(profile, lock.owner)
