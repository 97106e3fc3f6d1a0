"""Plan, apply (cap, kill switch, one call per user), undo, savings and the audit trail of vendor calls."""

from __future__ import annotations

import datetime as dt
import os
import socket
from decimal import Decimal

import httpx
import pytest

from saas_license import (
    CandidateState,
    ConfigError,
    HttpOptions,
    JobStatus,
    ProfileStateError,
    RunInProgressError,
    Subscription,
    UnitPrice,
    Verdict,
)
from saas_license._jobs import RunLock
from saas_license._reclaim.records import PlanAction
from saas_license.spoke import ReclaimStatus, SpokeContext

from .conftest import SMALL_ACCOUNT_CANDIDATES, Harness


class Prices:
    """A price book: Roadmaps seats cost 120.00 EUR a year, Develop 60.00 USD, the rest unknown."""

    def unit_price(self, software_model: str, *, at: dt.datetime) -> UnitPrice | None:
        return {
            "Aha! Roadmaps": UnitPrice(amount=Decimal("120.00"), currency="EUR"),
            "Aha! Develop": UnitPrice(amount=Decimal("60.00"), currency="USD"),
        }.get(software_model)


def _disabled(h: Harness) -> set[str]:
    return {u["id"] for u in h.sandbox.users() if not u["enabled"]}


def test_the_plan_is_exactly_what_apply_does(harness: Harness) -> None:
    ws = harness.ws
    ws.prices = Prices()
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    assert plan.id and plan.expires_at == harness.clock.now + ws.policy.plan_ttl
    users = {i.subscription.external_user_id for i in plan.reclaims}
    # idle, not admin, not the integration user, not active recently
    assert users == {"2001", "2002", "2003", "2004", "2005", "2006"}
    assert plan.savings_by_currency == {"EUR": Decimal("720.00"), "USD": Decimal("60.00")}
    assert ws.candidates.query("aha") == [
        i.candidate for i in plan.items
    ]  # planning changed nothing
    assert _disabled(harness) == set()
    report = ws.plans.apply(plan.id or "")
    assert report.counts == {"reclaimed": len(plan.reclaims)}
    assert {o.candidate_id for o in report.outcomes} == {i.candidate.id for i in plan.items}
    assert _disabled(harness) == users
    # one vendor call per user: ben (2002) and fay (2006) hold two seats each
    assert sorted(s.external_user_id for s in harness.spoke.reclaims) == sorted(users)
    by_user: dict[str, set[int | None]] = {}
    for c in ws.candidates.query("aha"):
        assert c.state is CandidateState.CLOSED_COMPLETE and c.reclaimed
        by_user.setdefault(c.external_user_id, set()).add(c.reclaim_id)
    assert all(len(ids) == 1 for ids in by_user.values())
    assert report.savings_by_currency == plan.savings_by_currency
    savings = ws.finance.savings("aha")
    assert savings.actual == {"EUR": Decimal("720.00"), "USD": Decimal("60.00")}
    assert savings.reclaimed_seats == 8 and savings.reclaimed_unpriced == 1  # Teamwork: no price
    assert all(isinstance(v, Decimal) for v in savings.actual.values())
    job = ws.jobs.query("aha")[0]
    assert (job.process, job.status, job.dry_run, job.run_id) == (
        "reclaim",
        JobStatus.COMPLETE,
        False,
        plan.id,
    )
    with pytest.raises(ProfileStateError, match="already applied"):
        ws.plans.apply(plan.id or "")


