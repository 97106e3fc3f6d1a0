"""Plans stored by reference (issue 13, migration ``plans`` 2): an item names its candidate and
seat and keeps what the decision rested on (the candidate's state, the seat's holder and
activity); apply refuses an item whose seat moved on since, and plans stored as JSON copies by
the older code still read and apply. Every test asserts on the vendor's state (the sandbox).
"""

from __future__ import annotations

import datetime as dt

import attrs

from saas_license._convert import converter
from saas_license._reclaim.records import ReclaimPlan
from saas_license._store._sqlite.base import _dumps
from saas_license._time import format_instant

from .conftest import Harness

PLANNED = {"2001", "2002", "2003", "2004", "2005", "2006"}


def _disabled(h: Harness) -> set[str]:
    """Users disabled at the vendor (the sandbox's own records)."""
    return {u["id"] for u in h.sandbox.users() if not u["enabled"]}


def _outcomes(report: object, uid: str, h: Harness) -> set[tuple[str, str]]:
    seats = {s.id for s in h.ws.store.user_subscriptions("aha", uid)} | {
        o.subscription_id
        for o in report.outcomes  # type: ignore[attr-defined]
        if o.user_principal_name.startswith(h.sandbox.user(uid)["email"])
    }
    return {
        (o.outcome, o.message)
        for o in report.outcomes  # type: ignore[attr-defined]
        if o.subscription_id in seats
    }


def _seat(h: Harness, uid: str) -> int:
    return h.ws.store.user_subscriptions("aha", uid)[0].id


def test_a_stored_item_names_its_candidate_and_seat(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    rows = ws.store._q(
        "SELECT data, candidate_id, seat_id, state, user_id, last_activity FROM "
        "reclaim_plan_items WHERE plan_id = ? AND part = 'items' ORDER BY seq",
        (plan.id,),
    ).fetchall()
    assert len(rows) == len(plan) == 8
    assert all(r[0] == "" for r in rows)  # no JSON copy of the candidate and seat
    for row, item in zip(rows, plan.items, strict=True):
        assert (row[1], row[2], row[3], row[4]) == (
            item.candidate.id,
            item.subscription.id,
            item.candidate.state.value,
            item.subscription.external_user_id,
        )
        assert item.basis is not None
        assert item.basis.last_activity == item.subscription.last_activity
    # the whole plan built in memory is the same, item by item
    assert list(plan.items) == list(ws.plans.create("aha", save=False).items)


def test_stored_activity_newer_than_planned_holds_even_when_still_idle(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    # ana signs in 70 days ago by the vendor's clock (still idle under a 60-day rule) and a run
    # stores it: the plan's evidence (90 days) is not what the store says any more
    harness.set_vendor("2001", accessed_at=format_instant(clock.now - dt.timedelta(days=70)))
    clock.advance(minutes=5)
    ws.jobs.run("aha")
    report = ws.plans.apply(plan.id or "")
    assert {o for o, _ in _outcomes(report, "2001", harness)} == {"held"}
    assert any("activity since the plan" in m for _, m in _outcomes(report, "2001", harness))
    assert _disabled(harness) == PLANNED - {"2001"}


def test_vendor_activity_newer_than_planned_holds_with_no_run_in_between(
    harness: Harness,
) -> None:
    ws, clock = harness.ws, harness.clock
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    harness.set_vendor("2003", accessed_at=format_instant(clock.now - dt.timedelta(days=80)))
    report = ws.plans.apply(plan.id or "")
    found = _outcomes(report, "2003", harness)
    assert {o for o, _ in found} == {"held"}
    assert any("vendor reports activity since the plan" in m for _, m in found)
    assert _disabled(harness) == PLANNED - {"2003"}


def test_activity_data_lost_since_the_plan_holds(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    # the stored seat lost its last activity (a bad download): a seat that looks never used is
    # not the idle seat the plan saw
    ws.store._q(
        "UPDATE subscriptions SET last_activity = NULL WHERE id = ?", (_seat(harness, "2004"),)
    )
    report = ws.plans.apply(plan.id or "")
    found = _outcomes(report, "2004", harness)
    assert found == {("held", "the seat's last activity is no longer known: make a new plan")}
    assert _disabled(harness) == PLANNED - {"2004"}


def test_a_seat_that_changed_hands_is_never_reclaimed(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    seat = _seat(harness, "2001")
    ws.store._q("UPDATE subscriptions SET external_user_id = '9999' WHERE id = ?", (seat,))
    report = ws.plans.apply(plan.id or "")
    held = [o for o in report.outcomes if o.subscription_id == seat]
    assert [(o.outcome, o.message) for o in held] == [
        ("held", "the seat is not the one planned any more: make a new plan")
    ]
    assert _disabled(harness) == PLANNED - {"2001"}
    assert "2001" not in {s.external_user_id for s in harness.spoke.reclaims}


def _old_save_plan(h: Harness, plan: ReclaimPlan) -> None:
    """A plan as the code before ``plans`` 2 stored it: a head without the reclaim action and
    every item (and held item) as a JSON copy of its candidate and seat."""
    store = h.ws.store
    head = converter.unstructure(attrs.evolve(plan, items=(), held=()))
    with store.transaction():
        store._q(
            "INSERT INTO reclaim_plans (id, profile, created_at, expires_at, data) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                plan.id,
                plan.profile,
                format_instant(plan.created_at),
                format_instant(plan.expires_at),  # type: ignore[arg-type]
                _dumps(head),
            ),
        )
        for part, items in (("items", plan.items), ("held", plan.held)):
            for seq, item in enumerate(items):
                data = converter.unstructure(item)
                data.pop("basis", None)
                store._q(
                    "INSERT INTO reclaim_plan_items (plan_id, part, seq, data) VALUES (?, ?, ?, ?)",
                    (plan.id, part, seq, _dumps(data)),
                )


def test_a_plan_stored_as_json_copies_still_reads_and_applies(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    ws.jobs.run("aha")
    built = ws.plans.create("aha", save=False)
    # one held item too: the admin gus is not a candidate, so hold ana's candidate by hand
    old = attrs.evolve(
        built,
        items=tuple(attrs.evolve(i, basis=None) for i in built.items),
        id="oldplan",
        expires_at=clock.now + dt.timedelta(days=1),
    )
    _old_save_plan(harness, old)
    stored = ws.plans.get("oldplan")
    assert (stored.notice_count, stored.reclaim_count, stored.held_count) == (0, 8, 0)
    assert list(stored.items) == list(old.items)
    assert stored.load().items == old.items
    assert all(i.planned().last_activity == i.subscription.last_activity for i in stored.items)
    report = ws.plans.apply("oldplan")
    assert report.reclaimed == 8
    assert _disabled(harness) == PLANNED
