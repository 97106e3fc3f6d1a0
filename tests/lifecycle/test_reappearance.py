"""A confirmed reclaim whose seat comes back in a later download is flagged in the run, the
audit and the savings (issue 14), asserted on the sandbox's state, not only on our records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest

from saas_license import CandidateState, UnitPrice

from .conftest import Harness


class Prices:
    def unit_price(self, software_model: str, *, at: dt.datetime) -> UnitPrice | None:
        return {
            "Aha! Roadmaps": UnitPrice(amount=Decimal("120.00"), currency="EUR"),
            "Aha! Develop": UnitPrice(amount=Decimal("60.00"), currency="USD"),
        }.get(software_model)


def _control(h: Harness, user_id: str, fields: dict[str, object]) -> None:
    """Change a user through the sandbox's control channel, as a person at the vendor would."""
    with httpx.Client(transport=h.sandbox.transport(), base_url="https://acme.aha.io") as c:
        c.post(f"/__sandbox/users/{user_id}", json=fields).raise_for_status()


def _reclaim_all(h: Harness) -> None:
    h.ws.prices = Prices()
    h.ws.jobs.run("aha")
    plan = h.ws.plans.create("aha")
    assert h.ws.plans.apply(plan.id or "").counts == {"reclaimed": 8}
    reclaimed = {"2001", "2002", "2003", "2004", "2005", "2006"}
    assert {u["id"] for u in h.sandbox.users() if not u["enabled"]} == reclaimed


def test_a_seat_re_enabled_at_the_vendor_is_flagged_and_never_saved(harness: Harness) -> None:
    h, ws = harness, harness.ws
    _reclaim_all(h)
    before = ws.finance.savings("aha")
    assert before.actual == {"EUR": Decimal("720.00"), "USD": Decimal("60.00")}
    assert before.reclaimed_seats == 8 and before.reappeared == 0

    _control(h, "2002", {"enabled": True})  # someone at the vendor re-enables ben
    assert h.sandbox.user("2002")["enabled"] is True
    h.clock.advance(days=1)
    report = ws.jobs.run("aha")

    # the run: one reappearance naming ben's two seats; the other five reclaims verified
    (back,) = report.verification.reappeared
    assert back.external_user_id == "2002" and back.user_principal_name == "ben@acme.test"
    assert back.identifiers == ("aha.develop", "aha.roadmaps")
    assert report.verification.verified == 5
    download = next(j for j in report.jobs if j.process == "download")
    assert download.counts["reclaims_reappeared"] == 1
    assert download.counts["reclaims_verified"] == 5

    # the audit: an entry naming the seats and the reclaim action
    (entry,) = ws.audit.query(profile="aha", action="vendor.reclaim.reappeared")
    assert entry.entity == "user" and entry.entity_id == "2002"
    assert entry.after is not None and entry.after["reclaim_id"] == back.reclaim_id
    assert entry.after["identifiers"] == ["aha.develop", "aha.roadmaps"]
    assert (
        "aha.develop, aha.roadmaps" in entry.detail and f"reclaim {back.reclaim_id}" in entry.detail
    )
    action = ws.store.get_reclaim_action(back.reclaim_id)
    assert action is not None and action.reappeared_at == h.clock.now

    # the candidates: still closed complete (the reclaim happened), flagged as reappeared
    bens = [c for c in ws.candidates.query("aha") if c.external_user_id == "2002"]
    closed = [c for c in bens if c.state is CandidateState.CLOSED_COMPLETE]
    assert len(closed) == 2
    assert all(c.reappeared_at == h.clock.now and not c.reclaimed for c in closed)
    # the seat is back and still idle: the same run proposes it again, as any idle seat
    assert sorted(c.identifier for c in bens if c.is_open) == ["aha.develop", "aha.roadmaps"]

    # the savings: ben's seats are no longer counted as saved, but shown as reappeared
    after = ws.finance.savings("aha")
    assert after.actual == {"EUR": Decimal("600.00")}
    assert after.reclaimed_seats == 6 and after.reappeared == 2
    # ... and the reconciliation's actual savings leave them out too
    roadmaps = next(r for r in ws.finance.reconcile().models if r.software_model == "Aha! Roadmaps")
    assert roadmaps.reclaimed_seats == 5  # ana, cy, dee, eli, fay; not ben

    # checked once: later runs neither flag it again nor re-verify the others
    h.clock.advance(days=1)
    again = ws.jobs.run("aha")
    assert again.verification.reappeared == () and again.verification.verified == 0
    assert len(ws.audit.query(profile="aha", action="vendor.reclaim.reappeared")) == 1


def test_a_verified_reclaim_is_not_watched_any_more(harness: Harness) -> None:
    """Verification ends at the first complete download without the seat: a user re-enabled
    weeks later is a new grant, not a reclaim that failed."""
    h, ws = harness, harness.ws
    _reclaim_all(h)
    h.clock.advance(days=1)
    assert ws.jobs.run("aha").verification.verified == 6
    _control(h, "2003", {"enabled": True})
    h.clock.advance(days=20)
    report = ws.jobs.run("aha")
    assert report.verification.reappeared == ()
    assert ws.finance.savings("aha").reappeared == 0


def test_the_run_summary_shows_the_reappeared_seat(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    from saas_license.cli._cmd_core import _echo_run

    h = harness
    _reclaim_all(h)
    _control(h, "2001", {"enabled": True})
    h.clock.advance(days=1)
    _echo_run(h.ws.jobs.run("aha"))
    text = capsys.readouterr().out
    assert "reappeared: ana@acme.test aha.roadmaps: reclaim" in text
    assert "reclaims_reappeared=1" in text
