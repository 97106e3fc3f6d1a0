"""The daily pipeline of one profile: download → activity → evaluate → plan, each a recorded job.

Evaluate also moves the clock-driven transitions (unanswered notices time out, reminders go out).
Nothing here changes anything at the vendor: reclaims happen in :mod:`saas_license._reclaim.apply`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from ._boundary import BoundaryCheck
from ._candidates.notices import NoticeContext
from ._candidates.records import OPEN_STATES, RemovalCandidate
from ._candidates.states import CandidateEvent
from ._candidates.workflow import CandidateWorkflow
from ._directory.facts import directory_of, reclaim_priority, with_directory
from ._errors import RunInProgressError, SaasLicenseError
from ._evaluation import Evaluation, EvaluationPolicy, Verdict, evaluate
from ._evaluation_sql import SetEvaluation, evaluate_profile
from ._faultpoints import kill_point
from ._finance.pricing import PriceBook
from ._jobs import JobResult, JobStatus
from ._models import SoftwareModel
from ._notify import NotifierRegistry
from ._plugins import Spoke
from ._reclaim.confirm import ReconcileReport, recover_locked
from ._reclaim.planning import build_plan, stream_plan
from ._reclaim.reappearance import VerificationReport, verify_reclaims
from ._reclaim.stored import StoredPlan
from ._rules import ReclamationRule
from ._scheduling import record_run, run_lock
from ._spokes import EXPECTED_RECORDS_META, SpokeContext
from ._store import Store
from ._store._sqlite.base import SqliteBaseStore
from ._time import utcnow

__all__ = ["RunReport", "ScheduledRun", "build_plan", "run_profile", "stream_plan"]

log = logging.getLogger("saas_license.pipeline")
T = TypeVar("T")
ProgressCallback = Callable[[str, int], None]


@attrs.frozen(kw_only=True)
class RunReport:
    """What one daily run of one profile did.

    ``plan`` is the run's reclaim plan (dry run), stored under ``plan.id`` as it was built:
    its counts and savings are at hand, its items are read from the store a page at a time
    (``for item in report.plan.items``), so a report costs the same memory with ten
    candidates or half a million (issue 13).
    """

    profile: str
    run_id: str
    jobs: tuple[JobResult, ...]
    verdicts: dict[str, int]
    candidates_created: int
    candidates_canceled: int
    candidates_skipped: int
    plan: StoredPlan
    timeouts: int = 0
    reminders: int = 0
    #: Spoke records the core's boundary checks refused this run (see ``jobs``).
    quarantined: int = 0
    #: What the run's first step found left behind by a dead process (issue 8).
    recovered: ReconcileReport | None = None
    #: Confirmed reclaims this run's download verified, and those whose seats it listed again.
    verification: VerificationReport = attrs.Factory(VerificationReport)

    @property
    def unknown_protection(self) -> int:
        """Seats neither proposed nor reclaimed because a protective field was unknown."""
        return self.verdicts.get(Verdict.UNKNOWN_PROTECTION.value, 0)

    @property
    def ok(self) -> bool:
        """True when every job completed."""
        return all(j.status is not JobStatus.FAILED for j in self.jobs)


@attrs.frozen(kw_only=True)
class ScheduledRun:
    """One profile's outcome in ``run --due`` / ``run --all``.

    ``status`` is ``complete``, ``failed`` (``error`` says why), ``in_progress`` (another
    run of the profile holds its lock, so this one did nothing) or ``taken`` (another worker
    sharing the workspace already ran it this period: nothing to do).
    """

    profile: str
    status: str
    report: RunReport | None = None
    error: str = ""


def _counting(
    items: Iterator[T], counter: list[int], progress: ProgressCallback | None, step: str
) -> Iterator[T]:
    for item in items:
        counter[0] += 1
        if progress is not None and counter[0] % 200 == 0:
            progress(step, counter[0])
        yield item


class _Job:
    """Context manager that records a job result, failed or complete, whatever happens inside."""

    def __init__(
        self,
        store: Store,
        profile: str,
        process: str,
        *,
        dry_run: bool,
        clock: Callable[[], dt.datetime],
        run_id: str | None = None,
        trigger: str = "manual",
    ):
        self.store, self.clock = store, clock
        self.counts: dict[str, int] = {}
        self.job = store.save_job(
            JobResult(
                profile=profile,
                process=process,
                status=JobStatus.RUNNING,
                started_at=clock(),
                dry_run=dry_run,
                run_id=run_id,
                trigger=trigger,
            )
        )

    def __enter__(self) -> _Job:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, _tb: object) -> None:
        status = JobStatus.COMPLETE if exc is None else JobStatus.FAILED
        error = (
            None
            if exc is None
            else (str(exc) if isinstance(exc, SaasLicenseError) else f"{type(exc).__name__}: {exc}")
        )
        self.job = self.store.save_job(
            attrs.evolve(
                self.job,
                status=status,
                finished_at=self.clock(),
                counts=dict(self.counts),
                error=error,
            )
        )


def _download(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    *,
    run_id: str,
    now: dt.datetime,
    job: _Job,
    progress: ProgressCallback | None,
    fence: str | None = None,
) -> None:
    profile = ctx.profile.name
    counter = [0]
    info = spoke.info()
    known = {k.identifier: k for k in info.identifiers}
    expected = _expected_records(store, profile)
    if expected is not None and ctx.expected_records is None:
        ctx = attrs.evolve(ctx, expected_records=expected)
    boundary = BoundaryCheck(
        spoke=spoke.name,
        profile=profile,
        run_id=run_id,
        now=now,
        protective_fields=info.protective_fields,
    )
    # staged outside the write lock, then swapped in by short transactions; a download that
    # fails while staging leaves the store as it was, and only a complete one closes seats
    with store.stage_download(profile, run_id=run_id, fence=fence) as stage:
        stage.add(boundary.filter(_counting(spoke.download(ctx), counter, progress, "download")))
        models_created = rules_created = 0
        rule_models = {r.software_model for r in store.list_reclamation_rules()}
        mapped = store.identifier_map()
        # models first, so the merged seats get theirs as they land
        for identifier in sorted(
            (stage.identifiers - set(mapped)) | set(store.unmapped_identifiers(profile))
        ):
            k = known.get(identifier)
            if k is None:
                continue
            if store.ensure_software_model(
                SoftwareModel(
                    name=k.software_model, publisher=k.publisher, paid=k.paid, created_at=now
                )
            ):
                models_created += 1
            store.map_identifier(identifier, k.software_model)
            if k.paid and k.software_model not in rule_models:
                store.save_reclamation_rule(ReclamationRule(software_model=k.software_model))
                rule_models.add(k.software_model)
                rules_created += 1
        # the download's activity counted as checked in the merge's own write of each seat
        # (the activity step then only counts them); never a seat a quarantined record named
        stage.merge(
            now=now,
            activity_checked=info.activity_from_download and ctx.profile.processes.activity,
            quarantined=boundary.seen,
        )
        # A quarantined record never closes or changes the seat it names.
        store.mark_seen(profile, boundary.seen, run_id=run_id)
        store.add_quarantined(boundary.quarantined)
        closed = stage.close_unseen()
        if counter[0] != expected:  # a complete download: the next one's first wave
            store.set_meta(EXPECTED_RECORDS_META + profile, str(counter[0]))
        job.counts.update(
            records=counter[0],
            created=store.count_created(profile, run_id),
            closed=len(closed),
            models_created=models_created,
            rules_created=rules_created,
            unrecognized=sum(store.unmapped_identifiers(profile).values()),
            quarantined=len(boundary.quarantined),
        )
    for q in boundary.quarantined[:20]:
        log.warning("quarantined a record: %s", q)


def _expected_records(store: Store, profile: str) -> int | None:
    """What the profile's last complete download (or its validation) counted, if anything."""
    raw = store.get_meta(EXPECTED_RECORDS_META + profile)
    try:
        return max(0, int(raw)) if raw is not None else None
    except ValueError:  # never trusted beyond sizing a first wave: unreadable is unknown
        return None


