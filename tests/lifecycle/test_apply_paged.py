"""Apply reads a stored plan a page at a time (issue 13): with one item a page, a user's seats
still go in one vendor call, and the outcomes are those of a whole-plan apply."""

from __future__ import annotations

import attrs
import pytest

from saas_license import CandidateState
from saas_license._reclaim import stored

from .conftest import Harness


def test_apply_one_item_a_page_keeps_one_call_per_user(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stored, "PAGE", 1)
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    assert plan.units_contiguous and plan.scope == "user"
    users = [i.subscription.external_user_id for i in plan.reclaims]
    assert len(users) > len(set(users))  # some users hold two seats: their items span pages
    seen: list[int] = []
    report = ws.plans.apply(plan.id, progress=lambda _step, n: seen.append(n))
    assert report.counts == {"reclaimed": len(plan.reclaims)}
    # one vendor call per user, every planned seat of that user in it
    assert sorted(s.external_user_id for s in harness.spoke.reclaims) == sorted(set(users))
    assert len(seen) == len(set(users))
    by_user: dict[str, set[int | None]] = {}
    for c in ws.candidates.query("aha"):
        assert c.state is CandidateState.CLOSED_COMPLETE
        by_user.setdefault(c.external_user_id, set()).add(c.reclaim_id)
    assert all(len(ids) == 1 for ids in by_user.values())


def test_a_plan_whose_units_are_apart_is_grouped_whole(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan stored without knowing its scope (e.g. the automatic reclaim's) is grouped whole:
    a user's seats still go together however they are ordered."""
    monkeypatch.setattr(stored, "PAGE", 1)
    ws = harness.ws
    ws.jobs.run("aha")
    whole = ws.plans.create("aha", save=False)
    # the reclaims in reverse: a user's two seats are no longer next to each other
    items = (*whole.notices, *reversed(whole.reclaims[::2]), *reversed(whole.reclaims[1::2]))
    plan = attrs.evolve(
        whole, items=items, id="apart1", expires_at=harness.clock.now + ws.policy.plan_ttl
    )
    ws.store.save_plan(plan)
    assert not ws.plans.get("apart1").units_contiguous
    report = ws.plans.apply("apart1")
    users = {i.subscription.external_user_id for i in whole.reclaims}
    assert report.counts == {"reclaimed": len(whole.reclaims)}
    assert sorted(s.external_user_id for s in harness.spoke.reclaims) == sorted(users)
