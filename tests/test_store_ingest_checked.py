"""A download's activity counted as checked by its merge, in the same write that marks each seat
seen (issue 13: one write per unchanged seat, not two): the seats end exactly as merging and
then :meth:`stamp_activity_checked` left them, on both stores, and a seat named by a
quarantined record or whose record left last activity unknown is never counted as checked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license._store import SqliteStore, Store
from saas_license._subscriptions import SubscriptionRecord

from .postgres.fixtures import both_stores

store_kind = both_stores

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
UNKNOWN = frozenset({"last_activity"})


def _rec(i: int, *, unknown: bool = False, days: int = 3) -> SubscriptionRecord:
    return SubscriptionRecord(
        external_user_id=f"u{i}",
        user_principal_name=f"u{i}@corp.com",
        identifier="x.roadmaps",
        display_name=f"User {i}",
        last_activity=None if unknown else NOW - dt.timedelta(days=days),
        external_created=NOW - dt.timedelta(days=400),
        attributes={"administrator": False},
        unknown=UNKNOWN if unknown else frozenset(),
    )


def _download(
    store: Store,
    records: list[SubscriptionRecord],
    run: str,
    now: dt.datetime,
    *,
    quarantined: list[tuple[str, str]],
    folded: bool,
) -> int:
    """As the pipeline does: stage, merge, mark what quarantined records named, close, stamp.
    ``folded``: the merge counts the activity as checked; else only the stamp after it does."""
    with store.stage_download("p", run_id=run) as stage:
        stage.add(records)
        if folded:
            stage.merge(now=now, activity_checked=True, quarantined=quarantined)
        else:
            stage.merge(now=now, quarantined=quarantined)  # as the pipeline does
        store.mark_seen("p", quarantined, run_id=run)
        stage.close_unseen()
    return store.stamp_activity_checked("p", run_id=run, now=now)


def _seats(store: Store) -> dict[str, object]:
    return {
        s.external_user_id: attrs.evolve(s, id=0)
        for s in store.iter_subscriptions("p", active_only=False)
    }


def test_the_merge_counts_activity_as_checked_except_unknown_and_quarantined(
    new_store: Callable[[], Store],
) -> None:
    store = new_store()
    records = [_rec(i, unknown=i == 2) for i in range(1, 9)]
    # u3 staged but also named by a quarantined record (say, listed twice); u9 only quarantined
    held = [("u3", "x.roadmaps"), ("u9", "x.roadmaps")]
    assert _download(store, records, "r1", NOW, quarantined=held, folded=True) == 6
    seats = {s.external_user_id: s for s in store.iter_subscriptions("p")}
    assert {u for u, s in seats.items() if s.activity_checked_at == NOW} == {
        f"u{i}" for i in (1, 4, 5, 6, 7, 8)
    }
    assert seats["u2"].activity_checked_at is None and seats["u3"].activity_checked_at is None
    # the activity step of the same run, later: counts the merge's seats, stamps nothing anew
    later = NOW + dt.timedelta(minutes=5)
    assert store.stamp_activity_checked("p", run_id="r1", now=later) == 6
    assert {s.activity_checked_at for s in store.iter_subscriptions("p")} == {NOW, None}
    # nothing new the next day: every seat is checked again (the unknown one still not)
    day = NOW + dt.timedelta(days=1)
    assert _download(store, records, "r2", day, quarantined=[], folded=True) == 7
    again = {s.external_user_id: s for s in store.iter_subscriptions("p")}
    assert again["u2"].activity_checked_at is None
    assert all(again[f"u{i}"].activity_checked_at == day for i in (1, 3, 4, 5, 6, 7, 8))
    assert all(s.last_seen_at == day for s in again.values())


def test_folded_and_stamped_afterwards_leave_the_same_seats(
    new_store: Callable[[], Store],
) -> None:
    folded, stamped = new_store(), SqliteStore(":memory:")
    downloads = [
        ([_rec(i, unknown=i % 5 == 0) for i in range(1, 30)], [("u7", "x.roadmaps")]),
        ([_rec(i, days=1 if i % 3 else 9) for i in range(3, 30)], [("u1", "x.roadmaps")]),
        ([_rec(i, unknown=i % 4 == 0) for i in range(1, 25)], []),
    ]
    for n, (records, held) in enumerate(downloads):
        now = NOW + dt.timedelta(days=n)
        a = _download(folded, records, f"r{n}", now, quarantined=held, folded=True)
        b = _download(stamped, records, f"r{n}", now, quarantined=held, folded=False)
        assert a == b
        assert _seats(folded) == _seats(stamped)


_users = st.integers(min_value=1, max_value=12)


@st.composite
def _downloads(draw: st.DrawFn) -> list[tuple[list[SubscriptionRecord], list[tuple[str, str]]]]:
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        users = draw(st.lists(_users, unique=True, max_size=12))
        records = [
            _rec(u, unknown=draw(st.booleans()), days=draw(st.integers(0, 5))) for u in users
        ]
        held = draw(st.lists(_users, unique=True, max_size=3))
        out.append((records, [(f"u{u}", "x.roadmaps") for u in held]))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(downloads=_downloads())
def test_any_downloads_folded_or_stamped_afterwards_agree(
    downloads: list[tuple[list[SubscriptionRecord], list[tuple[str, str]]]],
) -> None:
    folded, stamped = SqliteStore(":memory:"), SqliteStore(":memory:")
    for n, (records, held) in enumerate(downloads):
        now = NOW + dt.timedelta(hours=n)
        a = _download(folded, records, f"r{n}", now, quarantined=held, folded=True)
        b = _download(stamped, records, f"r{n}", now, quarantined=held, folded=False)
        assert a == b
        assert _seats(folded) == _seats(stamped)