def _activity(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    *,
    run_id: str,
    now: dt.datetime,
    job: _Job,
    progress: ProgressCallback | None,
) -> None:
    since = now - dt.timedelta(days=ctx.profile.activity_look_back_days)
    counter = [0]
    boundary = BoundaryCheck(spoke=spoke.name, profile=ctx.profile.name, run_id=run_id, now=now)
    from_download = 0
    if spoke.info().activity_from_download:
        # the download already carried last activity; count it as checked now
        from_download = store.stamp_activity_checked(ctx.profile.name, run_id=run_id, now=now)
    # in short batches: the vendor's activity stream is never read under the write lock
    read, touched = store.apply_activity(
        ctx.profile.name,
        boundary.filter_activity(
            _counting(spoke.activity(ctx, since), counter, progress, "activity")
        ),
        now=now,
    )
    store.add_quarantined(boundary.quarantined)
    job.counts.update(
        records=from_download + read,
        from_download=from_download,
        subscriptions_updated=from_download + touched,
        quarantined=len(boundary.quarantined),
    )


#: New candidates (with their audit entries) stored per write transaction (~0.1 s of writing:
#: few commits, and the write lock is still free again several times a second).
_CREATE_BATCH = 5000
#: Cancellations or skips (each moved and audited whole) stored per write transaction.
_MOVE_BATCH = 500


class _LazyCandidates:
    """A profile's open candidates, read only if the row-by-row evaluation iterates them."""

    def __init__(self, store: Store, profile: str) -> None:
        self.store, self.profile = store, profile

    def __iter__(self) -> Iterator[RemovalCandidate]:
        return iter(self.store.list_candidates(self.profile, states=OPEN_STATES))


