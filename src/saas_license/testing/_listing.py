"""How a fake vendor pages a listing: page numbers, offsets, cursors or next links.

A style reads its query parameters from the request and picks a slice of the listing; the fake
vendor wraps the slice as ``{"<items_key>": [...], **meta}`` and adds the style's headers
(a ``Link`` header for next links). Bad parameters give a message for a 400.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import httpx

__all__ = ["Cursors", "ListingStyle", "NextLinks", "Offsets", "PageNumbers", "Slice"]


@attrs.frozen(kw_only=True)
class Slice:
    """The part of a listing one request gets: ``ids[start:stop]``, plus body fields and headers."""

    start: int
    stop: int
    meta: Mapping[str, Any] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict)


class ListingStyle(Protocol):
    """A pagination style a fake vendor serves (``PageNumbers``, ``Offsets``, ``Cursors``, ``NextLinks``)."""

    @property
    def params(self) -> frozenset[str]:
        """The query parameters the style reads (the rest of a strict vendor refuses others)."""
        ...

    def select(self, request: httpx.Request, ids: Sequence[str]) -> Slice | str:
        """The slice ``request`` asks for, or why the request is bad (answered 400)."""
        ...


def _positive(request: httpx.Request, name: str, default: int, *, minimum: int = 1) -> int | str:
    raw = request.url.params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return f"{name} must be an integer"
    if value < minimum:
        return f"{name} must be at least {minimum}"
    return value


def _page_meta(total: int, page: int, size: int) -> dict[str, Any]:
    return {
        "page": page,
        "per_page": size,
        "total_records": total,
        "total_pages": (total + size - 1) // size,
    }


@attrs.frozen(kw_only=True)
class PageNumbers:
    """``?page=N&per_page=M`` (1-based; ``per_page`` capped at ``max_size``).

    ``meta(total, page, size)`` gives the body fields next to the items (default
    ``page``, ``per_page``, ``total_records``, ``total_pages``).
    """

    page_param: str = "page"
    size_param: str = "per_page"
    default_size: int = 30
    max_size: int = 200
    meta: Callable[[int, int, int], Mapping[str, Any]] = _page_meta

    @property
    def params(self) -> frozenset[str]:
        """``page`` and ``per_page`` (or their configured names)."""
        return frozenset({self.page_param, self.size_param})

    def select(self, request: httpx.Request, ids: Sequence[str]) -> Slice | str:
        """The page asked for (an empty one past the end)."""
        page = _positive(request, self.page_param, 1)
        size = _positive(request, self.size_param, self.default_size)
        if isinstance(page, str) or isinstance(size, str):
            return f"{self.page_param} and {self.size_param} must be positive integers"
        size = min(size, self.max_size)
        start = (page - 1) * size
        return Slice(start=start, stop=start + size, meta=dict(self.meta(len(ids), page, size)))


@attrs.frozen(kw_only=True)
class Offsets:
    """``?offset=N&limit=M`` (0-based); the body says ``offset``, ``limit`` and ``total``
    (``with_total=False`` leaves the total out, so clients must stop at a short page)."""

    offset_param: str = "offset"
    size_param: str = "limit"
    default_size: int = 50
    max_size: int = 200
    with_total: bool = True

    @property
    def params(self) -> frozenset[str]:
        """``offset`` and ``limit`` (or their configured names)."""
        return frozenset({self.offset_param, self.size_param})

    def select(self, request: httpx.Request, ids: Sequence[str]) -> Slice | str:
        """The records from ``offset``, at most ``limit`` of them."""
        offset = _positive(request, self.offset_param, 0, minimum=0)
        size = _positive(request, self.size_param, self.default_size)
        if isinstance(offset, str):
            return offset
        if isinstance(size, str):
            return size
        size = min(size, self.max_size)
        meta: dict[str, Any] = {"offset": offset, "limit": size}
        if self.with_total:
            meta["total"] = len(ids)
        return Slice(start=offset, stop=offset + size, meta=meta)


def _encode_cursor(after: str, following: str, at: int) -> str:
    raw = json.dumps([after, following, at], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str) -> tuple[str, str, int] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        after, following, at = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not (isinstance(after, str) and isinstance(following, str) and isinstance(at, int)):
        return None
    return after, following, max(0, at)


def _find(ids: Sequence[str], wanted: str, near: int) -> int | None:
    """Where ``wanted`` is now, looking near where it was first (listings are long)."""
    for lo in (max(0, near - 256), 0):
        try:
            return ids.index(wanted, lo)
        except ValueError:
            continue
    return None


@attrs.frozen(kw_only=True)
class Cursors:
    """``?cursor=TOKEN&limit=M``: opaque tokens that resume at the record the next page starts
    with (or after the last one served, if that one is gone), so a record added or removed
    meanwhile shifts nothing. The body carries ``next_cursor`` (null on
    the last page) and, with ``with_total``, ``total``."""

    cursor_param: str = "cursor"
    size_param: str = "limit"
    next_field: str = "next_cursor"
    default_size: int = 50
    max_size: int = 200
    with_total: bool = False

    @property
    def params(self) -> frozenset[str]:
        """``cursor`` and ``limit`` (or their configured names)."""
        return frozenset({self.cursor_param, self.size_param})

    def select(self, request: httpx.Request, ids: Sequence[str]) -> Slice | str:
        """The records after the cursor's record (or from its position if that record is gone)."""
        size = _positive(request, self.size_param, self.default_size)
        if isinstance(size, str):
            return size
        size = min(size, self.max_size)
        token = request.url.params.get(self.cursor_param)
        start = 0
        if token:
            decoded = _decode_cursor(token)
            if decoded is None:
                return f"{self.cursor_param} {token!r} is not a cursor this API issued"
            after, following, at = decoded
            found = _find(ids, following, at)  # the record the next page starts with
            if found is None:
                found = _find(ids, after, at - 1)
                found = found + 1 if found is not None else min(at, len(ids))
            start = found
        stop = min(start + size, len(ids))
        more = stop < len(ids)
        meta: dict[str, Any] = {
            self.next_field: _encode_cursor(ids[stop - 1], ids[stop], stop)
            if more and stop > start
            else None
        }
        if self.with_total:
            meta["total"] = len(ids)
        return Slice(start=start, stop=stop, meta=meta)


@attrs.frozen(kw_only=True)
class NextLinks:
    """Page numbers behind a next link: the absolute URL of the following page, in a
    ``Link: <url>; rel="next"`` header (``in_header=True``) or in the body's ``next_field``."""

    in_header: bool = False
    next_field: str = "next"
    page_param: str = "page"
    size_param: str = "per_page"
    default_size: int = 30
    max_size: int = 200

    @property
    def params(self) -> frozenset[str]:
        """``page`` and ``per_page`` (the next link carries them)."""
        return frozenset({self.page_param, self.size_param})

    def select(self, request: httpx.Request, ids: Sequence[str]) -> Slice | str:
        """The page asked for, with the link to the next one while there is one."""
        page = _positive(request, self.page_param, 1)
        size = _positive(request, self.size_param, self.default_size)
        if isinstance(page, str) or isinstance(size, str):
            return f"{self.page_param} and {self.size_param} must be positive integers"
        size = min(size, self.max_size)
        start = (page - 1) * size
        following: str | None = None
        if start + size < len(ids):
            url = request.url.copy_set_param(self.page_param, page + 1)
            following = str(url.copy_set_param(self.size_param, size))
        if self.in_header:
            headers = {"Link": f'<{following}>; rel="next"'} if following else {}
            return Slice(start=start, stop=start + size, headers=headers)
        return Slice(start=start, stop=start + size, meta={self.next_field: following})
