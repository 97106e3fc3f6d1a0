"""The service's scheduler: one loop that runs what is due, delivers notices, settles unknown
reclaim outcomes and saves the weekly reconciliation.

Each tick runs every profile whose jobs are due once; a run moves its jobs to their next slot
after *now*, so a service that was down for days catches up with one run per profile, never one
per missed day. One scheduler per workspace: it holds the workspace's service lock (a run lock
with a heartbeat) for as long as it runs, and a second one refuses to start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import attrs

from ._errors import RunInProgressError, SaasLicenseError
from ._scheduling import run_lock
from ._workspace.jobs import TickReport

if TYPE_CHECKING:
    from ._workspace import Workspace

__all__ = ["SERVICE_LOCK", "Scheduler", "SchedulerBusyError", "ServiceTick"]

log = logging.getLogger("saas_license.service")

#: The run-lock name the scheduler holds (not a valid profile name, so it never collides).
SERVICE_LOCK = "service:scheduler"

#: The actor of everything the scheduler does on its own.
ACTOR = "scheduler"


class SchedulerBusyError(RunInProgressError):
    """Another scheduler already runs on this workspace."""


@attrs.frozen(kw_only=True)
class ServiceTick:
    """What one tick of the service did: the workspace's tick (due runs, deadlines, automatic
    reclaims, notices), the unknown reclaim outcomes it settled, and the weekly reconciliation."""

    at: dt.datetime
    jobs: TickReport | None = None
    settled: int = 0
    reconciled: bool = False
    errors: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for the service's log (no secrets, no personal data)."""
        parts = [self.jobs.summary() if self.jobs is not None else "runs: failed"]
        if self.settled:
            parts.append(f"{self.settled} unknown outcomes settled")
        if self.reconciled:
            parts.append("reconciliation saved")
        return "; ".join(parts)


class Scheduler:
    """The loop behind ``serve``: call :meth:`tick` every ``interval`` seconds while holding the
    workspace's service lock (:meth:`hold`)."""

    def __init__(
        self,
        ws: Workspace,
        *,
        interval: float = 60.0,
        reconcile_every: dt.timedelta = dt.timedelta(days=7),
    ) -> None:
        self.ws = ws
        self.interval = interval
        self.reconcile_every = reconcile_every
        self.stop_event = threading.Event()
        self.ticks = 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the service lock for the block, or raise :class:`SchedulerBusyError` at once."""
        try:
            lock = run_lock(self.ws.store, SERVICE_LOCK, now=self.ws.clock())
            lock.__enter__()
        except RunInProgressError as exc:
            raise SchedulerBusyError(
                exc.message.replace(f"profile {SERVICE_LOCK!r}", "the scheduler of this workspace"),
                hint=(
                    "one scheduler per workspace: stop the other service first, or start this "
                    "one without its scheduler (web pages only); a crashed service's lock is "
                    "taken over within minutes"
                ),
            ) from None
        try:
            yield
        finally:
            lock.__exit__(None, None, None)

    def tick(self) -> ServiceTick:
        """Do everything that is due now, once. One failing step never stops the others."""
        ws = self.ws
        now = ws.clock()
        errors: list[str] = []
        jobs: TickReport | None = None
        settled = 0
        reconciled = False
        try:
            jobs = ws.jobs.tick()
            errors.extend(jobs.errors)
        except SaasLicenseError as exc:
            errors.append(f"tick: {exc}")
        for profile in ws.profiles.all():
            if not (profile.is_published and ws.store.unresolved_reclaim_actions(profile.name)):
                continue
            try:
                report = ws.plans.reconcile(profile.name, actor=ACTOR)
                settled += len(report.resolved) - report.unresolved
            except SaasLicenseError as exc:
                errors.append(f"{profile.name}: settling unknown outcomes: {exc}")
        try:
            reconciled = ws.finance.reconcile_if_due(self.reconcile_every) is not None
        except SaasLicenseError as exc:
            errors.append(f"reconciliation: {exc}")
        ws.store.set_meta("service.last_tick", now.strftime("%Y-%m-%d %H:%M UTC"))
        self.ticks += 1
        done = ServiceTick(
            at=now, jobs=jobs, settled=settled, reconciled=reconciled, errors=tuple(errors)
        )
        for error in errors:
            log.warning("scheduler: %s", error)
        if (
            jobs is None
            or jobs.runs
            or jobs.auto_reclaims
            or jobs.delivered
            or settled
            or reconciled
        ):
            log.info("scheduler: %s", done.summary())
        return done

    def loop(self, *, on_tick: Callable[[ServiceTick], None] | None = None) -> None:
        """Tick until :meth:`stop`, the first tick at once (call it inside :meth:`hold`)."""
        while not self.stop_event.is_set():
            try:
                report = self.tick()
                if on_tick is not None:
                    on_tick(report)
            except Exception:  # never let one bad tick end the service
                log.exception("scheduler tick failed")
            self.stop_event.wait(self.interval)

    def run(self, *, on_tick: Callable[[ServiceTick], None] | None = None) -> None:
        """Hold the service lock and tick until :meth:`stop`."""
        with self.hold():
            self.loop(on_tick=on_tick)

    def stop(self) -> None:
        """Ask the loop to end after the current tick."""
        self.stop_event.set()
