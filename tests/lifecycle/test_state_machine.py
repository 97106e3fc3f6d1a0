"""The pure candidate state machine: the transition table, routes, audit entries, finality."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from saas_license import CandidateState, RemovalCandidate
from saas_license._candidates.states import (
    TRANSITIONS,
    CandidateEvent,
    InvalidTransitionError,
    Route,
    initial_state,
    next_state,
    transition,
)

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
S, E = CandidateState, CandidateEvent


def _candidate(state: CandidateState = S.READY, **kw: object) -> RemovalCandidate:
    fields: dict[str, object] = {"id": 7, **kw}
    return RemovalCandidate(
        subscription_id=3,
        profile="p",
        external_user_id="u",
        user_principal_name="u@x.test",
        identifier="x.pro",
        software_model="X Pro",
        state=state,
        inactive_days=90,
        last_activity=None,
        opened_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("state", "event"), list(itertools.product(S, E)))
def test_every_pair_is_either_in_the_table_or_refused(state: S, event: E) -> None:
    if event in TRANSITIONS[state]:
        assert isinstance(next_state(state, event), S)
    else:
        with pytest.raises(InvalidTransitionError, match=f"cannot take '{event.value}'"):
            next_state(state, event)


def test_closed_states_accept_nothing_and_every_open_state_can_close() -> None:
    for state in S:
        assert (TRANSITIONS[state] == {}) is state.is_closed
    for state in S:
        if state.is_closed:
            continue
        reach, frontier = {state}, [state]
        while frontier:  # breadth-first over every route variant
            here = frontier.pop()
            for event in TRANSITIONS[here]:
                for route in (
                    Route(),
                    Route(notify_user=True),
                    Route(keep_requires_approval=False),
                ):
                    nxt = next_state(here, event, route)
                    if nxt not in reach:
                        reach.add(nxt)
                        frontier.append(nxt)
        assert {S.CLOSED_SKIPPED, S.CLOSED_CANCELED} <= reach
        assert S.CLOSED_COMPLETE in reach


def test_routes_pick_the_second_target() -> None:
    assert next_state(S.READY, E.START) is S.AWAITING_REVOCATION
    assert next_state(S.READY, E.START, Route(notify_user=True)) is S.AWAITING_USER
    notify_no_wait = Route(notify_user=True, days_before_auto_reclaim=0)
    assert next_state(S.READY, E.START, notify_no_wait) is S.AWAITING_REVOCATION
    assert next_state(S.AWAITING_USER, E.KEEP) is S.AWAITING_APPROVAL
    no_approval = Route(keep_requires_approval=False)
    assert next_state(S.AWAITING_USER, E.KEEP, no_approval) is S.CLOSED_CANCELED
    assert next_state(S.AWAITING_REVOCATION, E.VANISHED) is S.CLOSED_COMPLETE
    assert next_state(S.READY, E.VANISHED) is S.CLOSED_SKIPPED
    assert next_state(S.AWAITING_REVOCATION, E.RECLAIM_FAILED) is S.ATTENTION_REQUIRED


def test_initial_state_needs_a_recipient_only_when_notifying() -> None:
    assert initial_state(notify_user=False, recipient=None) is S.READY
    assert initial_state(notify_user=True, recipient="a@b.test") is S.READY
    assert initial_state(notify_user=True, recipient="svc-account") is S.ATTENTION_REQUIRED


def test_transition_returns_the_candidate_and_its_audit_entry() -> None:
    new, entry = transition(
        _candidate(S.AWAITING_APPROVAL),
        E.DECLINE,
        now=NOW,
        actor="manager@x.test",
        reason="needed for Q3 planning",
        keep_until=NOW + dt.timedelta(days=30),
    )
    assert new.state is S.CLOSED_CANCELED and new.closed_at == NOW and new.updated_at == NOW
    assert new.message == "needed for Q3 planning"
    assert entry.action == "candidate.decline" and entry.actor == "manager@x.test"
    assert entry.entity == "candidate" and entry.entity_id == "7" and entry.profile == "p"
    assert entry.before == {"state": "awaiting_approval"}
    assert entry.after == {"state": "closed_canceled", "keep_until": "2026-07-15T12:00:00.000Z"}


def test_transition_refuses_unstored_candidates_and_bad_events() -> None:
    with pytest.raises(InvalidTransitionError, match="stored candidate"):
        transition(_candidate(id=None), E.START, now=NOW, actor="x")
    with pytest.raises(InvalidTransitionError, match="closed is final"):
        transition(_candidate(S.CLOSED_COMPLETE), E.SKIP, now=NOW, actor="x")


class PureMachine(RuleBasedStateMachine):
    """Random events against one candidate: what is accepted follows the table, closed is final."""

    @initialize(
        notify=st.booleans(),
        days=st.integers(0, 3),
        approval=st.booleans(),
        start=st.sampled_from(S),
    )
    def setup(self, notify: bool, days: int, approval: bool, start: S) -> None:
        self.route = Route(
            notify_user=notify, days_before_auto_reclaim=days, keep_requires_approval=approval
        )
        self.candidate = _candidate(start)
        self.history = [start]
        self.entries = 0

    @rule(event=st.sampled_from(E))
    def event(self, event: E) -> None:
        before = self.candidate.state
        try:
            new, entry = transition(self.candidate, event, now=NOW, actor="t", route=self.route)
        except InvalidTransitionError:
            assert event not in TRANSITIONS[before]
            return
        assert event in TRANSITIONS[before]
        assert entry.before == {"state": before.value}
        assert entry.after is not None and entry.after["state"] == new.state.value
        self.candidate = new
        self.history.append(new.state)
        self.entries += 1

    @invariant()
    def closed_is_final(self) -> None:
        closed = [i for i, s in enumerate(self.history) if s.is_closed]
        if closed:
            assert closed[0] == len(self.history) - 1  # nothing follows a closed state
        assert len(self.history) == self.entries + 1  # one audit entry per move


PureMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=20, deadline=None)
TestPureMachine = PureMachine.TestCase
