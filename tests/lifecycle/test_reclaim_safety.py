"""Issue 8, items 1-5: fresh facts before every reclaim, fail-safe on missing data, checks at the
core's boundary, the spoke's reclaim scope, and outcomes that are read, never guessed.

Every test asserts on the *vendor's* state (the sandbox's own user records), not only the
workspace's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs
import pytest

from saas_license import (
    ActivityRecord,
    CandidateState,
    CurrentUser,
    ExclusionRule,
    JobResult,
    JobStatus,
    ReclaimStatus,
    ServerError,
    SpokeContext,
    SpokeError,
    Subscription,
    SubscriptionRecord,
)
from saas_license._time import format_instant
from saas_license.audit import AuditEntry
from saas_license.lifecycle import CandidateEvent
from saas_license.scheduling import run_lock

from .conftest import Harness


def _disabled(h: Harness) -> set[str]:
    """Users disabled at the vendor (the sandbox's own records)."""
    return {u["id"] for u in h.sandbox.users() if not u["enabled"]}


def _outcome(report: object, uid: str) -> str:
    outcomes = report.outcomes  # type: ignore[attr-defined]
    found = {o.outcome for o in outcomes if o.user_principal_name.startswith(_EMAILS[uid])}
    assert len(found) == 1, found
    return found.pop()


_EMAILS = {"2001": "ana", "2002": "ben", "2003": "cy", "2004": "dee", "2005": "eli", "2006": "fay"}
PLANNED = {"2001", "2002", "2003", "2004", "2005", "2006"}


# -- 1. fresh facts -----------------------------------------------------------------------------


def test_activity_after_the_plan_cancels_with_no_run_in_between(harness: Harness) -> None:
    ws = harness.ws
    ws.run("aha")
    plan = ws.plan("aha")
    assert {i.subscription.external_user_id for i in plan.reclaims} == PLANNED
    harness.touch("2001")  # ana signs in after the plan: only the vendor knows
    harness.touch("2002")
    report = ws.apply(plan.id or "")
    assert _outcome(report, "2001") == _outcome(report, "2002") == "canceled"
    assert _disabled(harness) == PLANNED - {"2001", "2002"}
    assert {s.external_user_id for s in harness.spoke.reclaims} == PLANNED - {"2001", "2002"}
    for o in report.outcomes:
        if o.outcome == "canceled":
            assert ws.candidate(o.candidate_id).state is CandidateState.CLOSED_CANCELED


def test_a_seat_that_changed_at_the_vendor_holds_the_user(harness: Harness) -> None:
    ws = harness.ws
    ws.run("aha")
    plan = ws.plan("aha")
    harness.set_vendor("2001", develop_seat=True)  # a new seat the plan does not cover
    harness.set_vendor("2002", develop_seat=False)  # a planned seat gone
    report = ws.apply(plan.id or "")
    assert _outcome(report, "2001") == _outcome(report, "2002") == "held"
    assert not {"2001", "2002"} & _disabled(harness)


def test_a_failing_fresh_read_holds_and_never_reclaims(harness: Harness) -> None:
    ws = harness.ws
    ws.run("aha")
    plan = ws.plan("aha")
    harness.spoke.read_fails = ServerError("GET /api/v1/users/x answered 503")
    report = ws.apply(plan.id or "")
    assert {o.outcome for o in report.outcomes} <= {"held", "deferred"}
    assert "stopped after 3 vendor failures" in report.halted
    assert _disabled(harness) == set() and not harness.spoke.reclaims


# -- 2. missing data ----------------------------------------------------------------------------


def _drop(uid: str, *fields: str):  # type: ignore[no-untyped-def]
    """The vendor stops reporting ``fields`` for one user (dropped or null protective fields)."""

    def transform(r: SubscriptionRecord) -> SubscriptionRecord:
        if r.external_user_id != uid:
            return r
        attributes = {k: v for k, v in r.attributes.items() if k not in fields}
        return attrs.evolve(
            r,
            attributes=attributes,
            last_activity=None if "last_activity" in fields else r.last_activity,
            unknown=r.unknown | set(fields),
        )

    return transform


def test_an_unknown_admin_field_is_never_proposed_and_is_reported(harness: Harness) -> None:
    ws = harness.ws
    harness.spoke.transform = _drop("2007", "administrator")  # gus: an idle administrator
    report = ws.run("aha")
    assert report.unknown_protection == 1
    assert report.verdicts["unknown_protection"] == 1
    assert "2007" not in {i.subscription.external_user_id for i in report.plan.items}
    ws.apply(ws.plan("aha").id or "")
    assert "2007" not in _disabled(harness)


def test_protection_turning_unknown_between_plan_and_apply_holds(harness: Harness) -> None:
    ws = harness.ws
    ws.run("aha")
    plan = ws.plan("aha")
    harness.spoke.transform = _drop("2003", "administrator")
    report = ws.apply(plan.id or "")
    assert _outcome(report, "2003") == "held"
    assert "unknown_protection" in next(
        o.message for o in report.outcomes if o.user_principal_name.startswith("cy")
    )
    assert "2003" not in _disabled(harness)


def test_unknown_last_activity_keeps_the_known_one_and_is_not_checked(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    ws.run("aha")
    (before,) = [s for s in ws.subscriptions("aha") if s.external_user_id == "2001"]
    assert before.last_activity is not None
    clock.advance(hours=1)
    harness.spoke.transform = _drop("2001", "last_activity")
    report = ws.run("aha")
    (after,) = [s for s in ws.subscriptions("aha") if s.external_user_id == "2001"]
    assert after.last_activity == before.last_activity  # never "never active"
    assert after.activity_checked_at == before.activity_checked_at  # not checked this time
    assert "last_activity" in after.unknown
    assert "2001" not in {i.subscription.external_user_id for i in report.plan.items}
    ws.apply(report.plan.id or ws.plan("aha").id or "")
    assert "2001" not in _disabled(harness)


# -- 3. the core's boundary ---------------------------------------------------------------------


def test_bad_records_are_quarantined_and_never_change_their_seat(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    ws.run("aha")
    (ana,) = [s for s in ws.subscriptions("aha") if s.external_user_id == "2001"]
    clock.advance(hours=1)
    naive = clock.now.replace(tzinfo=None)

    def corrupt(r: SubscriptionRecord) -> SubscriptionRecord:
        if r.external_user_id == "2001":
            return attrs.evolve(r, last_activity=naive, attributes={"administrator": "no"})
        return r

    harness.spoke.transform = corrupt
    good = SubscriptionRecord(
        external_user_id="9001", user_principal_name="new@acme.test", identifier="aha.roadmaps"
    )
    harness.spoke.extra = [
        good,
        good,  # the same seat twice
        attrs.evolve(good, external_user_id="9002", user_principal_name=" "),
        attrs.evolve(good, external_user_id="9003", last_activity=clock.now.replace(year=2030)),
        attrs.evolve(good, external_user_id="9004", attributes={"when": clock.now}),
    ]
    report = ws.run("aha")
    assert report.ok and report.quarantined == 5
    found = {(q.external_user_id, q.field) for q in ws.quarantined("aha")}
    assert found == {
        ("2001", "last_activity"),
        ("9001", "identifier"),
        ("9002", "user_principal_name"),
        ("9003", "last_activity"),
        ("9004", "attributes"),
    }
    assert all(q.spoke == "aha" for q in ws.quarantined("aha"))
    (still,) = [s for s in ws.subscriptions("aha") if s.external_user_id == "2001"]
    assert still.active and still.attributes == ana.attributes  # not closed, not changed
    assert still.activity_checked_at == ana.activity_checked_at  # its activity was not checked
    assert {s.external_user_id for s in ws.subscriptions("aha")} >= {"9001"}
    assert not {"9002", "9003", "9004"} & {s.external_user_id for s in ws.subscriptions("aha")}


def test_an_ordinary_exception_in_a_spoke_is_one_line_naming_it(harness: Harness) -> None:
    def broken(_r: SubscriptionRecord) -> SubscriptionRecord:
        raise KeyError("administrator_roles")

    harness.spoke.transform = broken
    with pytest.raises(SpokeError) as info:
        harness.ws.run("aha")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("spoke 'aha' failed in saas_license_download_subscriptions: KeyError")
    (job,) = [j for j in harness.ws.jobs("aha") if j.process == "download"]
    assert job.status is JobStatus.FAILED and "spoke 'aha' failed" in (job.error or "")


# -- 4. reclaim scope ---------------------------------------------------------------------------


def test_one_idle_seat_and_one_excluded_seat_of_one_user_disable_nothing(harness: Harness) -> None:
    """The exact regression: ben holds Roadmaps (idle) and Develop (excluded from reclaim)."""
    ws = harness.ws
    ws.store.add_exclusion_rule(
        ExclusionRule(
            kind="identifier",
            value="aha.develop",
            profile_type="Aha! Subscription",
            effect="reclaim",
        )
    )
    report = ws.run("aha")
    ben = [c for c in ws.candidates("aha") if c.external_user_id == "2002"]
    assert [c.identifier for c in ben] == ["aha.roadmaps"]  # the idle seat is a candidate
    assert "2002" not in {i.subscription.external_user_id for i in report.plan.reclaims}
    ws.apply(ws.plan("aha").id or "")
    assert "2002" not in _disabled(harness)
    assert "2002" not in {s.external_user_id for s in harness.spoke.reclaims}


def test_an_exclusion_added_after_the_plan_holds_the_whole_user(harness: Harness) -> None:
    ws = harness.ws
    ws.run("aha")
    plan = ws.plan("aha")
    ws.store.add_exclusion_rule(
        ExclusionRule(
            kind="identifier",
            value="aha.develop",
            profile_type="Aha! Subscription",
            effect="reclaim",
        )
    )
    report = ws.apply(plan.id or "")
    assert "reclaimed" not in {
        o.outcome for o in report.outcomes if o.user_principal_name.startswith("ben")
    }
    assert "2002" not in _disabled(harness)


# -- 5. outcomes never guessed ------------------------------------------------------------------


def test_a_lost_answer_and_a_failing_confirming_read_is_unknown_then_resolved(
    harness: Harness,
) -> None:
    ws = harness.ws
    ws.run("aha")
    plan = ws.plan("aha")
    spoke = harness.spoke
    spoke.lose_answers = {"2001"}

    def confirm_fails(_ctx: SpokeContext, sub: Subscription) -> None:
        if sub.external_user_id == "2001":  # after the fresh read, before the PUT
            spoke.read_fails = ServerError("GET /api/v1/users/2001 answered 503")
        else:
            spoke.read_fails = None

    spoke.check = confirm_fails
    report = ws.apply(plan.id or "")
    assert _outcome(report, "2001") == "unknown"
    assert "2001" in _disabled(harness)  # the vendor did act
    (cand,) = [c for c in ws.candidates("aha") if c.external_user_id == "2001"]
    assert cand.state is CandidateState.AWAITING_REVOCATION
    (action,) = [a for a in ws.reclaim_actions("aha") if a.external_user_id == "2001"]
    assert action.status == ReclaimStatus.UNKNOWN.value
    assert "vendor.reclaim.unknown" in {e.action for e in ws.audit(profile="aha")}
    # a new plan holds it rather than re-sending it
    again = ws.plan("aha")
    assert cand.id in {h.candidate.id for h in again.held}
    # one recovery step reads the vendor
    spoke.read_fails, spoke.check = None, None
    recovered = ws.reconcile_reclaims("aha")
    assert [(r.previous, r.status) for r in recovered.resolved] == [("unknown", "success")]
    closed = ws.candidate(cand.id or 0)
    assert closed.state is CandidateState.CLOSED_COMPLETE and closed.reclaim_id == action.id
    assert [s.external_user_id for s in spoke.reclaims].count("2001") == 1  # never re-sent
    assert ws.undo(cand.id or 0).status is ReclaimStatus.SUCCESS
    assert "2001" not in _disabled(harness)


def test_an_exception_before_the_request_then_a_failing_read_resolves_to_failed(
    harness: Harness,
) -> None:
    ws = harness.ws
    ws.run("aha")
    plan = ws.plan("aha")
    spoke = harness.spoke

    def explode(_ctx: SpokeContext, sub: Subscription) -> None:
        if sub.external_user_id == "2003":
            spoke.read_fails = ServerError("503")
            raise RuntimeError("connection reset")
        spoke.read_fails = None

    spoke.check = explode
    report = ws.apply(plan.id or "")
    assert _outcome(report, "2003") == "unknown"
    assert "2003" not in _disabled(harness)
    spoke.read_fails, spoke.check = None, None
    report2 = ws.run("aha")  # the next run resolves it first
    assert report2.recovered is not None
    assert [(r.previous, r.status) for r in report2.recovered.resolved] == [("unknown", "failed")]
    (cand,) = [c for c in ws.candidates("aha") if c.external_user_id == "2003"]
    assert cand.state is CandidateState.ATTENTION_REQUIRED
    assert "2003" not in _disabled(harness)


def test_a_spoke_success_the_confirming_read_contradicts_is_unknown(harness: Harness) -> None:
    ws = harness.ws
    ws.run("aha")
    plan = ws.plan("aha")
    ana = SubscriptionRecord(
        external_user_id="2001",
        user_principal_name="ana@acme.test",
        identifier="aha.roadmaps",
        attributes={"administrator": False},
    )

    def stale(current: CurrentUser) -> CurrentUser:
        # a lagging replica: after the disable, the user still shows the seat
        if current.external_user_id == "2001" and "2001" in _disabled(harness):
            return attrs.evolve(current, seats=(ana,))
        return current

    harness.spoke.override = stale
    report = ws.apply(plan.id or "")
    assert _outcome(report, "2001") == "unknown"
    assert "still shows aha.roadmaps" in next(
        o.message for o in report.outcomes if o.user_principal_name.startswith("ana")
    )
    harness.spoke.override = None
    assert [r.status for r in ws.reconcile_reclaims("aha").resolved] == ["success"]


def test_jobs_of_a_dead_process_are_abandoned_by_the_next_run(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    dead = ws.store.save_job(
        JobResult(profile="aha", process="download", status=JobStatus.RUNNING, started_at=clock.now)
    )
    report = ws.run("aha")
    assert report.recovered is not None and report.recovered.abandoned_jobs == 1
    (job,) = [j for j in ws.jobs("aha") if j.id == dead.id]
    assert job.status is JobStatus.ABANDONED and "died" in (job.error or "")
    assert all(j.status is not JobStatus.RUNNING for j in ws.jobs("aha"))


def test_an_orphaned_requested_audit_entry_is_resolved_and_undo_works(harness: Harness) -> None:
    """An older version audited the request and died before recording anything else."""
    ws, clock = harness.ws, harness.clock
    ws.run("aha")
    (cand,) = [c for c in ws.candidates("aha") if c.external_user_id == "2004"]
    cand = ws.workflow.move(cand, CandidateEvent.START, actor="user", reason="by hand")
    assert cand.state is CandidateState.AWAITING_REVOCATION
    ws.store.append_audit(
        AuditEntry(
            at=clock.now,
            actor="user",
            action="vendor.reclaim.requested",
            entity="user",
            entity_id="2004",
            profile="aha",
            before={"active": True},
            after={"candidate_ids": [cand.id], "plan_id": "old"},
            detail="disable user: dee@partner.test",
        )
    )
    harness.set_vendor("2004", enabled=False)  # the request did reach Aha!
    recovered = ws.reconcile_reclaims("aha")
    assert [(r.previous, r.status) for r in recovered.resolved] == [("requested", "success")]
    assert ws.candidate(cand.id or 0).state is CandidateState.CLOSED_COMPLETE
    assert ws.undo(cand.id or 0).status is ReclaimStatus.SUCCESS
    assert "2004" not in _disabled(harness)
    assert format_instant(clock.now)  # the clock did not move: nothing waited


def test_jobs_of_a_dead_process_show_as_abandoned_without_a_run(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    dead = ws.store.save_job(
        JobResult(profile="aha", process="reclaim", status=JobStatus.RUNNING, started_at=clock.now)
    )
    (job,) = [j for j in ws.jobs("aha") if j.id == dead.id]
    assert job.status is JobStatus.ABANDONED  # no live process holds the profile's run lock
    alive = ws.store.save_job(attrs.evolve(dead, id=None, status=JobStatus.RUNNING))
    with run_lock(ws.store, "aha", now=clock.now, ttl=dt.timedelta(hours=1)):  # a live run
        (job,) = [j for j in ws.jobs("aha") if j.id == alive.id]
        assert job.status is JobStatus.RUNNING


def test_bad_activity_records_are_quarantined_too(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    ws.run("aha")
    (before,) = [s for s in ws.subscriptions("aha") if s.external_user_id == "2003"]

    def activity(context: SpokeContext, since: dt.datetime) -> Iterator[ActivityRecord]:
        yield ActivityRecord(external_user_id="2003", last_activity=clock.now.replace(year=2099))
        yield ActivityRecord(external_user_id="", last_activity=clock.now)
        yield ActivityRecord(external_user_id="2003", last_activity=clock.now.replace(tzinfo=None))

    harness.spoke.activity_override = activity
    try:
        report = ws.run("aha")
    finally:
        harness.spoke.activity_override = None
    assert report.quarantined == 3
    (after,) = [s for s in ws.subscriptions("aha") if s.external_user_id == "2003"]
    assert after.last_activity == before.last_activity  # a future date never made it "active"
