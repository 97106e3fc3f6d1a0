"""Job results: what one run of one process did for one profile."""

from __future__ import annotations

import datetime as dt
import enum

import attrs

__all__ = ["JobResult", "JobStatus"]


class JobStatus(str, enum.Enum):
    """Outcome of a job."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    SKIPPED = "skipped"


@attrs.frozen(kw_only=True)
class JobResult:
    """One run of one process (download, activity, evaluate, reclaim) for one profile."""

    profile: str
    process: str
    status: JobStatus
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    counts: dict[str, int] = attrs.Factory(dict)
    error: str | None = None
    dry_run: bool = True
    id: int | None = None

    @property
    def duration_seconds(self) -> float | None:
        """Wall time of the job, when it has finished."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
