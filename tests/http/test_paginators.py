"""The four paginators: each record once for any page size and total, concurrency inside a bound,
drift re-read, and a repeated cursor/link/page always raising (naming it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from saas_license.http import (
    CursorPage,
    EndlessListingError,
    HttpOptions,
    InconsistentListingError,
    OffsetPage,
    Page,
    make_client,
    next_link,
    paginate,
    paginate_cursor,
    paginate_links,
    paginate_offsets,
    parse_link_header,
    request_answer,
)

sizes = st.integers(min_value=1, max_value=17)
totals = st.integers(min_value=0, max_value=120)


def _records(total: int) -> list[str]:
    return [str(1000 + i) for i in range(total)]


def _page_fetch(
    records: Sequence[str], size: int, *, with_total: bool
) -> Callable[[int], Page[str]]:
    pages = max(1, -(-len(records) // size))

    def fetch(n: int) -> Page[str]:
        return Page(
            number=n,
            items=records[(n - 1) * size : n * size],
            total_pages=(0 if not records else pages) if with_total else None,
            total_records=len(records) if with_total else None,
        )

    return fetch


@given(total=totals, size=sizes, with_total=st.booleans(), workers=st.integers(1, 5))
def test_page_numbers_give_each_record_once(
    total: int, size: int, with_total: bool, workers: int
) -> None:
    records = _records(total)
    fetch = _page_fetch(records, size, with_total=with_total)
    got = list(paginate(fetch, key=lambda r: r, workers=workers))
    assert got == records


@given(total=totals, size=sizes, with_total=st.booleans())
def test_offsets_give_each_record_once(total: int, size: int, with_total: bool) -> None:
    records = _records(total)
    asked: list[tuple[int, int]] = []

    def fetch(offset: int, limit: int) -> OffsetPage[str]:
        asked.append((offset, limit))
        return OffsetPage(
            items=records[offset : offset + limit], total_records=total if with_total else None
        )

    got = list(paginate_offsets(fetch, page_size=size, key=lambda r: r))
    assert got == records
    assert all(limit == size and offset % size == 0 for offset, limit in asked)


def _cursor_fetch(records: Sequence[str], size: int) -> Callable[[str | None], CursorPage[str]]:
    def fetch(token: str | None) -> CursorPage[str]:
        start = 0 if token is None else int(token)
        stop = start + size
        return CursorPage(
            items=records[start:stop], next=str(stop) if stop < len(records) else None
        )

    return fetch


@given(total=totals, size=sizes)
def test_cursors_and_links_give_each_record_once(total: int, size: int) -> None:
    records = _records(total)
    assert list(paginate_cursor(_cursor_fetch(records, size), key=lambda r: r)) == records
    assert list(paginate_links(_cursor_fetch(records, size), key=lambda r: r)) == records


@given(size=sizes, pages_before_loop=st.integers(1, 6), back=st.integers(0, 5), link=st.booleans())
def test_a_repeated_token_always_raises_naming_it(
    size: int, pages_before_loop: int, back: int, link: bool
) -> None:
    """The vendor's n-th page points back at a token it gave before: never an endless loop."""
    target = str(max(1, pages_before_loop - back))

    def fetch(token: str | None) -> CursorPage[str]:
        n = 0 if token is None else int(token)
        items = [f"{n}-{i}" for i in range(size)]
        return CursorPage(items=items, next=target if n >= pages_before_loop else str(n + 1))

    paginator = paginate_links if link else paginate_cursor
    with pytest.raises(EndlessListingError) as err:
        list(paginator(fetch, key=lambda r: r))
    assert repr(target) in str(err.value)
    assert ("next link" if link else "cursor") in str(err.value)


def test_a_vendor_ignoring_the_page_number_raises_naming_the_pages() -> None:
    calls: list[int] = []

    def fetch(n: int) -> Page[str]:
        calls.append(n)
        return Page(number=n, items=["a", "b"], total_pages=None)

    with pytest.raises(EndlessListingError, match="pages 2 and 3"):
        list(paginate(fetch, key=lambda r: r))
    assert calls == [1, 2, 3]