class _LazyCooldowns(Mapping[int, dt.datetime]):
    """A profile's cooldowns, read on first use (the SQL evaluation reads them itself)."""

    def __init__(self, store: Store, profile: str, now: dt.datetime) -> None:
        self.store, self.profile, self.now = store, profile, now
        self._data: dict[int, dt.datetime] | None = None

    def _get(self) -> dict[int, dt.datetime]:
        if self._data is None:
            self._data = self.store.cooldowns(self.profile, now=self.now)
        return self._data

    def __getitem__(self, key: int) -> dt.datetime:
        return self._get()[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _apply_evaluation(workflow: CandidateWorkflow, ev: Evaluation | SetEvaluation) -> int:
    """Store what the evaluation decided: new candidates, cancellations, skips (each audited)."""
    created = 0
    # each batch of new candidates, with their audit entries, is one short transaction
    if isinstance(ev, SetEvaluation):
        for seats in ev.proposed_seats(_CREATE_BATCH):
            created += workflow.create_proposed(seats)
            kill_point("run.created_batch")  # a batch of candidates stored, the next not yet
    else:
        # leavers' seats first (a stable sort: the rest keep the evaluation's order), handed
        # over a batch at a time (no second list of every proposal)
        ordered = sorted(ev.proposals, key=lambda p: reclaim_priority(p.subscription.attributes))
        for n in range(0, len(ordered), _CREATE_BATCH):
            created += len(
                workflow.create_many(
                    [(p.subscription, p.assessment) for p in ordered[n : n + _CREATE_BATCH]]
                )
            )
    # cancellations and skips, a batch per transaction (each move whole, as one move() would be)
    cancels = (
        (c, CandidateEvent.ACTIVITY_RETURNED, f"activity came back ({v.verdict.value})")
        for c, v in ev.to_cancel
    )
    skips = (
        (c, CandidateEvent.VANISHED, "the seat is gone from the vendor")
        if v.verdict is Verdict.INACTIVE_SEAT
        else (c, CandidateEvent.PROTECTED, f"no longer reclaimable ({v.verdict.value})")
        for c, v in ev.to_skip
    )
    for moves in (cancels, skips):
        while moving := list(itertools.islice(moves, _MOVE_BATCH)):
            workflow.move_many(moving, actor="system")
    return created


class AlreadyRanError(RunInProgressError):
    """A scheduled run found its profile already run this period by another worker."""


def _check_still_due(store: Store, profile: str, now: dt.datetime) -> None:
    """Under the run lock: refuse a scheduled run whose jobs another worker already ran."""
    jobs = store.list_schedules(profile)
    if jobs and not any(j.is_due(now) for j in jobs):
        following = min(j.next_run_at for j in jobs)
        raise AlreadyRanError(
            f"profile {profile!r} already ran this period (another worker took it); "
            f"next due {following:%Y-%m-%d %H:%M} UTC",
            hint="nothing to do: its next scheduled run picks it up",
        )


def _evaluate(
    store: Store,
    profile: str,
    *,
    open_candidates: Iterable[RemovalCandidate],
    now: dt.datetime,
    cooldowns: Mapping[int, dt.datetime],
    **kw: Any,
) -> Evaluation | SetEvaluation:
    """Set-based in SQL on the SQLite and PostgreSQL stores (issues 13, 15); :func:`evaluate`
    row by row elsewhere (a store whose parts say ``_set_based_evaluation = False``)."""
    if isinstance(store, SqliteBaseStore) and store._set_based_evaluation:
        try:
            return evaluate_profile(store, profile, now=now, **kw)
        except sqlite3.OperationalError as exc:  # e.g. an SQLite built without JSON functions
            log.warning("set-based evaluation unavailable (%s); evaluating row by row", exc)
    # each seat with its person's ``directory.*`` facts, for rules and approvers
    return evaluate(
        with_directory(store.iter_subscriptions(profile), directory_of(store)),
        open_candidates=open_candidates,
        now=now,
        cooldowns=cooldowns,
        **kw,
    )


def run_profile(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    *,
    policy: EvaluationPolicy | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    progress: ProgressCallback | None = None,
    prices: PriceBook | None = None,
    notifiers: NotifierRegistry | None = None,
    trigger: str = "manual",
    notices: NoticeContext | None = None,
    only_if_due: bool = False,
) -> RunReport:
    """Run one daily cycle of a published profile and plan (never apply) the reclaims.

    With ``only_if_due`` (``run --due``) the profile's schedule is read again once the run
    lock is held: a profile another worker ran meanwhile is not due any more, and this run
    stops with :class:`AlreadyRanError` before doing anything (each profile once per period).

    Holds the profile's run lock throughout (a second run raises :class:`RunInProgressError`).
    A failing step records a failed job and raises; what earlier steps stored stays. Steps
    write in short transactions (so other commands can write meanwhile): a download whose
    listing fails stores nothing, one that fails while merging keeps the whole batches it merged
    and closes nothing; a failing step keeps its committed batches, each whole. The profile's
    schedule moves on either way.
    """
    profile = ctx.profile
    policy = policy or EvaluationPolicy()
    run_id = uuid.uuid4().hex
    now = clock()
    started = now
    jobs: list[JobResult] = []
    workflow = CandidateWorkflow(
        store, notifiers=notifiers, prices=prices, clock=clock, notices=notices
    )
    me = ctx.integration_user_id or profile.integration_user_id

    def step(process: str) -> _Job:
        return _Job(
            store, profile.name, process, dry_run=True, clock=clock, run_id=run_id, trigger=trigger
        )

    info = spoke.info()
    with run_lock(store, profile.name, now=now, ttl=policy.run_lock_ttl) as lock:
        if only_if_due:
            _check_still_due(store, profile.name, now)
        status = JobStatus.FAILED
        try:
            # What a dead process left: abandoned jobs, reclaims of unknown outcome (issue 8).
            recovered = recover_locked(store, spoke, ctx, workflow=workflow, policy=policy)
            with step("download") as job:
                _download(
                    store,
                    spoke,
                    ctx,
                    run_id=run_id,
                    now=now,
                    job=job,
                    progress=progress,
                    fence=lock.owner,
                )
                verification = _verify(store, workflow, profile.name, now, run_id, job)
            jobs.append(job.job)
            kill_point("run.after_download")
            if profile.processes.activity:
                with step("activity") as job:
                    _activity(
                        store, spoke, ctx, run_id=run_id, now=clock(), job=job, progress=progress
                    )
                jobs.append(job.job)
                kill_point("run.after_activity")
            with step("evaluate") as job:
                now = clock()
                ev = _evaluate(
                    store,
                    profile.name,
                    open_candidates=_LazyCandidates(store, profile.name),
                    now=now,
                    profile_type=profile.profile_type,
                    exclusions=store.list_exclusion_rules(),
                    rules=store.list_reclamation_rules(),
                    integration_user_id=me,
                    policy=policy,
                    cooldowns=_LazyCooldowns(store, profile.name, now),
                    protective_fields=info.protective_fields,
                )
                created = _apply_evaluation(workflow, ev)
                kill_point("run.in_evaluate")  # candidates stored, the job still running
                timeouts, reminders = workflow.advance(profile.name)
                verdicts = dict(ev.verdicts)
                canceled, skipped = len(ev.to_cancel), len(ev.to_skip)
                job.counts.update(
                    created=created,
                    canceled=canceled,
                    skipped=skipped,
                    unchanged=(
                        ev.still_idle if isinstance(ev, SetEvaluation) else len(ev.still_idle)
                    ),
                    timeouts=timeouts,
                    reminders=reminders,
                    **{f"verdict_{k}": v for k, v in verdicts.items()},
                )
                del ev  # its proposals hold every new candidate's seat; free them before planning
            jobs.append(job.job)
            kill_point("run.after_evaluate")
            status = JobStatus.COMPLETE
        except BaseException:
            log.debug("run %s of %s failed", run_id, profile.name, exc_info=True)
            raise
        finally:
            record_run(store, profile, started=started, status=status, retry=policy.job_retry)
    plan = stream_plan(
        store,
        profile,
        now=now,
        plan_id=secrets.token_hex(6),
        expires_at=now + policy.plan_ttl,
        action=spoke.info().reclaim_effect,
        policy=policy,
        prices=prices,
        integration_user_id=me,
        scope=info.reclaim_scope,
        protective_fields=info.protective_fields,
    )
    return RunReport(
        profile=profile.name,
        run_id=run_id,
        jobs=tuple(jobs),
        verdicts=verdicts,
        candidates_created=created,
        candidates_canceled=canceled,
        candidates_skipped=skipped,
        plan=plan,
        timeouts=timeouts,
        reminders=reminders,
        quarantined=sum(j.counts.get("quarantined", 0) for j in jobs),
        recovered=recovered,
        verification=verification,
    )


def _verify(
    store: Store,
    workflow: CandidateWorkflow,
    profile: str,
    now: dt.datetime,
    run_id: str,
    job: _Job,
) -> VerificationReport:
    """After a complete download: confirmed reclaims verified, or flagged as reappeared."""
    report = verify_reclaims(
        store,
        workflow,
        profile,
        seen_at=now,
        run_id=run_id,
        trusted=not job.counts.get("quarantined"),
    )
    job.counts.update(reclaims_verified=report.verified, reclaims_reappeared=len(report.reappeared))
    return report
