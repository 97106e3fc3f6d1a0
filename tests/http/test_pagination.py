"""Concurrent pagination: every item once, streamed in order, and correct when the listing drifts."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saas_license.http import InconsistentListingError, KeySet, Page, paginate


class Listing:
    """A page-numbered listing whose items can change between fetches (thread-safe)."""

    def __init__(
        self,
        items: list[int],
        per_page: int,
        events: dict[int, list[tuple[str, float]]] | None = None,
    ) -> None:
        self.items = list(items)
        self.per_page = per_page
        self.events = events or {}
        self.fetches = 0
        self.ever = set(items)
        self.removed: set[int] = set()
        self.next_id = max(items, default=0) + 1
        self.lock = threading.Lock()

    def fetch(self, number: int) -> Page[int]:
        with self.lock:
            self.fetches += 1
            for kind, where in self.events.get(self.fetches, []):
                if kind == "add":
                    at = int(where * (len(self.items) + 1))
                    self.items.insert(min(at, len(self.items)), self.next_id)
                    self.ever.add(self.next_id)
                    self.next_id += 1
                elif self.items:
                    gone = self.items.pop(int(where * len(self.items)) % len(self.items))
                    self.removed.add(gone)
            total = len(self.items)
            pages = -(-total // self.per_page)
            chunk = self.items[(number - 1) * self.per_page : number * self.per_page]
            return Page(number=number, items=chunk, total_pages=pages, total_records=total)


@settings(max_examples=80)
@given(
    size=st.integers(0, 300),
    per_page=st.integers(1, 40),
    workers=st.integers(1, 6),
)
def test_every_item_exactly_once_in_order(size: int, per_page: int, workers: int) -> None:
    listing = Listing(list(range(1, size + 1)), per_page)
    got = list(paginate(listing.fetch, key=lambda i: i, workers=workers))
    assert got == list(range(1, size + 1))
    assert listing.fetches == max(1, -(-size // per_page))


@settings(max_examples=120)
@given(
    size=st.integers(1, 200),
    per_page=st.integers(1, 25),
    workers=st.integers(1, 5),
    data=st.data(),
)
def test_drift_is_detected_and_relisted_without_missing_or_repeating_anyone(
    size: int, per_page: int, workers: int, data: st.DataObject
) -> None:
    pages = -(-size // per_page)
    # one change (a user added or removed) before some of the first pass's fetches
    fetch_numbers = data.draw(st.lists(st.integers(1, pages + 1), unique=True, max_size=6))
    events = {
        n: [(data.draw(st.sampled_from(["add", "remove"])), data.draw(st.floats(0, 0.999)))]
        for n in fetch_numbers
    }
    listing = Listing(list(range(1, size + 1)), per_page, events)
    got = list(paginate(listing.fetch, key=lambda i: i, workers=workers, max_passes=3))
    assert len(got) == len(set(got)), "an item was yielded twice"
    stable = set(range(1, size + 1)) - listing.removed
    assert stable <= set(got), f"missed {sorted(stable - set(got))[:5]}"
    assert set(got) <= listing.ever
    assert set(listing.items) - listing.removed <= set(got) | (
        listing.ever - set(range(1, size + 1))
    )


def test_a_listing_that_never_settles_is_an_error_not_a_partial_result() -> None:
    events = {n: [("add", 0.0)] for n in range(2, 200)}
    listing = Listing(list(range(1, 50)), 10, events)
    with pytest.raises(InconsistentListingError, match="kept changing"):
        list(paginate(listing.fetch, key=lambda i: i, workers=2, max_passes=3, what="users list"))


def test_without_a_key_there_is_one_pass_and_no_deduplication() -> None:
    listing = Listing([1, 2, 3, 4], 2, {2: [("add", 0.0)]})
    got = list(paginate(listing.fetch, workers=1))
    assert listing.fetches == 2 and got == [1, 2, 2, 3]


def test_pages_are_not_fetched_far_ahead_of_the_consumer() -> None:
    listing = Listing(list(range(1, 401)), 10)  # 40 pages
    stream = paginate(listing.fetch, key=lambda i: i, workers=3)
    first = [next(stream) for _ in range(11)]  # page 1 and the start of page 2
    assert first == list(range(1, 12))
    assert listing.fetches <= 1 + 3 + 1
    stream.close()  # stopping early cancels what is queued
    fetched = listing.fetches
    assert fetched <= 6


def test_a_failing_page_fails_the_listing() -> None:
    listing = Listing(list(range(1, 101)), 10)

    def fetch(number: int) -> Page[int]:
        if number == 5:
            raise RuntimeError("page 5 broke")
        return listing.fetch(number)

    with pytest.raises(RuntimeError, match="page 5"):
        list(paginate(fetch, key=lambda i: i, workers=3))


@given(
    keys=st.lists(
        st.one_of(
            st.integers(-(2**70), 2**70),
            st.integers(0, 10**19).map(str),
            st.sampled_from(["007", "0", "-1", "abc", "٣", " 5"]),
        )
    )
)
def test_keyset_behaves_like_a_set(keys: list[object]) -> None:
    KeySet._FLUSH = 8  # exercise run merging on small inputs
    try:
        packed, plain = KeySet(), set()
        for key in keys:
            assert packed.add(key) == (key not in plain)  # type: ignore[arg-type]
            plain.add(key)
            assert key in packed
        assert len(packed) == len(plain)
        assert all(k in packed for k in plain)
        assert ("nope" in packed) is False
    finally:
        KeySet._FLUSH = 2048


@given(
    parts=st.lists(
        st.tuples(
            st.booleans(),
            st.lists(st.integers(0, 10**6), max_size=40),
        ),
        max_size=8,
    )
)
def test_keyset_of_ascending_stretches_behaves_like_a_set(
    parts: list[tuple[bool, list[int]]],
) -> None:
    """Ascending stretches (a listing in id order: the last run grows in place) mixed with
    keys in any order (runs merged): still a set, every run still sorted."""
    keys: list[str] = []
    top = 0
    for ascending, steps in parts:
        if ascending:  # each key above the last one so far (steps of 0 repeat a key)
            for step in steps:
                top += step
                keys.append(str(top))
        else:
            keys.extend(str(step) for step in steps)
    KeySet._FLUSH = 8
    try:
        packed, plain = KeySet(), set()
        for key in keys:
            assert packed.add(key) == (key not in plain)
            plain.add(key)
        assert len(packed) == len(plain)
        assert all(k in packed for k in plain)
        assert all(list(run) == sorted(run) for run in packed._runs)
        assert str(max((int(k) for k in keys), default=0) + 1) not in packed
    finally:
        KeySet._FLUSH = 2048


# -- the first wave: pages 1..N requested before page 1 tells the count ---------------------


@settings(max_examples=80)
@given(
    size=st.integers(0, 300),
    per_page=st.integers(1, 40),
    workers=st.integers(1, 6),
    first_wave=st.integers(1, 8),
)
def test_a_first_wave_of_any_size_gives_every_item_once_in_order(
    size: int, per_page: int, workers: int, first_wave: int
) -> None:
    listing = Listing(list(range(1, size + 1)), per_page)
    got = list(paginate(listing.fetch, key=lambda i: i, workers=workers, first_wave=first_wave))
    assert got == list(range(1, size + 1))
    pages = -(-size // per_page)
    # every page once, plus the wave's pages past the end (asked before the count was known)
    assert listing.fetches == max(1, pages, min(first_wave, workers))


@settings(max_examples=120)
@given(
    size=st.integers(1, 200),
    per_page=st.integers(1, 25),
    workers=st.integers(2, 5),
    first_wave=st.integers(2, 8),
    data=st.data(),
)
def test_a_first_wave_under_drift_never_misses_or_repeats_anyone(
    size: int, per_page: int, workers: int, first_wave: int, data: st.DataObject
) -> None:
    pages = -(-size // per_page)
    # changes during the first pass's fetches (the wave's pages past the end included)
    first_pass = max(pages, min(first_wave, workers))
    fetch_numbers = data.draw(st.lists(st.integers(1, first_pass + 1), unique=True, max_size=6))
    events = {
        n: [(data.draw(st.sampled_from(["add", "remove"])), data.draw(st.floats(0, 0.999)))]
        for n in fetch_numbers
    }
    listing = Listing(list(range(1, size + 1)), per_page, events)
    got = list(
        paginate(
            listing.fetch, key=lambda i: i, workers=workers, max_passes=3, first_wave=first_wave
        )
    )
    assert len(got) == len(set(got)), "an item was yielded twice"
    stable = set(range(1, size + 1)) - listing.removed
    assert stable <= set(got), f"missed {sorted(stable - set(got))[:5]}"
    assert set(got) <= listing.ever


def test_the_first_wave_is_requested_before_page_one_answers() -> None:
    listing = Listing(list(range(1, 41)), 10)  # 4 pages
    started = {n: threading.Event() for n in range(1, 5)}

    def fetch(number: int) -> Page[int]:
        started[number].set()
        if number == 1:  # page 1 answers only once the others were asked for
            assert all(started[n].wait(5) for n in (2, 3, 4)), "the wave waited for page 1"
        return listing.fetch(number)

    assert list(paginate(fetch, key=lambda i: i, workers=4, first_wave=4)) == list(range(1, 41))
    assert listing.fetches == 4


def test_a_page_past_the_end_with_records_means_the_listing_grew_and_is_read_again() -> None:
    # page 1 says two pages; by the time page 3 (asked early) answers, the listing has grown
    listing = Listing(list(range(1, 21)), 10, {3: [("add", 1.0)]})
    calls: list[int] = []

    def fetch(number: int) -> Page[int]:
        calls.append(number)
        if number == 3 and len(calls) <= 3:  # first pass: page 3 after pages 1 and 2 were served
            while listing.fetches < 2:
                threading.Event().wait(0.001)
        return listing.fetch(number)

    got = list(paginate(fetch, key=lambda i: i, workers=3, first_wave=3))
    assert sorted(got) == list(range(1, 22)) and len(got) == 21
    assert len(calls) > 3, "the grown listing was not read again"


def test_a_refused_page_past_the_end_is_ignored_but_a_refused_page_inside_fails() -> None:
    listing = Listing(list(range(1, 21)), 10)  # 2 pages

    def refusing(bad: int) -> Callable[[int], Page[int]]:
        def fetch(number: int) -> Page[int]:
            if number == bad:
                raise RuntimeError(f"page {number} refused")
            return listing.fetch(number)

        return fetch

    got = list(paginate(refusing(4), key=lambda i: i, workers=4, first_wave=4))
    assert got == list(range(1, 21))
    with pytest.raises(RuntimeError, match="page 2 refused"):
        list(paginate(refusing(2), key=lambda i: i, workers=4, first_wave=4))


def test_without_a_count_the_waves_pages_are_read_in_order_and_the_rest_one_by_one() -> None:
    items = list(range(1, 56))

    def fetch(number: int) -> Page[int]:
        chunk = items[(number - 1) * 10 : number * 10]
        return Page(number=number, items=chunk, total_pages=None, total_records=None)

    assert list(paginate(fetch, key=lambda i: i, workers=3, first_wave=3)) == items
