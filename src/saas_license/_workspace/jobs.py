"""Runs of a profile's processes: the daily cycle, schedules, job results, stale locks."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any

import attrs

from .._convert import converter
from .._errors import ProfileStateError, RunInProgressError, SaasLicenseError
from .._jobs import JobResult, JobStatus, ScheduledJob, job_name
from .._notify import DeliveryStatus
from .._pipeline import AlreadyRanError, ProgressCallback, RunReport, ScheduledRun, run_profile
from .._reclaim.auto import (
    SCHEDULER_ACTOR,
    AutoReclaimPolicy,
    AutoReclaimPreview,
    AutoReclaimReport,
    decided_items,
    reclaimed_today,
)
from .._reclaim.confirm import reconcile_reclaims
from .._reclaim.records import PlanAction
from .._scheduling import due_profiles, run_lock
from ._change import changing

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Jobs", "TickReport"]

log = logging.getLogger("saas_license.jobs")
_AUTO = "auto_reclaim:"


@attrs.frozen(kw_only=True)
class TickReport:
    """What one scheduler tick did (:meth:`Jobs.tick`): the due runs, deadlines moved, automatic
    reclaims, and notices delivered. :meth:`summary` is one line for a service's log."""

    started_at: dt.datetime
    finished_at: dt.datetime
    runs: tuple[ScheduledRun, ...] = ()
    timeouts: int = 0
    reminders: int = 0
    auto_reclaims: tuple[AutoReclaimReport, ...] = ()
    #: Notices delivered during the tick (sent at once or retried from the outbox).
    delivered: int = 0
    #: Notices still waiting in the outbox after the tick (a send limit, a server down).
    pending: int = 0
    #: Notices that gave up during the tick.
    failed: int = 0
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no run, reclaim or step failed."""
        return not self.errors and all(r.status != "failed" for r in self.runs)

    def summary(self) -> str:
        """One line: what ran and what came of it (no secrets, no personal data)."""
        runs = ", ".join(f"{r.profile}={r.status}" for r in self.runs) or "none due"
        auto = ", ".join(
            f"{a.profile}={a.status}:{a.reclaimed} reclaimed" for a in self.auto_reclaims
        )
        return (
            f"runs: {runs}; deadlines: {self.timeouts} timed out, {self.reminders} reminded; "
            f"auto-reclaim: {auto or 'off'}; notices: {self.delivered} delivered, "
            f"{self.pending} pending, {self.failed} failed"
            + (f"; errors: {len(self.errors)}" if self.errors else "")
        )


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
            notices=self._ws.candidates.notice_context(),
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

    def tick(self) -> TickReport:
        """One pass of the scheduler, as ``serve`` runs it every minute or so: the due daily runs
        (download, activity, evaluation), deadlines of every published profile (time-outs,
        reminders), automatic reclaims of the profiles that turned it on, then delivery of the
        outbox (retries included). Missed days are not run twice: a due job runs once and moves
        to its next slot after now. One profile's failure never stops the others.
        """
        started = self._ws.clock()
        errors: list[str] = []
        tally = self._ws.outbox.notifiers.tally
        before = dict(tally)
        runs = self.run_due()
        errors.extend(f"run {r.profile}: {r.error}" for r in runs if r.status == "failed")
        timeouts = reminders = 0
        workflow = self._ws.candidates.workflow
        for prof in self._ws.profiles.all():
            if not prof.is_published:
                continue
            try:
                t, r = workflow.advance(prof.name)
            except SaasLicenseError as exc:
                errors.append(f"deadlines {prof.name}: {exc}")
                continue
            timeouts, reminders = timeouts + t, reminders + r
        autos = []
        for prof in self._ws.profiles.all():
            if prof.is_published and self.auto_reclaim(prof.name).enabled:
                report = self.run_auto_reclaim(prof.name)
                autos.append(report)
                if report.status == "failed":
                    errors.append(f"auto-reclaim {prof.name}: {report.message}")
        self._ws.outbox.deliver()
        done = {k: tally[k] - before.get(k, 0) for k in tally}
        timeouts += sum(r.report.timeouts for r in runs if r.report is not None)
        reminders += sum(r.report.reminders for r in runs if r.report is not None)
        return TickReport(
            started_at=started,
            finished_at=self._ws.clock(),
            runs=tuple(runs),
            timeouts=timeouts,
            reminders=reminders,
            auto_reclaims=tuple(autos),
            delivered=done.get(DeliveryStatus.DELIVERED.value, 0),
            pending=len(self._ws.store.list_notifications(status=DeliveryStatus.PENDING)),
            failed=done.get(DeliveryStatus.FAILED.value, 0),
            errors=tuple(errors),
        )

    # -- automatic reclaim ---------------------------------------------------------------------

    def auto_reclaim(self, profile: str) -> AutoReclaimPolicy:
        """The automatic reclaim policy of ``profile`` (off unless turned on)."""
        raw = self._ws.store.get_meta(_AUTO + profile)
        if not raw:
            return AutoReclaimPolicy()
        return converter.structure(json.loads(raw), AutoReclaimPolicy)

    def set_auto_reclaim(
        self,
        profile: str,
        *,
        enabled: bool | None = None,
        max_per_run: int | None = None,
        max_per_day: int | None = None,
        halt_after_failures: int | None = None,
        send_notices: bool | None = None,
        actor: str = "user",
    ) -> AutoReclaimPolicy:
        """Turn automatic reclaim on or off for ``profile`` and set its caps (audited)."""
        self._ws.profiles.get(profile)
        before = self.auto_reclaim(profile)
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "enabled": enabled,
                "max_per_run": max_per_run,
                "max_per_day": max_per_day,
                "halt_after_failures": halt_after_failures,
                "send_notices": send_notices,
            }.items()
            if v is not None
        }
        for key in ("enabled", "send_notices"):
            if key in changes and not isinstance(changes[key], bool):
                from .._errors import ConfigError

                raise ConfigError(
                    f"{changes[key]!r} is not true or false", field=f"auto_reclaim.{key}"
                )
        after = attrs.evolve(before, **changes)
        with changing(
            self._ws,
            "profile.auto_reclaim",
            "profile",
            entity_id=profile,
            before=before,
            profile=profile,
            actor=actor,
        ) as change:
            self._ws.store.set_meta(_AUTO + profile, json.dumps(converter.unstructure(after)))
            change.done(profile, after=after)
        return after

    def preview_auto_reclaim(self, profile: str) -> AutoReclaimPreview:
        """What the next scheduled run's automatic reclaim would do (changes nothing)."""
        prof = self._ws.profiles.get(profile)
        policy = self.auto_reclaim(profile)
        now = self._ws.clock()
        plan = self._ws.plans.create(profile, save=False)
        left = max(
            0,
            policy.max_per_day
            - reclaimed_today(self._ws.store.list_reclaim_actions(profile, limit=100_000), now),
        )
        reason = ""
        if not prof.processes.reclaim:
            reason = "the profile's reclaim process is off (detect only)"
        elif not prof.is_published:
            reason = f"the profile is {prof.status.value}, not published"
        return AutoReclaimPreview(
            profile=profile,
            policy=policy,
            would_reclaim=tuple(i.candidate.id or 0 for i in decided_items(plan, now)),
            would_notify=tuple(i.candidate.id or 0 for i in plan.notices),
            left_today=left,
            unknown_outcomes=len(self._ws.store.unresolved_reclaim_actions(profile)),
            reason=reason,
        )

    def run_auto_reclaim(self, profile: str) -> AutoReclaimReport:
        """One automatic reclaim of ``profile`` (what :meth:`tick` runs): settle unknown
        outcomes, then apply a plan of the decided candidates (and, with ``send_notices``, the
        notices of ready ones), capped per run and per day, as actor ``scheduler``."""
        prof = self._ws.profiles.get(profile)
        policy = self.auto_reclaim(profile)
        if not policy.enabled:
            return AutoReclaimReport(profile=profile, status="off")
        if not prof.processes.reclaim or not prof.is_published:
            return AutoReclaimReport(
                profile=profile,
                status="off",
                message="reclaim process off or profile not published",
            )
        spoke = self._ws.profiles.spoke_for(prof)
        ctx = self._ws.profiles.context(prof)
        workflow = self._ws.candidates.workflow
        try:
            settled = reconcile_reclaims(
                self._ws.store,
                spoke,
                ctx,
                workflow=workflow,
                policy=self._ws.policy,
                actor=SCHEDULER_ACTOR,
            )
        except RunInProgressError as exc:
            return AutoReclaimReport(profile=profile, status="busy", message=str(exc))
        except SaasLicenseError as exc:
            return AutoReclaimReport(profile=profile, status="failed", message=str(exc))
        if settled.unresolved:
            return AutoReclaimReport(
                profile=profile,
                status="halted",
                unknown_settled=len(settled.resolved) - settled.unresolved,
                message=f"{settled.unresolved} reclaim(s) still of unknown outcome: nothing new is reclaimed",
            )
        now = self._ws.clock()
        today = reclaimed_today(self._ws.store.list_reclaim_actions(profile, limit=100_000), now)
        cap = max(0, min(policy.max_per_run, policy.max_per_day - today))
        plan = self._ws.plans.create(profile, save=False)
        notices = plan.notices if policy.send_notices and self._ws.settings.public_url else ()
        items = (*notices, *decided_items(plan, now))
        if not items:
            return AutoReclaimReport(
                profile=profile, status="done", unknown_settled=len(settled.resolved)
            )
        auto_plan = attrs.evolve(
            plan,
            items=items,
            id="auto-" + secrets.token_hex(5),
            expires_at=now + self._ws.policy.plan_ttl,
        )
        self._ws.store.save_plan(auto_plan)
        from .._reclaim.apply import apply_plan  # only automatic reclaims call the vendor

        try:
            report = apply_plan(
                self._ws.store,
                spoke,
                ctx,
                auto_plan.id or "",
                workflow=workflow,
                policy=self._ws.policy,
                cap=cap,
                actor=SCHEDULER_ACTOR,
                clock=self._ws.clock,
                max_failures=policy.halt_after_failures,
            )
        except RunInProgressError as exc:
            return AutoReclaimReport(profile=profile, status="busy", message=str(exc))
        except SaasLicenseError as exc:
            return AutoReclaimReport(profile=profile, status="failed", message=str(exc))
        status = (
            "halted"
            if report.halted
            else (
                "capped"
                if cap == 0 and any(i.kind is PlanAction.RECLAIM for i in items)
                else "done"
            )
        )
        return AutoReclaimReport(
            profile=profile,
            status=status,
            reclaimed=report.reclaimed,
            notified=report.counts.get("notified", 0),
            unknown_settled=len(settled.resolved),
            outcomes=report.counts,
            plan_id=auto_plan.id,
            message=report.halted
            or (
                f"the cap of {policy.max_per_day} seats a day is reached"
                if status == "capped"
                else ""
            ),
        )

    def due(self) -> list[str]:
        """Names of the published profiles with a job due now."""
        return [
            p.name
            for p in due_profiles(
                self._ws.store, now=self._ws.clock(), interval=self._ws.policy.job_interval
            )
        ]

    def schedules(self, profile: str | None = None) -> list[ScheduledJob]:
        """Scheduled jobs (one per enabled process of each published profile), each with its
        readable name ("Refresh Aha! (aha) subscriptions")."""
        names = {p.name: p.display_name for p in self._ws.store.list_profiles()}
        return [
            attrs.evolve(j, name=job_name(names.get(j.profile, j.profile), j.process))
            for j in self._ws.store.list_schedules(profile)
        ]

    def next_run(self, profile: str) -> ScheduledJob | None:
        """The profile's scheduled job that falls due first, the download before the others at
        the same instant (None when it has no schedule: it is not published)."""
        jobs = [j for j in self.schedules(profile) if j.enabled]
        return min(jobs, key=lambda j: (j.next_run_at, j.process != "download"), default=None)

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