def test_without_a_key_an_endless_listing_stops_at_max_pages() -> None:
    def fetch(token: str | None) -> CursorPage[int]:
        n = 0 if token is None else int(token)
        return CursorPage(items=[n], next=str(n + 1))

    with pytest.raises(EndlessListingError, match="did not end after 50 pages"):
        list(paginate_cursor(fetch, max_pages=50))


def test_cursor_drift_is_read_again_and_records_come_once() -> None:
    """A total that does not match the count read means the listing moved: read it again."""
    state = {"pass": 0}
    records = _records(10)

    def fetch(token: str | None) -> CursorPage[str]:
        if token is None:
            state["pass"] += 1
        start = 0 if token is None else int(token)
        items = records[start : start + 3]
        if state["pass"] == 1 and start == 3:
            items = items[:2]  # a record went missing on the first pass
        stop = start + 3
        return CursorPage(
            items=items, next=str(stop) if stop < len(records) else None, total_records=10
        )

    got = list(paginate_cursor(fetch, key=lambda r: r))
    assert sorted(got) == records and len(got) == 10
    assert state["pass"] == 2


def test_a_listing_that_keeps_drifting_raises() -> None:
    def fetch(offset: int, limit: int) -> OffsetPage[str]:
        return OffsetPage(items=[str(offset)], total_records=5 + offset)  # totals move

    with pytest.raises(InconsistentListingError, match="kept changing"):
        list(paginate_offsets(fetch, page_size=1, key=lambda r: r, max_passes=2))


def test_known_totals_are_fetched_concurrently_within_the_bound() -> None:
    lock = threading.Lock()
    now = {"in_flight": 0, "peak": 0}
    records = _records(40)

    def fetch(n: int) -> Page[str]:
        with lock:
            now["in_flight"] += 1
            now["peak"] = max(now["peak"], now["in_flight"])
        time.sleep(0.01)
        with lock:
            now["in_flight"] -= 1
        return Page(number=n, items=records[(n - 1) * 2 : n * 2], total_pages=20, total_records=40)

    assert list(paginate(fetch, key=lambda r: r, workers=3)) == records
    assert now["peak"] == 3


def test_link_header_parsing() -> None:
    value = (
        '<https://api.example.test/users?page=3>; rel="next", '
        '<https://api.example.test/users?page=9>; rel="last", <x>; title="no rel"'
    )
    assert parse_link_header(value) == {
        "next": "https://api.example.test/users?page=3",
        "last": "https://api.example.test/users?page=9",
    }
    assert parse_link_header('<a>; rel="prev next"')["next"] == "a"
    assert next_link(httpx.Headers({"Link": '<u2>; rel="next"'})) == "u2"
    assert next_link(httpx.Headers({"Link": '<u1>; rel="prev"'})) is None
    assert next_link(httpx.Headers({})) is None


@respx.mock(base_url="https://api.example.test")
def test_next_links_in_the_link_header_over_http(respx_mock: respx.MockRouter) -> None:
    pages = {
        "1": ([{"id": "a"}, {"id": "b"}], '<https://api.example.test/users?page=2>; rel="next"'),
        "2": ([{"id": "c"}], None),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        items, link = pages[request.url.params.get("page", "1")]
        return httpx.Response(200, json={"users": items}, headers={"Link": link} if link else {})

    respx_mock.get("/users").mock(side_effect=answer)
    client = make_client("https://api.example.test", options=HttpOptions(rate_limit=False))

    def fetch(url: str | None) -> CursorPage[dict[str, str]]:
        got = request_answer(client, "GET", url or "/users")
        return CursorPage(items=got.body["users"], next=next_link(got.headers))

    assert [u["id"] for u in paginate_links(fetch, key=lambda u: u["id"])] == ["a", "b", "c"]


def test_listing_workers_are_sized_from_the_tightest_budget() -> None:
    from saas_license.http import RateLimit, listing_workers

    aha = (RateLimit(requests=300, per=60.0), RateLimit(requests=20, per=1.0))
    assert listing_workers(aha) == 10
    assert listing_workers(aha, 3) == 3  # an explicit choice wins
    assert listing_workers(()) == 4
    assert listing_workers((RateLimit(requests=1000, per=1.0),)) == 16
    assert listing_workers((RateLimit(requests=1, per=1.0),)) == 1
