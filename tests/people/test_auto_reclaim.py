"""Automatic reclaim: off by default, only decided candidates, capped, halting, actor scheduler.

Every test asserts on the vendor's state (the sandbox: who is really disabled), not only ours.
"""

from __future__ import annotations

import pytest

from saas_license import CandidateState, ConfigError

from ..lifecycle.conftest import Harness
from .conftest import disabled, notify_roadmaps, tokens

#: Users whose every paid seat is a Roadmaps seat asked about (ben and fay hold a second seat
#: nobody was asked about, so a user-wide reclaim never takes them).
SINGLE_SEAT = {"2001", "2003", "2004", "2005"}  # ana, cy, dee, eli


def _past_deadline(h: Harness) -> None:
    h.clock.advance(days=5, minutes=1)


def test_off_by_default_nothing_reaches_the_vendor(harness: Harness) -> None:
    notify_roadmaps(harness)
    _past_deadline(harness)
    tick = harness.ws.jobs.tick()
    assert tick.auto_reclaims == () and "auto-reclaim: off" in tick.summary()
    assert disabled(harness) == set() and not harness.spoke.reclaims
    # the deadline passed: decided, but waiting for a person to apply a plan
    assert len(harness.ws.candidates.query("aha", states={CandidateState.AWAITING_REVOCATION})) == 6
    assert "off" in harness.ws.jobs.preview_auto_reclaim("aha").describe()


def test_decided_candidates_are_reclaimed_and_undecided_ones_never(harness: Harness) -> None:
    ws = harness.ws
    notify_roadmaps(harness)
    ws.jobs.set_auto_reclaim("aha", enabled=True)
    ana = next(n for n in ws.outbox.query() if n.recipient == "ana@acme.test")
    ws.answers.submit(tokens(ana)[0], "release")
    preview = ws.jobs.preview_auto_reclaim("aha")
    assert len(preview.would_reclaim) == 1 and "reclaim 1 of 1" in preview.describe()
    tick = ws.jobs.tick()  # ana released: reclaimed now; the others may still answer
    assert disabled(harness) == {"2001"}
    (auto,) = tick.auto_reclaims
    assert (auto.status, auto.reclaimed) == ("done", 1)
    _past_deadline(harness)
    ws.jobs.tick()
    assert disabled(harness) == SINGLE_SEAT  # never ben or fay: a seat of theirs nobody decided
    assert "2007" not in disabled(harness)  # gus, an administrator
    actors = {e.actor for e in ws.store.list_audit(action="vendor.reclaim.requested")}
    assert actors == {"scheduler"}
    assert {a.actor for a in ws.plans.actions("aha")} == {"scheduler"}


def test_caps_per_run_and_per_day(harness: Harness) -> None:
    ws = harness.ws
    notify_roadmaps(harness)
    ws.jobs.set_auto_reclaim("aha", enabled=True, max_per_run=1, max_per_day=3)
    _past_deadline(harness)
    ws.jobs.tick()
    assert len(disabled(harness)) == 1
    ws.jobs.tick()
    ws.jobs.tick()
    assert len(disabled(harness)) == 3
    fourth = ws.jobs.tick()
    assert len(disabled(harness)) == 3 and fourth.auto_reclaims[0].status == "capped"
    harness.clock.advance(days=1)
    ws.jobs.tick()
    assert disabled(harness) == SINGLE_SEAT


def test_halts_after_repeated_vendor_failures(harness: Harness) -> None:
    ws = harness.ws
    notify_roadmaps(harness)
    ws.jobs.set_auto_reclaim("aha", enabled=True, halt_after_failures=2)

    def refuse(_ctx: object, _sub: object) -> None:
        raise ConnectionError("vendor down")

    harness.spoke.check = refuse
    _past_deadline(harness)
    tick = ws.jobs.tick()
    (auto,) = tick.auto_reclaims
    assert auto.status == "halted" and "2 vendor failures" in auto.message
    assert len(harness.spoke.reclaims) == 0 and disabled(harness) == set()
    assert auto.outcomes.get("deferred", 0) >= 1


def test_unknown_outcomes_are_resolved_before_anything_new(harness: Harness) -> None:
    ws = harness.ws
    notify_roadmaps(harness)
    ws.jobs.set_auto_reclaim("aha", enabled=True, max_per_run=1)
    harness.spoke.lose_answers = {"2001", "2003", "2004", "2005"}

    def reads_go_down(_ctx: object, _sub: object) -> None:  # after the fresh check, before the PUT
        harness.spoke.read_fails = ConnectionError("reads down")

    harness.spoke.check = reads_go_down
    _past_deadline(harness)
    first = ws.jobs.tick().auto_reclaims[0]
    assert len(disabled(harness)) == 1  # it reached the vendor; we do not know it yet
    assert ws.store.unresolved_reclaim_actions("aha")
    blocked = ws.jobs.tick().auto_reclaims[0]
    assert blocked.status == "halted" and "unknown outcome" in blocked.message
    assert len(disabled(harness)) == 1 and first.status in ("done", "halted")
    harness.spoke.check = None
    harness.spoke.read_fails = None
    harness.spoke.lose_answers = set()
    settled = ws.jobs.tick().auto_reclaims[0]
    assert settled.unknown_settled == 1 and not ws.store.unresolved_reclaim_actions("aha")
    assert len(disabled(harness)) == 2


def test_bad_policy_values_name_the_field(harness: Harness) -> None:
    with pytest.raises(ConfigError, match="auto_reclaim.max_per_run"):
        harness.ws.jobs.set_auto_reclaim("aha", max_per_run=0)
    with pytest.raises(ConfigError, match="auto_reclaim.enabled"):
        harness.ws.jobs.set_auto_reclaim("aha", enabled="yes")  # type: ignore[arg-type]
    assert harness.ws.jobs.auto_reclaim("aha").enabled is False
