"""Issue 13's compact candidates: stored in columns with only what cannot be derived (the seat's
key read from the seat, instants as integer milliseconds, shared texts, the rules' message as
its day count, the rest as compact JSON), every candidate reads back exactly as it was written,
on both stores; and a deleted profile's candidates keep their seat's key."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license._candidates.records import (
    CandidateState,
    Justification,
    RemovalCandidate,
    UserResponse,
)
from saas_license._store import Store
from saas_license._subscriptions import SubscriptionRecord

from .postgres.fixtures import STORES

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on SQLite and PostgreSQL."""
    return str(request.param)


# PostgreSQL text holds no NUL; surrogates are not text at all
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
# stored at millisecond precision, as they always were (as text before)
instants = st.integers(min_value=-86_400_000 * 365, max_value=86_400_000 * 365 * 80).map(
    lambda ms: dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=ms)
)
days = st.integers(min_value=-3, max_value=5000)
messages = st.one_of(
    texts,
    st.just(""),
    st.builds(lambda d, r: f"no activity for {d} days (rule: {r} days)", days, days),
    st.builds(lambda d: f"no activity for {d} days (rule: 060 days)", days),
    texts.map(lambda t: "\x1f" + t),
)
money = st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2)
# a few values many candidates share, and some of their own
shared = st.none() | st.sampled_from(["Aha! Roadmaps", "Develop", "ops@corp.example"]) | texts


@st.composite
def candidates(draw: st.DrawFn, seat: tuple[int, str, str]) -> RemovalCandidate:
    """Any candidate on the seat ``(id, user, identifier)``: its key the seat's or not."""
    sid, user, ident = seat
    inactive = draw(days)
    upn = draw(st.sampled_from([f"{user}@corp.example", ""]) | texts)
    opened = draw(instants)
    return RemovalCandidate(
        subscription_id=sid,
        profile="p",
        external_user_id=draw(st.just(user) | texts),
        user_principal_name=upn,
        identifier=draw(st.just(ident) | texts),
        software_model=draw(shared),
        state=draw(st.sampled_from(CandidateState)),
        inactive_days=inactive,
        last_activity=draw(st.none() | instants),
        opened_at=opened,
        rule_id=draw(st.none() | st.integers(1, 2**40)),
        justification=draw(st.sampled_from(Justification)),
        notify_user=draw(st.booleans()),
        closed_at=draw(st.none() | instants),
        message=draw(messages | st.just(f"no activity for {inactive} days (rule: 60 days)")),
        potential_savings=draw(money),
        updated_at=draw(st.just(opened) | st.none() | instants),
        recipient=draw(st.just(upn) | st.none() | texts),
        approver=draw(shared),
        notified_at=draw(st.none() | instants),
        respond_by=draw(st.none() | instants),
        response=draw(st.none() | st.sampled_from(UserResponse)),
        decided_by=draw(st.none() | texts),
        keep_until=draw(st.none() | instants),
        reclaim_id=draw(st.none() | st.integers(1, 10**6)),
        reclaimed_at=draw(st.none() | instants),
        currency=draw(st.none() | st.sampled_from(["USD", "EUR"])),
        actual_savings=draw(money),
        approver_source=draw(st.none() | st.sampled_from(["rule", "manager", "profile_group"])),
        approval_due=draw(st.none() | instants),
        reappeared_at=draw(st.none() | instants),
    )


def _seats(store: Store, n: int, start: int) -> list[tuple[int, str, str]]:
    store.upsert_subscriptions(
        "p",
        [
            SubscriptionRecord(
                external_user_id=f"u{i}",
                user_principal_name=f"u{i}@corp.example",
                identifier=f"x.{i % 3}",
            )
            for i in range(start, start + n)
        ],
        run_id=f"run-{start}",
        now=T0,
    )
    keys = {f"u{i}" for i in range(start, start + n)}
    return [
        (s.id, s.external_user_id, s.identifier)
        for s in store.iter_subscriptions("p", active_only=False)
        if s.external_user_id in keys
    ]


def test_every_candidate_reads_back_as_written(new_store: Callable[[], Store]) -> None:
    store = new_store()  # one store: each example adds seats and candidates of its own

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        start = next(_counter)
        seats = _seats(store, 3, start * 10)
        seats.append((10**9 + start, "nobody", "x.none"))  # a seat id with no seat behind it
        # one open candidate per seat: the closed ones may repeat a seat
        drafts = data.draw(
            st.lists(st.sampled_from(seats).flatmap(candidates), min_size=1, max_size=6).filter(
                lambda cs: (
                    len({c.subscription_id for c in cs if c.closed_at is None})
                    == sum(1 for c in cs if c.closed_at is None)
                )
            )
        )
        stored = store.add_candidates(drafts)
        assert [attrs.evolve(c, id=None) for c in stored] == drafts
        assert store.list_candidates(ids=[c.id for c in stored if c.id is not None]) == stored
        for c in stored:
            assert store.get_candidate(c.id or 0) == c
        # an update writes every field again
        changed = attrs.evolve(
            stored[0],
            state=data.draw(st.sampled_from(CandidateState)),
            message=data.draw(messages),
            external_user_id=data.draw(texts),
            approver=data.draw(shared),
            undone_at=data.draw(st.none() | instants),
            updated_at=data.draw(instants),
        )
        store.update_candidate(changed)
        assert store.get_candidate(changed.id or 0) == changed

    check()


_counter = itertools.count(1)


def test_a_deleted_profiles_candidates_keep_their_seats_key(
    new_store: Callable[[], Store],
) -> None:
    store = new_store()
    (sid, user, ident), *_ = _seats(store, 2, 0)
    draft = RemovalCandidate(
        subscription_id=sid,
        profile="p",
        external_user_id=user,
        user_principal_name=f"{user}@corp.example",
        identifier=ident,
        software_model="Develop",
        state=CandidateState.CLOSED_CANCELED,
        inactive_days=90,
        last_activity=T0,
        opened_at=T0,
        closed_at=T0,
        potential_savings=Decimal("12.50"),
        currency="USD",
    )
    (stored,) = store.add_candidates([draft])
    key = store._q("SELECT user_id, identifier FROM candidates").fetchone()  # type: ignore[attr-defined]
    assert tuple(key) == (None, None)  # the seat's own key is not stored twice
    store.delete_profile("p")
    assert store.get_candidate(stored.id or 0) == stored
    # a new seat taking the deleted seat's id does not lend the candidate its key
    _seats(store, 2, 50)
    assert store.get_candidate(stored.id or 0) == stored