def test_vendor_calls_are_audited_before_and_after(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    ws.plans.apply(plan.id or "", cap=1)
    entries = ws.audit.query(action="vendor.")
    assert [e.action for e in entries] == ["vendor.reclaim.requested", "vendor.reclaim.success"]
    requested, done = entries
    assert requested.entity == "user" and requested.after is not None
    assert requested.after["plan_id"] == plan.id and requested.actor == "user"
    assert done.before == {"enabled": True, "paid_seat": True, "administrator": False}
    assert done.after is not None and done.after["enabled"] is False
    assert requested.id is not None and done.id is not None and requested.id < done.id


def test_a_user_with_a_seat_that_is_not_idle_is_held(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    ws.rules.set_reclamation("Aha! Develop", inactivity_days=365)  # ben's Develop seat is in use
    ws.jobs.run("aha")  # the Develop candidate is canceled
    plan = ws.plans.create("aha")
    held = {h.candidate.user_principal_name: h.reason for h in plan.held}
    assert "aha.develop" in held["ben@acme.test"] and "would take too" in held["ben@acme.test"]
    assert "2002" not in {i.subscription.external_user_id for i in plan.items}
    ws.plans.apply(plan.id or "")
    assert "2002" not in _disabled(harness)


def test_the_cap_is_a_kill_switch(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    report = ws.plans.apply(ws.plans.create("aha").id or "", cap=0)
    assert set(report.counts) == {"deferred"} and not harness.spoke.reclaims
    report = ws.plans.apply(ws.plans.create("aha").id or "", cap=3)
    assert report.reclaimed == 3
    assert report.counts == {"reclaimed": 3, "deferred": SMALL_ACCOUNT_CANDIDATES - 3}
    assert "cap of 3" in next(o.message for o in report.outcomes if o.outcome == "deferred")
    assert len(_disabled(harness)) == len(harness.spoke.reclaims) <= 3
    with pytest.raises(ConfigError, match="cap"):
        ws.plans.apply(ws.plans.create("aha").id or "", cap=-1)


def test_vendor_failures_go_to_attention_required_and_halt_the_run(harness: Harness) -> None:
    ws, sandbox = harness.ws, harness.sandbox

    def refuse_writes(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(422, json={"errors": [{"message": "User is locked by billing"}]})
        return sandbox(request)

    ws.jobs.run("aha")
    ws.http = HttpOptions(transport=httpx.MockTransport(refuse_writes), rate_limit=False)
    report = ws.plans.apply(ws.plans.create("aha").id or "")
    failed = [o for o in report.outcomes if o.outcome == "failed"]
    assert len({o.user_principal_name for o in failed}) == 3  # three users in a row, then stop
    assert "locked by billing" in failed[0].message
    assert report.halted.startswith("stopped after 3 vendor failures")
    assert {o.outcome for o in report.outcomes} == {"failed", "deferred"}
    attention = ws.candidates.query("aha", states={CandidateState.ATTENTION_REQUIRED})
    assert attention and all("locked by billing" in c.message for c in attention)
    assert ws.jobs.query("aha")[0].error == report.halted
    # fixed at the vendor: resolve, plan again, apply
    ws.http = HttpOptions(transport=sandbox.transport(), rate_limit=False)
    for c in attention:
        ws.candidates.resolve(c.id or 0)
    assert ws.plans.apply(ws.plans.create("aha").id or "").counts == {"reclaimed": 8}


def test_made_admin_after_the_plan_is_skipped_before_the_vendor_is_asked(
    harness: Harness,
) -> None:
    """The fresh read right before the reclaim sees the new administrator (no run in between)."""
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    harness.set_vendor("2003", administrator=True)  # made admin since the last download
    report = ws.plans.apply(plan.id or "")
    (skipped,) = [o for o in report.outcomes if o.outcome == "skipped"]
    assert skipped.user_principal_name == "cy@acme.test" and "administrator" in skipped.message
    assert ws.candidates.get(skipped.candidate_id).state is CandidateState.CLOSED_SKIPPED
    assert "2003" not in {s.external_user_id for s in harness.spoke.reclaims}
    assert "2003" not in _disabled(harness)


def test_the_spoke_refusing_closes_the_candidate_as_skipped(harness: Harness) -> None:
    """A spoke's own refusal (here: the fresh read missed it, the spoke's check did not)."""
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")

    def promote(_ctx: SpokeContext, sub: Subscription) -> None:
        if sub.external_user_id == "2003":
            harness.set_vendor("2003", administrator=True)  # between the fresh read and the PUT

    harness.spoke.check = promote
    report = ws.plans.apply(plan.id or "")
    (refused,) = [o for o in report.outcomes if o.outcome == "refused"]
    assert "administrator" in refused.message
    assert ws.candidates.get(refused.candidate_id).state is CandidateState.CLOSED_SKIPPED
    assert "2003" not in _disabled(harness)


def test_apply_refuses_when_it_must(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    ws.jobs.run("aha")
    with pytest.raises(ConfigError, match="no reclaim plan with id 'nope'"):
        ws.plans.apply("nope")
    plan = ws.plans.create("aha")
    ws.profiles.update("aha", reclaim=False)
    with pytest.raises(ProfileStateError, match="reclaim process off"):
        ws.plans.apply(plan.id or "")
    assert not harness.spoke.reclaims
    ws.profiles.update("aha", reclaim=True)
    clock.advance(hours=25)
    with pytest.raises(ProfileStateError, match="expired"):
        ws.plans.apply(plan.id or "")
    assert not harness.spoke.reclaims


def test_plan_items_whose_rule_changed_are_held(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    ws.rules.set_reclamation("Aha! Roadmaps", notify_user=True)
    report = ws.plans.apply(plan.id or "")
    assert {o.outcome for o in report.outcomes} == {"held"}  # every user holds a Roadmaps seat
    assert all(
        "make a new plan" in o.message for o in report.outcomes if o.identifier == "aha.roadmaps"
    )
    assert not harness.spoke.reclaims and not ws.outbox.query()
    fresh = ws.plans.create("aha")
    assert {i.kind for i in fresh.items} == {PlanAction.NOTIFY}


def test_undo_gives_the_seats_back_within_the_window(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    ws.prices = Prices()
    ws.jobs.run("aha")
    ws.plans.apply(ws.plans.create("aha").id or "")
    ben = [c for c in ws.candidates.query("aha") if c.external_user_id == "2002"]
    assert len(ben) == 2
    clock.advance(days=2)
    result = ws.plans.undo(ben[0].id or 0)
    assert result.status is ReclaimStatus.SUCCESS
    assert set(result.candidate_ids) == {c.id for c in ben}  # both seats, one vendor call
    assert harness.sandbox.user("2002")["enabled"] is True
    assert [s.external_user_id for s in harness.spoke.restores] == ["2002"]
    for c in ws.candidates.query("aha"):
        if c.external_user_id == "2002":
            assert c.state is CandidateState.CLOSED_COMPLETE  # closed stays closed…
            assert c.undone_at == clock.now and not c.reclaimed  # …but no longer counts
            assert c.keep_until == clock.now + dt.timedelta(days=30)
    assert {s.id for s in ws.subscriptions.query("aha") if s.external_user_id == "2002"} == {
        c.subscription_id for c in ben
    }
    assert ws.finance.savings("aha").actual == {
        "EUR": Decimal("600.00")
    }  # ben's seats left the total
    report = ws.jobs.run("aha")  # activity is still old, but the cooldown holds the seats back
    assert report.verdicts.get(Verdict.COOLDOWN.value) == 2
    assert "2002" not in {c.external_user_id for c in ws.candidates.query("aha") if c.is_open}
    with pytest.raises(ProfileStateError, match="already undone"):
        ws.plans.undo(ben[1].id or 0)
    other = next(c for c in ws.candidates.query("aha") if c.external_user_id == "2003")
    clock.advance(days=29)
    with pytest.raises(ProfileStateError, match="can no longer be undone"):
        ws.plans.undo(other.id or 0)
    assert [e.action for e in ws.audit.query(action="vendor.restore")] == [
        "vendor.restore.requested",
        "vendor.restore.success",
    ]
    clock.advance(days=2)  # the cooldown ended: ben is proposed again
    harness.ws.jobs.run("aha")
    assert "2002" in {c.external_user_id for c in ws.candidates.query("aha") if c.is_open}


def test_undo_refuses_what_was_not_ours(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    open_one = ws.candidates.query("aha")[0]
    with pytest.raises(ProfileStateError, match="only a completed reclaim"):
        ws.plans.undo(open_one.id or 0)
    harness.set_vendor("2001", enabled=False)  # someone disabled ana by hand meanwhile
    report = ws.plans.apply(ws.plans.create("aha").id or "")
    ana = next(o for o in report.outcomes if o.user_principal_name == "ana@acme.test")
    # the fresh read shows the seat changed (a disabled user holds none): held, never sent
    assert ana.outcome == "held" and "seat changed" in ana.message
    assert "2001" not in {s.external_user_id for s in harness.spoke.reclaims}
    with pytest.raises(ProfileStateError, match="only a completed reclaim"):
        ws.plans.undo(ana.candidate_id)
    ws.jobs.run("aha")  # the seat is gone from the download: the candidate closes, not ours to undo
    assert ws.candidates.get(ana.candidate_id).state is CandidateState.CLOSED_SKIPPED
    assert not harness.spoke.restores


def test_apply_waits_for_no_one_and_overlaps_nothing(harness: Harness) -> None:
    """An apply holds the profile's run lock too: a held lock refuses it and the plan stays usable."""
    ws, clock = harness.ws, harness.clock
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    busy = RunLock(
        profile="aha",
        owner="daily-run",
        host=socket.gethostname(),
        pid=os.getpid(),
        acquired_at=clock.now,
        expires_at=clock.now + dt.timedelta(hours=1),
    )
    ws.store.acquire_run_lock(busy, now=clock.now)
    with pytest.raises(RunInProgressError):
        ws.plans.apply(plan.id or "")
    assert not harness.spoke.reclaims
    ws.store.release_run_lock("aha", "daily-run")
    assert ws.plans.apply(plan.id or "").reclaimed == 8


def test_apply_reports_progress_after_each_vendor_call(harness: Harness) -> None:
    """The progress callback the CLI's bar reads: one call per user reclaimed, counting seats."""
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    seen: list[tuple[str, int]] = []
    report = ws.plans.apply(plan.id or "", progress=lambda step, n: seen.append((step, n)))
    assert len(seen) == 6  # six users, one vendor call each (two of them hold two seats)
    assert {step for step, _ in seen} == {"reclaim"}
    assert [n for _, n in seen] == sorted(n for _, n in seen)
    assert seen[-1] == ("reclaim", len(report.outcomes))
