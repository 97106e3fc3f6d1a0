"""Paginators for the four ways vendors page a listing: page numbers, offsets, cursors, next links.

Each one streams every record once (de-duplicated by ``key`` in a :class:`KeySet`), refuses an
endless listing (a cursor, link or page that comes back again raises
:class:`EndlessListingError` naming it), and reads the listing again when it drifted while it
was read (totals changed, a record seen twice, a count that does not match the total). Page
numbers and offsets with a known total fetch the first page, then the rest concurrently, at
most ``workers`` in flight (the client's rate governor paces them); cursors and links can only
be followed one by one. No httpx here: ``fetch`` callables do the HTTP.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

import attrs

from .._errors import InconsistentListingError
from ._pagination import KeySet, Page
from ._ratelimit import RateLimit

__all__ = [
    "CursorPage",
    "EndlessListingError",
    "OffsetPage",
    "listing_workers",
    "paginate",
    "paginate_cursor",
    "paginate_links",
    "paginate_offsets",
]

log = logging.getLogger("saas_license.http")

T = TypeVar("T")

#: A page-number or offset listing without a total stops after this many pages (a guard).
DEFAULT_MAX_PAGES = 100_000


#: Pages in flight when neither the options nor the rate limits say otherwise.
DEFAULT_WORKERS = 4
#: Never more pages in flight than this (sockets and memory), whatever the budget allows.
MAX_WORKERS = 16


def listing_workers(limits: Sequence[RateLimit], explicit: int | None = None) -> int:
    """How many pages a concurrent listing may fetch at once under ``limits``.

    ``explicit`` (``HttpOptions.max_concurrency``) wins when set. Otherwise half the tightest
    budget (Aha!'s 20 a second: 10), so one wave of pages fits in a window with room left for
    other requests, capped at 16; 4 without limits. The rate governor still paces every request.
    """
    if explicit is not None:
        return max(1, explicit)
    if not limits:
        return DEFAULT_WORKERS
    return max(1, min(MAX_WORKERS, min(limit.requests for limit in limits) // 2))


class EndlessListingError(InconsistentListingError):
    """A listing that would never end: a cursor, link or page that came back again."""


@attrs.frozen(kw_only=True)
class OffsetPage(Generic[T]):
    """One page of an offset/limit listing and the total the vendor reported (None: unknown)."""

    items: Sequence[T]
    total_records: int | None = None


@attrs.frozen(kw_only=True)
class CursorPage(Generic[T]):
    """One page of a cursor or next-link listing: its records and where the next page is.

    ``next`` is the token (cursor listings) or URL (next-link listings) of the following page;
    None or ``""`` ends the listing. ``total_records``, when the vendor reports it, lets the
    paginator notice a listing that changed while it was read.
    """

    items: Sequence[T]
    next: str | None
    total_records: int | None = None


def _shown(token: str) -> str:
    """A token as it may appear in an error: quoted and cut short."""
    return repr(token if len(token) <= 60 else token[:57] + "...")


class _Pass(Generic[T]):
    """One read of the whole listing: yields new items and notes any sign of drift."""

    def __init__(
        self,
        *,
        seen: KeySet | None,
        key: Callable[[T], Hashable] | None,
        first_pass: bool,
        totals: tuple[int | None, int | None],
    ) -> None:
        self.totals = totals
        self.seen, self.key, self.first_pass = seen, key, first_pass
        self.count = 0
        self.drift = False
        self.fresh = 0  # items of the last page not seen before

    def take(self, items: Sequence[T], totals: tuple[int | None, int | None]) -> Iterator[T]:
        if totals != self.totals:
            self.drift = True
        self.count += len(items)
        self.fresh = 0
        for item in items:
            if self.seen is None or self.key is None or self.seen.add(self.key(item)):
                self.fresh += 1
                yield item
            elif self.first_pass:
                self.drift = True  # a repeat inside one pass: offsets moved under us

    def drifted(self) -> bool:
        expected = self.totals[1]
        return self.drift or (expected is not None and self.count != expected)


def _ordered(
    fetch: Callable[[int], Page[T]],
    numbers: range,
    workers: int,
    ahead: dict[int, Future[Page[T]]] | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> Iterator[Page[T]]:
    """Pages ``numbers`` in order, at most ``workers`` in flight ahead of the consumer.

    ``ahead`` holds pages already requested (the first wave, in ``pool``): they are taken from
    there instead of being requested again, and count against ``workers``.
    """
    ahead = ahead if ahead is not None else {}
    if pool is None and (workers <= 1 or len(numbers) <= 1):
        for n in numbers:
            future = ahead.pop(n, None)
            yield future.result() if future is not None else fetch(n)
        return
    owned = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pages")
    pending: list[Future[Page[T]]] = []
    todo = iter(numbers)
    try:
        for n in todo:
            future = ahead.pop(n, None)
            pending.append(future if future is not None else pool.submit(fetch, n))
            if len(pending) + len(ahead) >= workers:
                break
        while pending:
            page = pending.pop(0).result()
            nxt = next(todo, None)
            if nxt is not None:
                future = ahead.pop(nxt, None)
                pending.append(future if future is not None else pool.submit(fetch, nxt))
            yield page
    finally:
        for future in pending:
            future.cancel()
        if owned:
            pool.shutdown(wait=True)


class _FirstWave(Generic[T]):
    """Page 1 and the pages after it requested at once, before page 1 tells how many there are.

    Sized from a hint (e.g. the previous run's listing), so a listing known to span ``wave``
    pages costs one round trip instead of two. Pages past the end page 1 reports are never
    read into the listing: an empty one is what was expected, an error is ignored, and one
    with records (the listing grew meanwhile) marks the pass drifted, so it is read again.
    """

    def __init__(self, fetch: Callable[[int], Page[T]], wave: int, workers: int) -> None:
        self.fetch = fetch
        self.pool = ThreadPoolExecutor(max_workers=max(wave, workers), thread_name_prefix="pages")
        self.ahead: dict[int, Future[Page[T]]] = {
            n: self.pool.submit(fetch, n) for n in range(1, wave + 1)
        }

    def first(self) -> Page[T]:
        return self.ahead.pop(1).result()

    def take(self, number: int) -> Page[T]:
        """Page ``number``: the wave's answer if it was requested early, else fetched now."""
        future = self.ahead.pop(number, None)
        return future.result() if future is not None else self.fetch(number)

    def past_the_end(self, last: int, totals: tuple[int | None, int | None]) -> bool:
        """True when a page requested past ``last`` came back with records or other totals."""
        grew = False
        for n in sorted(n for n in self.ahead if n > last):
            future = self.ahead.pop(n)
            try:
                page = future.result()
            except Exception as exc:  # a page past the end may be refused: nothing lost
                log.debug("page %d, past the end of the listing, failed: %s", n, exc)
                continue
            if page.items or (page.total_pages, page.total_records) != totals:
                grew = True
        return grew

    def close(self) -> None:
        for future in self.ahead.values():
            future.cancel()
        self.pool.shutdown(wait=True)


#: One read of a listing: ``read(keep, seen, first_pass)`` hands its :class:`_Pass` to ``keep``.
_Reader = Callable[[Callable[["_Pass[T]"], None], "KeySet | None", bool], Iterator[T]]


def _passes(
    read: _Reader[T], *, key: Callable[[T], Hashable] | None, max_passes: int, what: str
) -> Iterator[T]:
    """Run ``read`` (one pass) until a pass did not drift, at most ``max_passes`` times."""
    seen = KeySet() if key is not None else None
    passes = max_passes if key is not None else 1
    for pass_no in range(1, passes + 1):
        state: list[_Pass[T]] = []
        yield from read(state.append, seen, pass_no == 1)
        if seen is None or not state or not state[0].drifted():
            return
        log.info("%s changed while it was read (pass %d); reading it again", what, pass_no)
    raise InconsistentListingError(
        f"the {what} kept changing while it was read ({max_passes} passes); nothing partial was kept",
        hint="run again when the account is quieter",
    )


def paginate(
    fetch: Callable[[int], Page[T]],
    *,
    key: Callable[[T], Hashable] | None = None,
    workers: int = 4,
    max_passes: int = 3,
    max_pages: int = DEFAULT_MAX_PAGES,
    what: str = "listing",
    first_wave: int = 1,
) -> Iterator[T]:
    """Every item of a page-numbered listing once, streamed page by page.

    ``fetch(n)`` returns page ``n`` (1-based). When page 1 tells ``total_pages``, the others are
    fetched concurrently, at most ``workers`` in flight; otherwise one by one until an empty page
    or one shorter than the longest so far, and two pages in a row bringing only records already
    read raise :class:`EndlessListingError` (the vendor ignores the page number). ``key``
    identifies an item for de-duplication (None: none, and no re-reading). A pass is *drifted*
    when a page reports other totals than page 1, a page short of the last is empty, the count
    differs from ``total_records``, or (first pass) an item appeared twice; it is read again, and
    after ``max_passes`` drifted passes :class:`InconsistentListingError` is raised so the
    caller stores nothing partial.

    ``first_wave`` (at most ``workers``) requests pages 1 to ``first_wave`` at once, before page
    1 tells the count: one round trip fewer when the caller expects that many pages (e.g. from
    the previous run). It changes which requests are made, never which items come out: pages
    past the end page 1 reports are not read into the listing (one with records there marks
    the pass drifted), and pages page 1 reports beyond the wave are fetched as usual.
    """
    wave = max(1, min(first_wave, workers))

    def one_pass(keep: Callable[[_Pass[T]], None], seen: KeySet | None, first: bool) -> Iterator[T]:
        early = _FirstWave(fetch, wave, workers) if wave > 1 else None
        try:
            yield from _read(keep, seen, first, early)
        finally:
            if early is not None:
                early.close()

    def _read(
        keep: Callable[[_Pass[T]], None],
        seen: KeySet | None,
        first: bool,
        early: _FirstWave[T] | None,
    ) -> Iterator[T]:
        page = early.first() if early is not None else fetch(1)
        state: _Pass[T] = _Pass(
            seen=seen, key=key, first_pass=first, totals=(page.total_pages, page.total_records)
        )
        keep(state)
        yield from state.take(page.items, (page.total_pages, page.total_records))
        if page.total_pages is not None:
            last = page.total_pages
            if early is not None and early.past_the_end(last, state.totals):
                state.drift = True
            for later in _ordered(
                fetch,
                range(2, last + 1),
                workers,
                ahead=early.ahead if early is not None else None,
                pool=early.pool if early is not None else None,
            ):
                if not later.items:
                    state.drift = True
                yield from state.take(later.items, (later.total_pages, later.total_records))
            return
        # no count: read on page by page (the wave's pages first, as they come)
        fetch_next: Callable[[int], Page[T]] = early.take if early is not None else fetch
        longest = len(page.items)
        number = 1
        stale = 0
        while page.items and len(page.items) >= longest:
            number += 1
            if number > max_pages:
                raise EndlessListingError(
                    f"the {what} did not end after {max_pages} pages; stopped at page {number}",
                    hint="check the page parameter the spoke sends, or raise max_pages",
                )
            page = fetch_next(number)
            yield from state.take(page.items, (page.total_pages, page.total_records))
            stale = stale + 1 if page.items and state.fresh == 0 and key is not None else 0
            if stale >= 2:  # once may be drift (offsets moved); twice in a row is a loop
                raise EndlessListingError(
                    f"pages {number - 1} and {number} of the {what} repeated records already "
                    "read: the vendor seems to ignore the page number, so the listing would "
                    "never end",
                    hint="check the name of the page parameter the spoke sends",
                )
            longest = max(longest, len(page.items))

    return _passes(one_pass, key=key, max_passes=max_passes, what=what)


def paginate_offsets(
    fetch: Callable[[int, int], OffsetPage[T]],
    *,
    page_size: int,
    key: Callable[[T], Hashable] | None = None,
    workers: int = 4,
    max_passes: int = 3,
    max_pages: int = DEFAULT_MAX_PAGES,
    what: str = "listing",
    first_wave: int = 1,
) -> Iterator[T]:
    """Every item of an offset/limit listing once: ``fetch(offset, limit)`` returns one page.

    With a ``total_records`` on the first page the rest is fetched concurrently (``workers`` in
    flight); without, page after page until a short one. Guards, de-duplication, drift and
    ``first_wave`` as :func:`paginate` (it is the same engine: offset ``(n - 1) * page_size`` is
    page ``n``).
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")

    def as_page(number: int) -> Page[T]:
        got = fetch((number - 1) * page_size, page_size)
        total = got.total_records
        pages = None if total is None else math.ceil(total / page_size)
        return Page(number=number, items=got.items, total_pages=pages, total_records=total)

    return paginate(
        as_page,
        key=key,
        workers=workers,
        max_passes=max_passes,
        max_pages=max_pages,
        what=what,
        first_wave=first_wave,
    )


def _follow(
    fetch: Callable[[str | None], CursorPage[T]],
    *,
    key: Callable[[T], Hashable] | None,
    max_passes: int,
    max_pages: int,
    what: str,
    noun: str,
) -> Iterator[T]:
    def one_pass(keep: Callable[[_Pass[T]], None], seen: KeySet | None, first: bool) -> Iterator[T]:
        page = fetch(None)
        state: _Pass[T] = _Pass(
            seen=seen, key=key, first_pass=first, totals=(None, page.total_records)
        )
        keep(state)
        followed: set[str] = set()
        pages = 1
        while True:
            yield from state.take(page.items, (None, page.total_records))
            token = page.next
            if not token:
                return
            if token in followed:
                raise EndlessListingError(
                    f"the {what} sent the {noun} {_shown(token)} again after {pages} pages: "
                    "following it would never end",
                    hint="the vendor's listing is looping; report it to the vendor or retry later",
                )
            if pages >= max_pages:
                raise EndlessListingError(
                    f"the {what} did not end after {max_pages} pages (last {noun} {_shown(token)})",
                    hint="raise max_pages if the account is really that large",
                )
            followed.add(token)
            pages += 1
            page = fetch(token)

    return _passes(one_pass, key=key, max_passes=max_passes, what=what)


def paginate_cursor(
    fetch: Callable[[str | None], CursorPage[T]],
    *,
    key: Callable[[T], Hashable] | None = None,
    max_passes: int = 3,
    max_pages: int = DEFAULT_MAX_PAGES,
    what: str = "listing",
) -> Iterator[T]:
    """Every item of a cursor (next-token) listing once: ``fetch(None)`` is the first page,
    ``fetch(token)`` the page after ``token``. Pages come one by one (each needs the previous
    token). A token that comes back raises :class:`EndlessListingError` naming it; drift and
    de-duplication as :func:`paginate`.
    """
    return _follow(
        fetch, key=key, max_passes=max_passes, max_pages=max_pages, what=what, noun="cursor"
    )


def paginate_links(
    fetch: Callable[[str | None], CursorPage[T]],
    *,
    key: Callable[[T], Hashable] | None = None,
    max_passes: int = 3,
    max_pages: int = DEFAULT_MAX_PAGES,
    what: str = "listing",
) -> Iterator[T]:
    """Every item of a next-link listing once: ``fetch(None)`` reads the first page,
    ``fetch(url)`` the page at ``url``; each :class:`CursorPage` carries the next URL (from the
    body, or from a ``Link`` header via :func:`next_link`). A URL that comes back raises
    :class:`EndlessListingError` naming it; drift and de-duplication as :func:`paginate`.
    """
    return _follow(
        fetch, key=key, max_passes=max_passes, max_pages=max_pages, what=what, noun="next link"
    )
