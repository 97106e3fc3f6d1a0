"""Job results (what one run of one process did), the per-profile schedule, and the run lock."""

from __future__ import annotations

import datetime as dt
import enum

import attrs

__all__ = ["JobResult", "JobStatus", "RunLock", "ScheduledJob", "job_name"]


class JobStatus(str, enum.Enum):
    """Outcome of a job."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    SKIPPED = "skipped"
    #: The process running it died (killed, crashed): found by the next run of the profile.
    ABANDONED = "abandoned"


@attrs.frozen(kw_only=True)
class JobResult:
    """One run of one process (download, activity, evaluate, reclaim, undo) for one profile.

    ``run_id`` ties together the jobs of one daily run; ``trigger`` says who started it
    (``manual``, ``schedule`` or ``apply``).
    """

    profile: str
    process: str
    status: JobStatus
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    counts: dict[str, int] = attrs.Factory(dict)
    error: str | None = None
    dry_run: bool = True
    id: int | None = None
    run_id: str | None = None
    trigger: str = "manual"

    @property
    def duration_seconds(self) -> float | None:
        """Wall time of the job, when it has finished."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@attrs.frozen(kw_only=True)
class ScheduledJob:
    """A recurring job of a published profile ("SAM - Refresh <profile> Subscriptions").

    Publishing creates one per enabled process (``download``, ``activity``); ``run --due``
    runs every profile with a job whose ``next_run_at`` has passed. ``name`` is the readable
    name ("Refresh Aha! (aha) subscriptions"), filled in from the profile's display name when
    the schedule is read, so renaming a profile renames its jobs.
    """

    profile: str
    process: str
    interval: dt.timedelta
    next_run_at: dt.datetime
    last_run_at: dt.datetime | None = None
    last_status: JobStatus | None = None
    enabled: bool = True
    name: str = ""

    def is_due(self, now: dt.datetime) -> bool:
        """True when the job should run at ``now``."""
        return self.enabled and self.next_run_at <= now


def job_name(display_name: str, process: str) -> str:
    """The readable name of a profile's scheduled job, as in the reference ("SAM - Refresh
    <display name> Subscriptions"): "Refresh Aha! (aha) subscriptions"."""
    what = "subscriptions" if process == "download" else process
    return f"Refresh {display_name} {what}"


@attrs.frozen(kw_only=True)
class RunLock:
    """Who holds a profile's run lock: two runs of one profile never overlap.

    The holder refreshes ``heartbeat_at`` while it runs (and ``expires_at``, its heartbeat plus
    the stale-after time); a lock whose heartbeat stopped is stale and may be taken over, at once
    when its process is gone from this host. ``owner`` is unique per acquisition.
    """

    profile: str
    owner: str
    host: str
    pid: int
    acquired_at: dt.datetime
    expires_at: dt.datetime
    heartbeat_at: dt.datetime | None = None

    @property
    def last_sign_of_life(self) -> dt.datetime:
        """The holder's last heartbeat (its start for locks written before heartbeats)."""
        return self.heartbeat_at or self.acquired_at
