"""The set-based merge of a staged download: unchanged seats take the fast path (only marked
seen), changed ones are upserted, and a seat staged twice ends as the later record says."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from saas_license._store import SqliteStore
from saas_license._store._sqlite import subscriptions
from saas_license._subscriptions import SubscriptionRecord

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 1, tzinfo=UTC)


def _rec(i: int, **kw: object) -> SubscriptionRecord:
    base = SubscriptionRecord(
        external_user_id=f"u{i}",
        user_principal_name=f"u{i}@corp.com",
        identifier="x.roadmaps",
        display_name=f"User {i}",
        last_activity=NOW - dt.timedelta(days=i),
        external_created=NOW - dt.timedelta(days=400),
        attributes={"administrator": False, "team": "a" if i % 2 else "b"},
    )
    return attrs.evolve(base, **kw)  # type: ignore[arg-type]


def _download(
    store: SqliteStore, records: list[SubscriptionRecord], run: str, now: dt.datetime
) -> int:
    """Stage, merge and close as the pipeline does; how many staged rows took the fast path."""
    with store.stage_download("p", run_id=run) as stage:
        stage.add(records)
        stage.merge(now=now)
        fast = store._q(f"SELECT COUNT(*) FROM temp.stage_{run}_same").fetchone()[0]
        stage.close_unseen()
    return int(fast)


def test_an_unchanged_download_only_marks_seats_seen() -> None:
    store = SqliteStore(":memory:")
    records = [_rec(i) for i in range(1, 301)]
    assert _download(store, records, "r1", NOW) == 0  # all new
    before = {s.id: s for s in store.iter_subscriptions("p")}
    later = NOW + dt.timedelta(days=1)
    assert _download(store, records, "r2", later) == 300
    after = {s.id: s for s in store.iter_subscriptions("p")}
    assert after == {k: attrs.evolve(v, last_seen_at=later) for k, v in before.items()}
    assert store.count_created("p", "r2") == 0


def test_changed_seats_take_the_full_path_and_older_activity_never_wins() -> None:
    store = SqliteStore(":memory:")
    records = [_rec(i) for i in range(1, 11)]
    _download(store, records, "r1", NOW)
    changed = list(records)
    changed[0] = _rec(1, attributes={"administrator": True, "team": "a"})
    changed[1] = _rec(2, last_activity=NOW - dt.timedelta(days=30))  # older: no change
    changed[2] = _rec(3, last_activity=NOW)  # newer
    changed[3] = _rec(4, display_name="Renamed")
    assert _download(store, changed, "r2", NOW) == 7  # 2 counts as unchanged
    subs = {s.external_user_id: s for s in store.iter_subscriptions("p")}
    assert subs["u1"].attributes["administrator"] is True
    assert subs["u2"].last_activity == NOW - dt.timedelta(days=2)
    assert subs["u3"].last_activity == NOW
    assert subs["u4"].display_name == "Renamed"


def test_a_seat_staged_twice_ends_as_the_later_record_says() -> None:
    store = SqliteStore(":memory:")
    _download(store, [_rec(1)], "r1", NOW)
    # first a changed record, then the unchanged one: in order, the second restores the name
    twice = [_rec(1, display_name="Changed"), _rec(1)]
    assert _download(store, twice, "r2", NOW) == 0
    (sub,) = store.iter_subscriptions("p")
    assert sub.display_name == "User 1"


def test_vanished_seats_close_and_come_back() -> None:
    store = SqliteStore(":memory:")
    records = [_rec(i) for i in range(1, 6)]
    _download(store, records, "r1", NOW)
    _download(store, records[:3], "r2", NOW)
    assert {s.external_user_id for s in store.iter_subscriptions("p")} == {"u1", "u2", "u3"}
    assert _download(store, records, "r3", NOW) == 3  # the closed two are upserted back
    assert len(list(store.iter_subscriptions("p"))) == 5


def test_attribute_pairs_are_stored_once_and_resolved_in_every_window() -> None:
    store = SqliteStore(":memory:")
    shapes = [{"team": "a"}, {"team": "b", "roles": ["x"]}, {}]
    unknowns = [frozenset(), frozenset({"administrator"})]
    # fresh (equal) dicts per record, more seats than one merge window; the last pair first
    # appears in a later window than the others
    records = [
        _rec(
            i,
            attributes=dict(shapes[i % 3]) if i < 4000 else {"late": True},
            unknown=unknowns[i % 2],
        )
        for i in range(1, 4501)
    ]
    assert _download(store, records, "r1", NOW) == 0
    pairs = store._q("SELECT attributes, unknown FROM seat_attrs").fetchall()
    assert len(pairs) == len({(r[0], r[1]) for r in pairs}) == 8  # 3 shapes x 2 + late x 2
    subs = {s.external_user_id: s for s in store.iter_subscriptions("p")}
    for r in records:
        seat = subs[r.external_user_id]
        assert (seat.attributes, seat.unknown) == (r.attributes, r.unknown)
    # a changed "unknown" set alone takes the full path; everything else stays on the fast one
    again = list(records)
    again[10] = attrs.evolve(records[10], unknown=frozenset({"enabled"}))
    assert _download(store, again, "r2", NOW) == 4499
    assert store.get_subscription(subs["u11"].id).unknown == {"enabled"}  # type: ignore[union-attr]


def test_rows_staged_many_to_a_statement_store_what_one_a_statement_stores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Staging writes whole groups of rows per statement and the rest one a statement: any
    split stores the same seats (the same order, so the same ids)."""
    # a repeated key (the later record wins) and a None instant inside the groups
    records = [_rec(i, last_activity=None if i % 7 == 0 else NOW) for i in range(1, 240)]
    records.append(_rec(5, display_name="Later"))
    seats = []
    for rows in (1, 7, 100, 1000):
        monkeypatch.setattr(subscriptions.SqliteSubscriptionStore, "_stage_per", rows)
        store = SqliteStore(":memory:")
        _download(store, records, "r1", NOW)
        seats.append(sorted(store.iter_subscriptions("p"), key=lambda s: s.id))
        store.close()
    assert seats[0][4].display_name == "Later"
    assert all(s == seats[0] for s in seats[1:])
