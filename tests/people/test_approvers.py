"""Approvers that exist: rule approver, seat manager, rule group, profile group; else attention."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saas_license import CandidateState, ConfigError
from saas_license._candidates.approvers import ApproverSource, route_approval
from saas_license._candidates.records import OPEN_STATES

from ..lifecycle.conftest import Harness
from .conftest import notify_roadmaps, tokens

GROUPS = {"Software managers": ("sam@acme.test",), "Design leads": ("dl@acme.test",), "Empty": ()}


def test_the_first_that_exists_wins_in_order() -> None:
    full = dict(
        rule_approver="r@acme.test",
        manager="m@acme.test",
        rule_group="Design leads",
        profile_group="Software managers",
        groups=GROUPS,
    )
    assert route_approval(**full).source is ApproverSource.RULE
    assert route_approval(**{**full, "rule_approver": None}).recipients == ("m@acme.test",)
    assert (
        route_approval(**{**full, "rule_approver": None, "manager": "not an address"}).source
        is ApproverSource.RULE_GROUP
    )
    last = route_approval(**{**full, "rule_approver": None, "manager": None, "rule_group": None})
    assert (last.source, last.recipients, last.label) == (
        ApproverSource.PROFILE_GROUP,
        ("sam@acme.test",),
        "Software managers (group)",
    )
    empty = route_approval(
        **{**full, "rule_approver": None, "manager": None, "rule_group": "Empty"}
    )
    assert not empty.routable and "'Empty' has no members" in empty.reason


@given(
    rule=st.one_of(st.none(), st.just("r@x.test"), st.text(max_size=5)),
    manager=st.one_of(st.none(), st.just("m@x.test"), st.integers()),
    rule_group=st.one_of(st.none(), st.sampled_from(sorted(GROUPS)), st.text(max_size=5)),
    profile_group=st.one_of(st.none(), st.sampled_from(sorted(GROUPS))),
)
def test_a_route_is_never_a_placeholder(
    rule: object, manager: object, rule_group: object, profile_group: object
) -> None:
    got = route_approval(
        rule_approver=rule,
        manager=manager,
        rule_group=rule_group,
        profile_group=profile_group,
        groups=GROUPS,
    )  # type: ignore[arg-type]
    assert all("@" in r for r in got.recipients)
    assert got.routable or got.reason.startswith("approval cannot be routed")


def test_unroutable_candidates_wait_in_attention_required_and_name_the_reason(
    harness: Harness,
) -> None:
    ws = harness.ws
    ws.approvals.set_group("Software managers", [])
    ws.jobs.run("aha")
    ws.rules.set_reclamation("Aha! Roadmaps", notify_user=True)
    # the rule now asks users: a re-run leaves the existing ready candidates; new ones are checked
    for c in ws.candidates.query("aha"):
        ws.candidates.skip(c.id or 0)
    harness.clock.advance(days=31)
    ws.jobs.run("aha")
    roadmaps = [
        c
        for c in ws.candidates.query("aha", states=set(OPEN_STATES))
        if c.software_model == "Aha! Roadmaps"
    ]
    assert roadmaps and {c.state for c in roadmaps} == {CandidateState.ATTENTION_REQUIRED}
    assert all("'Software managers' has no members" in c.message for c in roadmaps)
    with pytest.raises(ConfigError, match="no members"):
        ws.candidates.resolve(roadmaps[0].id or 0)
    ws.rules.set_reclamation("Aha! Roadmaps", approver_group="Design leads")
    ws.approvals.set_group("Design leads", ["dl@acme.test"])
    resolved = ws.candidates.resolve(roadmaps[0].id or 0)
    assert (resolved.state, resolved.approver, resolved.approver_source) == (
        CandidateState.READY,
        "Design leads",
        "rule_group",
    )


def test_a_keep_that_cannot_be_routed_goes_to_attention_not_to_a_placeholder(
    harness: Harness,
) -> None:
    ws = harness.ws
    notify_roadmaps(harness)
    ws.approvals.set_group("Software managers", [])  # emptied after the notices went out
    ana = next(n for n in ws.outbox.query() if n.recipient == "ana@acme.test")
    out = ws.answers.submit(tokens(ana)[0], "keep")
    assert out.state is CandidateState.ATTENTION_REQUIRED
    cand = ws.candidates.get(out.candidate_id)
    assert "no members" in cand.message and cand.response is not None
    assert not [n for n in ws.outbox.query() if n.recipient in ("approvers", "Software managers")]


def test_the_approver_is_shown_on_the_candidate_and_follows_the_rule(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    cands = [c for c in ws.candidates.query("aha") if c.software_model == "Aha! Roadmaps"]
    assert {(c.approver, c.approver_source) for c in cands} == {
        ("Software managers", "profile_group")
    }
    ws.rules.set_reclamation("Aha! Roadmaps", approver="boss@acme.test")
    assert ws.approvals.route(cands[0].id or 0).recipients == ("boss@acme.test",)
    ws.approvals.set_profile_group("aha", "Design leads")
    ws.rules.set_reclamation("Aha! Roadmaps", approver=None)
    route = ws.approvals.route(cands[0].id or 0)
    assert not route.routable and "'Design leads' has no members" in route.reason
