"""A re-run writes no seat its download left unchanged (issue 13): the download carries the run
that last wrote the seat instead (``_store/_sqlite/seen.py``). Whatever happens between
downloads — records changing or vanishing, quarantined records, downloads that stop after the
merge, reclaims and undos, activity read apart — every seat reads exactly as if each download
had written every seat it saw (the reference store below), on both stores; and what a re-run
leaves unchanged is really not written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license._store import SqliteStore, Store
from saas_license._subscriptions import ActivityRecord, SubscriptionRecord

from .postgres.fixtures import both_stores

store_kind = both_stores

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
IDENTS = ("x.roadmaps", "x.develop")


class WritesEverySeat(SqliteStore):
    """The reference: each download writes every seat it saw (nothing carried)."""

    def _latest_run(self, profile: str) -> int | None:
        return None

    def _carry(self, *args: Any, **kwargs: Any) -> None:
        return None


@attrs.frozen
class Rec:
    """What a record says, drawn from few values so that most seats stay unchanged."""

    user: int
    ident: str
    upn: int = 0
    days: int | None = 3
    unknown: bool = False
    admin: bool = False

    def record(self) -> SubscriptionRecord:
        return SubscriptionRecord(
            external_user_id=f"u{self.user}",
            user_principal_name=f"u{self.user}.{self.upn}@corp.com",
            identifier=self.ident,
            display_name=f"User {self.user}",
            last_activity=None if self.days is None else NOW - dt.timedelta(days=self.days),
            external_created=NOW - dt.timedelta(days=400),
            attributes={"administrator": self.admin},
            unknown=frozenset({"last_activity"}) if self.unknown else frozenset(),
        )


def _download(
    store: Store,
    recs: list[Rec],
    run: str,
    now: dt.datetime,
    *,
    held: list[tuple[str, str]],
    stamp: bool,
    complete: bool,
) -> int | None:
    """As the pipeline does; an incomplete download stops after its merge (killed there)."""
    with store.stage_download("p", run_id=run) as stage:
        stage.add(r.record() for r in recs)
        stage.merge(now=now, activity_checked=stamp, quarantined=held)
        if not complete:
            return None
        store.mark_seen("p", held, run_id=run)
        stage.close_unseen()
    return store.stamp_activity_checked("p", run_id=run, now=now) if stamp else None


def _seats(store: Store) -> dict[tuple[str, str], Any]:
    return {
        (s.external_user_id, s.identifier): attrs.evolve(s, id=0)
        for s in store.iter_subscriptions("p", active_only=False)
    }


def _seat(store: Store, user: int, ident: str) -> int | None:
    for s in store.iter_subscriptions("p", active_only=False):
        if (s.external_user_id, s.identifier) == (f"u{user}", ident):
            return s.id
    return None


_recs = st.builds(
    Rec,
    user=st.integers(1, 6),
    ident=st.sampled_from(IDENTS),
    upn=st.integers(0, 1),
    days=st.none() | st.integers(2, 4),
    unknown=st.booleans(),
    admin=st.booleans(),
)
_keys = st.tuples(st.integers(1, 6), st.sampled_from(IDENTS))
_steps = st.one_of(
    st.tuples(
        st.just("download"),
        st.lists(_recs, max_size=10),
        st.lists(_keys, max_size=2),  # quarantined records' keys
        st.booleans(),  # the download carries last activity
        st.integers(0, 3),  # 0: stops after the merge
        st.booleans(),  # re-list the last complete download's records instead
    ),
    st.tuples(st.just("reclaim"), _keys),
    st.tuples(st.just("undo"), _keys),
    st.tuples(st.just("activity"), st.integers(1, 6), st.integers(0, 1)),
)


def _run(stores: list[Store], steps: list[tuple[Any, ...]]) -> None:
    last: list[Rec] = []
    exact = True  # until a download stops after its merge
    for n, step in enumerate(steps):
        now = NOW + dt.timedelta(hours=n + 1)
        if step[0] == "download":
            _, recs, held, stamp, complete, again = step
            recs = last if again else recs
            keys = [(f"u{u}", i) for u, i in held]
            counts = {
                _download(s, recs, f"r{n}", now, held=keys, stamp=stamp, complete=complete > 0)
                for s in stores
            }
            assert len(counts) == 1, counts
            if complete:
                last = recs
            else:
                exact = False
        elif step[0] in ("reclaim", "undo"):
            for s in stores:
                sid = _seat(s, *step[1])
                if sid is None:
                    continue
                if step[0] == "reclaim":
                    s.deactivate_subscription(sid)
                else:
                    s.reactivate_subscription(sid)
        else:
            _, user, ago = step
            activity = [
                ActivityRecord(
                    external_user_id=f"u{user}", last_activity=NOW - dt.timedelta(days=ago)
                )
            ]
            for s in stores:
                s.apply_activity("p", activity, now=now)
        ours, ref = _seats(stores[0]), _seats(stores[1])
        if exact:
            assert ours == ref, step
            continue
        # after a download that stopped after its merge: the seats it saw unchanged were not
        # written (only a complete download carries them), so they may read as seen and
        # checked earlier than the reference says, never later; all else is the same
        assert ours.keys() == ref.keys()
        for key, seat in ours.items():
            want = ref[key]
            assert _older(seat.last_seen_at, want.last_seen_at), (key, step)
            assert _older(seat.activity_checked_at, want.activity_checked_at), (key, step)
            assert attrs.evolve(seat, last_seen_at=None, activity_checked_at=None) == attrs.evolve(
                want, last_seen_at=None, activity_checked_at=None
            ), (key, step)


def _older(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    return a is None or (b is not None and a <= b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_steps, min_size=1, max_size=8))
def test_carried_seats_read_as_if_every_seat_were_written(steps: list[tuple[Any, ...]]) -> None:
    stores: list[Store] = [SqliteStore(":memory:"), WritesEverySeat(":memory:")]
    try:
        _run(stores, steps)
    finally:
        for s in stores:
            s.close()


def test_the_same_on_both_stores(new_store: Callable[[], Store]) -> None:
    """A fixed sequence with every kind of step, on this store against the reference."""
    a = [
        Rec(u, i, days=u % 3 + 2, unknown=u == 5) for u in range(1, 7) for i in IDENTS[: u % 2 + 1]
    ]
    b = [attrs.evolve(r, upn=1) if r.user == 2 else r for r in a if r.user != 4]
    steps: list[tuple[Any, ...]] = [
        ("download", a, [], True, 1, False),
        ("download", a, [], True, 1, False),  # carries every seat
        ("download", a, [(3, "x.roadmaps")], True, 1, False),  # u3 written, not checked
        ("reclaim", (1, "x.roadmaps")),
        ("download", a, [], False, 1, False),
        ("undo", (1, "x.roadmaps")),
        ("activity", 6, 0),
        ("download", b, [], True, 0, False),
        ("download", b, [(6, "x.develop")], True, 1, False),
        ("reclaim", (3, "x.roadmaps")),
        ("download", b, [], True, 1, False),
        ("undo", (3, "x.roadmaps")),
        ("download", a, [], False, 1, False),
        ("download", a, [], True, 1, False),
    ]
    stores = [new_store(), WritesEverySeat(":memory:")]
    try:
        _run(stores, steps)
    finally:
        stores[1].close()


def _written(store: SqliteStore) -> int:
    return int(store._q("SELECT total_changes()").fetchone()[0])


def test_a_rerun_with_nothing_new_writes_no_seat() -> None:
    """The second and third downloads of the same records change no seat row: every seat
    still reads as seen, and checked, by the latest (count SQLite's row changes)."""
    store = SqliteStore(":memory:")
    recs = [Rec(u, i) for u in range(1, 41) for i in IDENTS]
    _download(store, recs, "r1", NOW, held=[], stamp=True, complete=1)
    for n, hours in ((2, 1), (3, 30)):
        now = NOW + dt.timedelta(hours=hours)
        before = _written(store)
        assert _download(store, recs, f"r{n}", now, held=[], stamp=True, complete=1) == 80
        # staging the records is ~80 row writes into a temporary table and its marks; the
        # seats' own table (80 rows) must not be among them
        changes = store._q(
            "SELECT COUNT(*) FROM subscriptions WHERE last_seen_at = ?",
            (int(now.timestamp() * 1000),),
        ).fetchone()[0]
        assert changes == 0
        seats = list(store.iter_subscriptions("p"))
        assert len(seats) == 80
        assert {s.last_seen_at for s in seats} == {now}
        assert {s.activity_checked_at for s in seats} == {now}
        assert _written(store) - before < 2 * 80 + 40  # the stage, not the seats
    store.close()


@pytest.mark.parametrize("how", ["vanished", "reclaimed"])
def test_a_closed_seat_keeps_when_it_was_last_seen(how: str) -> None:
    """A carried seat that closes keeps the carried instants; one an undo reopens reads only
    its own (nothing carried it while it was closed) and is written by the next download."""
    store = SqliteStore(":memory:")
    recs = [Rec(u, "x.roadmaps") for u in range(1, 5)]
    t1, t2, t3 = (NOW + dt.timedelta(days=d) for d in (1, 2, 3))
    _download(store, recs, "r1", t1, held=[], stamp=True, complete=1)
    _download(store, recs, "r2", t2, held=[], stamp=True, complete=1)  # carried
    sid = _seat(store, 1, "x.roadmaps")
    assert sid is not None
    if how == "reclaimed":
        store.deactivate_subscription(sid)
        _download(store, recs[1:], "r3", t3, held=[], stamp=True, complete=1)
    else:
        _download(store, recs[1:], "r3", t3, held=[], stamp=True, complete=1)
    closed = store.get_subscription(sid)
    assert closed is not None and not closed.active
    assert (closed.last_seen_at, closed.activity_checked_at) == (t2, t2)
    store.reactivate_subscription(sid)
    back = store.get_subscription(sid)
    assert back is not None and back.active
    assert (back.last_seen_at, back.activity_checked_at) == (t2, t2)
    others = [s for s in store.iter_subscriptions("p") if s.id != sid]
    assert {(s.last_seen_at, s.activity_checked_at) for s in others} == {(t3, t3)}
    store.close()


def test_a_workspace_from_before_carrying_reads_the_same_then_carries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``engine`` 6 on a workspace built by ``engine`` 5: nothing is carried, every seat reads
    as stored; its next download writes the seats it sees, the one after carries them."""
    from saas_license._store._schema import MIGRATIONS

    from .test_store_migration_ingest import NOW as OLD_NOW
    from .test_store_migration_ingest import _old_seats, _records

    path = tmp_path / "ws.db"
    with monkeypatch.context() as m:
        m.setitem(MIGRATIONS, "engine", MIGRATIONS["engine"][:5])
        old = SqliteStore(path)
        _old_seats(old, _records(12))
        old.close()
    store = SqliteStore(path)
    try:
        assert store.schema_versions()["engine"] == len(MIGRATIONS["engine"]) >= 6
        seats = list(store.iter_subscriptions("p"))
        assert len(seats) == 12 and {s.last_seen_at for s in seats} == {OLD_NOW}
        stored = [tuple(r) for r in store._q("SELECT * FROM subscriptions ORDER BY id")]
        records = [
            SubscriptionRecord(
                external_user_id=s.external_user_id,
                user_principal_name=s.user_principal_name,
                identifier=s.identifier,
                last_activity=s.last_activity,
                attributes=dict(s.attributes),
            )
            for s in seats
        ]
        for n, hours in ((1, 1), (2, 2)):
            now = OLD_NOW + dt.timedelta(hours=hours)
            with store.stage_download("p", run_id=f"new{n}") as stage:
                stage.add(records)
                stage.merge(now=now)
                stage.close_unseen()
            after = [tuple(r) for r in store._q("SELECT * FROM subscriptions ORDER BY id")]
            assert (after == stored) is (n == 2)  # the first writes, the second carries
            assert {s.last_seen_at for s in store.iter_subscriptions("p")} == {now}
            stored = after
    finally:
        store.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.lists(_recs, max_size=8),
    second=st.lists(_recs, min_size=1, max_size=12),
)
def test_a_download_merged_whole_equals_its_records_merged_one_by_one(
    first: list[Rec], second: list[Rec]
) -> None:
    """Keys listed twice or more, changed by one row and unchanged by the next: the merge ends
    where merging the records one at a time, in order, ends (what a seat says, not when)."""
    whole, one_by_one = SqliteStore(":memory:"), SqliteStore(":memory:")
    try:
        for s in (whole, one_by_one):
            _download(s, first, "r1", NOW, held=[], stamp=True, complete=1)
        later = NOW + dt.timedelta(hours=1)
        with whole.stage_download("p", run_id="r2") as stage:
            stage.add(r.record() for r in second)
            stage.merge(now=later, activity_checked=True)
        for r in second:
            one_by_one.upsert_subscriptions("p", [r.record()], run_id="r2", now=later)

        def what(store: Store) -> dict[tuple[str, str], Any]:
            return {
                k: attrs.evolve(s, last_seen_at=None, activity_checked_at=None)
                for k, s in _seats(store).items()
            }

        assert what(whole) == what(one_by_one)
    finally:
        whole.close()
        one_by_one.close()
