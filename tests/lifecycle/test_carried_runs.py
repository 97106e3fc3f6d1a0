"""Daily runs that find nothing new write no seat (issue 13: the download *carries* the seats it
saw unchanged). Asserted on the vendor's state (the sandbox's own users), on both stores: a
carried seat's activity counts as checked by the run that carried it, and a user whose record
changed at the vendor between runs (back at work, made an administrator) is never disabled."""

from __future__ import annotations

from saas_license._time import format_instant

from .conftest import SMALL_ACCOUNT_CANDIDATES, Harness


def _disabled(h: Harness) -> set[str]:
    """Users disabled at the vendor (the sandbox's own records)."""
    return {u["id"] for u in h.sandbox.users() if not u["enabled"]}


def _seat_writes(h: Harness) -> list[tuple[int, object]]:
    """Each seat's id and stored ``last_seen_at`` column (not what it reads as)."""
    return [
        (int(r[0]), r[1])
        for r in h.ws.store._q("SELECT id, last_seen_at FROM subscriptions ORDER BY id")
    ]


def test_a_rerun_with_nothing_new_keeps_activity_fresh(harness: Harness) -> None:
    """Stale after 48 hours: a plan 50 hours after the first run and 20 after a carrying re-run
    reclaims (the re-run checked the activity), and only the users the plan names."""
    h = harness
    ws = h.ws
    ws.jobs.run("aha")
    stored = _seat_writes(h)
    h.clock.advance(hours=30)
    checked = h.clock.now
    ws.jobs.run("aha")
    assert _seat_writes(h) == stored  # no seat row written by the re-run
    assert {s.activity_checked_at for s in ws.subscriptions.query("aha")} == {checked}
    h.clock.advance(hours=20)
    plan = ws.plans.create("aha")
    assert len(plan.reclaims) == SMALL_ACCOUNT_CANDIDATES and not plan.held
    report = ws.plans.apply(plan.id or "")
    assert report.reclaimed == SMALL_ACCOUNT_CANDIDATES
    assert _disabled(h) == {i.subscription.external_user_id for i in plan.reclaims}


def test_without_the_rerun_the_same_plan_holds_everything(harness: Harness) -> None:
    """The control: 50 hours after the only run, the activity is stale and nothing is disabled."""
    h = harness
    h.ws.jobs.run("aha")
    h.clock.advance(hours=50)
    report = h.ws.plans.apply(h.ws.plans.create("aha").id or "")
    assert report.reclaimed == 0 and not _disabled(h)


def test_a_user_changed_at_the_vendor_between_reruns_is_never_disabled(harness: Harness) -> None:
    h = harness
    ws = h.ws
    ws.jobs.run("aha")
    first = ws.plans.create("aha")
    back, admin = (i.subscription.external_user_id for i in first.reclaims[:2])
    h.clock.advance(hours=24)
    ws.jobs.run("aha")  # nothing new: every seat carried
    h.clock.advance(hours=1)
    h.set_vendor(back, accessed_at=format_instant(h.clock.now))  # back at work
    h.set_vendor(admin, administrator=True)
    h.clock.advance(hours=1)
    ws.jobs.run("aha")  # their records changed: written; the others carried again
    plan = ws.plans.create("aha")
    planned = {i.subscription.external_user_id for i in plan.reclaims}
    assert back not in planned and admin not in planned
    ws.plans.apply(plan.id or "")
    assert back not in _disabled(h) and admin not in _disabled(h)
    assert _disabled(h) == planned
