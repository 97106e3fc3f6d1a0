"""The daily pipeline of one profile: download → activity → evaluate → plan, each a recorded job."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import attrs

from ._plugins import Spoke
from ._time import utcnow
from .audit import AuditEntry
from .candidates import OPEN_STATES, CandidateState, RemovalCandidate
from .errors import SaasLicenseError
from .evaluation import Evaluation, EvaluationPolicy, evaluate
from .jobs import JobResult, JobStatus
from .profiles import IntegrationProfile
from .reclaim import PLANNABLE_STATES, PlanItem, ReclaimPlan
from .rules import ReclamationRule
from .spokes import SpokeContext
from .store import Store
from .subscriptions import SoftwareModel

__all__ = ["RunReport", "build_plan", "run_profile"]

log = logging.getLogger("saas_license.pipeline")
T = TypeVar("T")
ProgressCallback = Callable[[str, int], None]


@attrs.frozen(kw_only=True)
class RunReport:
    """What one daily run of one profile did."""

    profile: str
    run_id: str
    jobs: tuple[JobResult, ...]
    verdicts: dict[str, int]
    candidates_created: int
    candidates_canceled: int
    candidates_skipped: int
    plan: ReclaimPlan

    @property
    def ok(self) -> bool:
        """True when every job completed."""
        return all(j.status is not JobStatus.FAILED for j in self.jobs)


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
) -> None:
    profile = ctx.profile.name
    counter = [0]
    info = spoke.info()
    known = {k.identifier: k for k in info.identifiers}
    with store.transaction():  # all or nothing: a failed download leaves the store as it was
        store.upsert_subscriptions(
            profile,
            _counting(spoke.download(ctx), counter, progress, "download"),
            run_id=run_id,
            now=now,
        )
        closed = store.close_unseen(profile, run_id=run_id)
        models_created = rules_created = 0
        rule_models = {r.software_model for r in store.list_reclamation_rules()}
        for identifier in store.unmapped_identifiers(profile):
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
        job.counts.update(
            records=counter[0],
            created=store.count_created(profile, run_id),
            closed=len(closed),
            models_created=models_created,
            rules_created=rules_created,
            unrecognized=sum(store.unmapped_identifiers(profile).values()),
        )


def _activity(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    *,
    now: dt.datetime,
    job: _Job,
    progress: ProgressCallback | None,
) -> None:
    since = now - dt.timedelta(days=ctx.profile.activity_look_back_days)
    counter = [0]
    with store.transaction():
        read, touched = store.apply_activity(
            ctx.profile.name,
            _counting(spoke.activity(ctx, since), counter, progress, "activity"),
            now=now,
        )
    job.counts.update(records=read, subscriptions_updated=touched)


def _close(
    store: Store, candidate: RemovalCandidate, state: CandidateState, reason: str, now: dt.datetime
) -> None:
    closed = attrs.evolve(candidate, state=state, closed_at=now, message=reason)
    store.update_candidate(closed)
    store.append_audit(
        AuditEntry(
            at=now,
            actor="system",
            action=f"candidate.{state.value}",
            entity="candidate",
            entity_id=str(candidate.id),
            profile=candidate.profile,
            before={"state": candidate.state.value},
            after={"state": state.value},
            detail=reason,
        )
    )


def _apply_evaluation(
    store: Store, profile: IntegrationProfile, ev: Evaluation, now: dt.datetime
) -> int:
    created = 0
    with store.transaction():
        for proposal in ev.proposals:
            sub, verdict = proposal.subscription, proposal.assessment
            rule = verdict.rule
            notify = bool(rule and rule.notify_user)
            state = (
                CandidateState.ATTENTION_REQUIRED
                if notify and "@" not in sub.user_principal_name
                else CandidateState.READY
            )
            candidate = store.add_candidate(
                RemovalCandidate(
                    subscription_id=sub.id,
                    profile=profile.name,
                    external_user_id=sub.external_user_id,
                    user_principal_name=sub.user_principal_name,
                    identifier=sub.identifier,
                    software_model=sub.software_model,
                    state=state,
                    inactive_days=verdict.inactive_days or 0,
                    last_activity=sub.last_activity,
                    opened_at=now,
                    rule_id=rule.id if rule else None,
                    notify_user=notify,
                    message=f"no activity for {verdict.inactive_days} days (rule: {rule.inactivity_days if rule else '?'})",
                )
            )
            store.append_audit(
                AuditEntry(
                    at=now,
                    actor="system",
                    action="candidate.created",
                    entity="candidate",
                    entity_id=str(candidate.id),
                    profile=profile.name,
                    before=None,
                    after={
                        "state": state.value,
                        "subscription_id": sub.id,
                        "inactive_days": candidate.inactive_days,
                    },
                )
            )
            created += 1
        for candidate, verdict in ev.to_cancel:
            _close(
                store,
                candidate,
                CandidateState.CLOSED_CANCELED,
                f"activity came back ({verdict.verdict.value})",
                now,
            )
        for candidate, verdict in ev.to_skip:
            _close(
                store,
                candidate,
                CandidateState.CLOSED_SKIPPED,
                f"no longer reclaimable ({verdict.verdict.value})",
                now,
            )
    return created


def build_plan(
    store: Store, profile: IntegrationProfile, *, now: dt.datetime, action: str = "reclaim"
) -> ReclaimPlan:
    """The reclaim plan of ``profile``: its open candidates that the next applied run would act on."""
    items = []
    for candidate in store.list_candidates(profile.name, states=PLANNABLE_STATES):
        sub = store.get_subscription(candidate.subscription_id)
        if sub is None or not sub.active:
            continue
        items.append(
            PlanItem(
                candidate=candidate,
                subscription=sub,
                action=action,
                potential_savings=candidate.potential_savings,
            )
        )
    return ReclaimPlan(
        profile=profile.name,
        created_at=now,
        items=tuple(items),
        reclaim_enabled=profile.processes.reclaim,
    )


def run_profile(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    *,
    policy: EvaluationPolicy | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Run one daily cycle of a published profile and plan (never apply) the reclaims.

    A failing step records a failed job and raises; what earlier steps stored stays, and the
    failed step's own writes are rolled back.
    """
    profile = ctx.profile
    policy = policy or EvaluationPolicy()
    run_id = uuid.uuid4().hex
    now = clock()
    jobs: list[JobResult] = []

    def step(process: str) -> _Job:
        return _Job(store, profile.name, process, dry_run=True, clock=clock)

    try:
        with step("download") as job:
            _download(store, spoke, ctx, run_id=run_id, now=now, job=job, progress=progress)
        jobs.append(job.job)
        if profile.processes.activity:
            with step("activity") as job:
                _activity(store, spoke, ctx, now=clock(), job=job, progress=progress)
            jobs.append(job.job)
        with step("evaluate") as job:
            now = clock()
            ev = evaluate(
                store.iter_subscriptions(profile.name),
                open_candidates=store.list_candidates(profile.name, states=OPEN_STATES),
                now=now,
                profile_type=profile.profile_type,
                exclusions=store.list_exclusion_rules(),
                rules=store.list_reclamation_rules(),
                integration_user_id=ctx.integration_user_id or profile.integration_user_id,
                policy=policy,
            )
            created = _apply_evaluation(store, profile, ev, now)
            job.counts.update(
                created=created,
                canceled=len(ev.to_cancel),
                skipped=len(ev.to_skip),
                unchanged=len(ev.still_idle),
                **{f"verdict_{k}": v for k, v in ev.verdicts.items()},
            )
        jobs.append(job.job)
    except BaseException:
        log.debug("run %s of %s failed", run_id, profile.name, exc_info=True)
        raise
    plan = build_plan(store, profile, now=now, action=spoke.info().reclaim_effect)
    return RunReport(
        profile=profile.name,
        run_id=run_id,
        jobs=tuple(jobs),
        verdicts=dict(ev.verdicts),
        candidates_created=created,
        candidates_canceled=len(ev.to_cancel),
        candidates_skipped=len(ev.to_skip),
        plan=plan,
    )
