"""Runs of a profile's processes: the daily cycle, schedules, job results, stale locks."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from .._errors import ProfileStateError, RunInProgressError, SaasLicenseError
from .._jobs import JobResult, JobStatus, ScheduledJob
from .._pipeline import AlreadyRanError, ProgressCallback, RunReport, ScheduledRun, run_profile
from .._scheduling import due_profiles, run_lock

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Jobs"]


class Jobs:
    """Runs of a profile's processes: the daily cycle, schedules, job results, stale locks (``ws.jobs``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def run(
        self, name: str, *, progress: ProgressCallback | None = None, trigger: str = "manual"
    ) -> RunReport:
        """Run one daily cycle of a published profile (download, activity, evaluate, plan).

        Raises :class:`RunInProgressError` at once when another run of the profile is going.
        """
        return self._run(name, progress=progress, trigger=trigger)

    def _run(
        self,
        name: str,
        *,
        progress: ProgressCallback | None,
        trigger: str,
        only_if_due: bool = False,
    ) -> RunReport:
        prof = self._ws.profiles.get(name)
        if not prof.is_published:
            raise ProfileStateError(
                f"profile {name!r} is {prof.status.value}; only published profiles run",
                hint=f"validate it, then publish it (CLI `validate {name}` then `publish {name}`, Python `ws.profiles.validate({name!r})` then `ws.profiles.publish({name!r})`)",
            )
        return run_profile(
            self._ws.store,
            self._ws.profiles.spoke_for(prof),
            self._ws.profiles.context(prof),
            policy=self._ws.policy,
            clock=self._ws.clock,
            progress=progress,
            prices=self._ws.prices,
            notifiers=self._ws.outbox.notifiers,
            trigger=trigger,
            only_if_due=only_if_due,
        )

    def run_due(
        self, *, progress: ProgressCallback | None = None, all_published: bool = False
    ) -> list[ScheduledRun]:
        """Run every profile whose jobs are due (every published one with ``all_published``).

        One profile's failure or lock does not stop the others. Many workers may run this at
        once on one shared workspace: a profile is taken by one of them (its run lock), and one
        that another worker ran meanwhile is not run again this period.
        """
        names = (
            [p.name for p in self._ws.profiles.all() if p.is_published]
            if all_published
            else self.due()
        )
        out = []
        for name in names:
            try:
                report = self._run(
                    name, progress=progress, trigger="schedule", only_if_due=not all_published
                )
            except AlreadyRanError as exc:
                out.append(ScheduledRun(profile=name, status="taken", error=str(exc)))
            except RunInProgressError as exc:
                out.append(ScheduledRun(profile=name, status="in_progress", error=str(exc)))
            except SaasLicenseError as exc:
                out.append(ScheduledRun(profile=name, status="failed", error=str(exc)))
            else:
                out.append(ScheduledRun(profile=name, status="complete", report=report))
        return out

    def due(self) -> list[str]:
        """Names of the published profiles with a job due now."""
        return [
            p.name
            for p in due_profiles(
                self._ws.store, now=self._ws.clock(), interval=self._ws.policy.job_interval
            )
        ]

    def schedules(self, profile: str | None = None) -> list[ScheduledJob]:
        """Scheduled jobs (one per enabled process of each published profile)."""
        return self._ws.store.list_schedules(profile)

    def query(self, profile: str | None = None, *, limit: int = 100) -> list[JobResult]:
        """Recent job results, newest first. A job still ``running`` whose profile's run lock no
        live process holds is marked ``abandoned`` first (its process died)."""
        jobs = self._ws.store.list_jobs(profile, limit=limit)
        dead = {j.profile for j in jobs if j.status is JobStatus.RUNNING}
        for name in sorted(dead):
            try:
                with run_lock(
                    self._ws.store, name, now=self._ws.clock(), ttl=dt.timedelta(minutes=1)
                ):
                    self._ws.store.abandon_running_jobs(
                        name,
                        now=self._ws.clock(),
                        reason="abandoned: the process running it died (no live run lock)",
                    )
            except RunInProgressError:
                continue  # a live run holds the lock: its jobs are really running
        return self._ws.store.list_jobs(profile, limit=limit) if dead else jobs

    def unlock(self, profile: str, *, actor: str = "user") -> bool:
        """Break a profile's run lock left by a crashed run; True if there was one."""
        held = self._ws.store.get_run_lock(profile)
        broken = self._ws.store.break_run_lock(profile)
        if broken and held is not None:
            self._ws._audit(
                "profile.unlocked",
                "profile",
                profile,
                {"owner": held.owner, "host": held.host, "pid": held.pid},
                None,
                profile=profile,
                actor=actor,
            )
        return broken
