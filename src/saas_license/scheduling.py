"""Scheduled jobs per published profile, what is due, and the run lock that keeps runs apart.

Cron or a systemd timer calling ``saas-license run --due`` every few minutes is all an operator
needs: each profile runs when its jobs fall due, and never twice at the same time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

from .errors import RunInProgressError
from .jobs import JobStatus, RunLock, ScheduledJob
from .profiles import IntegrationProfile, Process
from .store import Store

__all__ = [
    "STALE_AFTER",
    "due_profiles",
    "lock_is_stale",
    "next_run",
    "record_run",
    "run_lock",
    "schedule_profile",
]

log = logging.getLogger("saas_license.scheduling")

#: A run lock whose heartbeat is older than this is stale: its run crashed (another host).
STALE_AFTER = dt.timedelta(minutes=2)

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
    if os.name != "posix":  # pragma: no cover - no cheap liveness check; rely on the heartbeat
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_is_stale(lock: RunLock, now: dt.datetime) -> bool:
    """True when ``lock``'s holder is gone: its process is dead on this host, or it let its
    ``expires_at`` pass (its last heartbeat plus the stale-after time *it* runs with: a crashed
    run on another host)."""
    if lock.expires_at <= now:
        return True
    return lock.host == socket.gethostname() and not _pid_alive(lock.pid)


def _heartbeat_every(stale_after: dt.timedelta) -> float:
    """Six heartbeats per stale-after period (20 s for the default 2 min), at least one a second."""
    return max(stale_after.total_seconds() / 6, 1.0)


def _span(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


class _Heartbeat:
    """A daemon thread that refreshes the lock's heartbeat while the run holds it.

    Times are the run's ``now`` plus elapsed monotonic time, so they agree with the clock the
    run was started with. A lost lock (taken over as stale) is logged and remembered in ``lost``.
    """

    def __init__(self, store: Store, lock: RunLock, *, stale_after: dt.timedelta) -> None:
        self.store, self.lock, self.stale_after = store, lock, stale_after
        self.lost = False
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(
            target=self._loop, name=f"saas-license-heartbeat-{lock.profile}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def beat(self) -> bool:
        """Refresh the heartbeat once; False if the lock was lost."""
        at = self.lock.acquired_at + dt.timedelta(seconds=time.monotonic() - self._t0)
        ok = self.store.heartbeat_run_lock(
            self.lock.profile, self.lock.owner, at=at, expires_at=at + self.stale_after
        )
        if not ok and not self._stop.is_set():  # after stop() the lock is released on purpose
            self.lost = True
            log.warning("run of %s lost its run lock (taken over as stale)", self.lock.profile)
        return ok

    def _loop(self) -> None:
        while not self._stop.wait(_heartbeat_every(self.stale_after)):
            try:
                if not self.beat():
                    return
            except Exception:  # busy or closed database: try again at the next beat
                log.debug("heartbeat of %s failed", self.lock.profile, exc_info=True)


@contextlib.contextmanager
def run_lock(
    store: Store, profile: str, *, now: dt.datetime, ttl: dt.timedelta = STALE_AFTER
) -> Iterator[RunLock]:
    """Hold ``profile``'s run lock for the block, or raise :class:`RunInProgressError` at once.

    ``ttl`` is the stale-after time: the lock's heartbeat (and ``expires_at``, heartbeat plus
    ``ttl``) is refreshed by a background thread six times per ``ttl``; a lock whose holder let
    its ``expires_at`` pass is taken over, as is at once a lock whose process is dead on this
    host. The takeover is a compare-and-set on the
    lock row, so of several processes racing for a stale lock exactly one wins.
    """
    lock = RunLock(
        profile=profile,
        owner=uuid.uuid4().hex,
        host=socket.gethostname(),
        pid=os.getpid(),
        acquired_at=now,
        expires_at=now + ttl,
        heartbeat_at=now,
    )
    holder = store.acquire_run_lock(lock, now=now)
    if holder is not None and lock_is_stale(holder, now):
        if store.take_over_run_lock(lock, expected=holder):
            log.warning(
                "took over the stale run lock of %s (host %s, pid %s, last heartbeat %s)",
                profile,
                holder.host,
                holder.pid,
                holder.last_sign_of_life.isoformat(),
            )
            holder = None
        else:
            holder = store.get_run_lock(profile)
            if holder is None:  # released meanwhile: try once more, as a fresh take
                holder = store.acquire_run_lock(lock, now=now)
    if holder is not None:
        raise RunInProgressError(
            f"profile {profile!r} is already running on {holder.host} (pid {holder.pid}, "
            f"started {holder.acquired_at:%Y-%m-%d %H:%M} UTC, last heartbeat "
            f"{holder.last_sign_of_life:%H:%M:%S} UTC); this run stops here",
            hint=(
                f"try again later; a crashed run's lock is taken over at "
                f"{holder.expires_at:%H:%M:%S} UTC ({_span(ttl)} after its last heartbeat; at once "
                f"on the same host), or `saas-license jobs unlock {profile}`"
            ),
        )
    heartbeat = _Heartbeat(store, lock, stale_after=ttl)
    heartbeat.start()
    try:
        yield lock
    finally:
        heartbeat.stop()
        store.release_run_lock(profile, lock.owner)
