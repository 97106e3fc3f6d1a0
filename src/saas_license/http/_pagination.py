"""The records of a paged listing and the compact key set that de-duplicates it (no httpx here).

The paginators themselves live in ``_paginators``: page numbers, offsets, cursors, next links.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

import attrs

from .._errors import InconsistentListingError

__all__ = ["InconsistentListingError", "KeySet", "Page"]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a page-numbered listing, with the totals the server reported with it."""

    number: int
    items: Sequence[T]
    #: None when the vendor does not say: pages are then read one by one until a short one.
    total_pages: int | None
    total_records: int | None = None


class KeySet:
    """A set of keys that stays small: numeric string keys are packed into sorted int64 runs.

    Vendor ids are mostly numeric strings; 100,000 of them take about 0.8 MB here instead of
    ~10 MB in a set of str. Runs are merged like a binary counter (at most ~log2(n) runs, never
    a list of all keys in memory); keys above every earlier one (a listing in ascending id
    order) extend the last run instead. Any other key (an int, leading zeros, text) goes to a set.
    """

    _FLUSH = 2048

    def __init__(self) -> None:
        self._runs: list[array[int]] = []
        self._top = -1  # the largest number in the runs (-1: none)
        self._recent: set[int] = set()
        self._other: set[Hashable] = set()

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs) + len(self._recent) + len(self._other)

    @staticmethod
    def _as_int(key: Hashable) -> int | None:
        """The number a canonical decimal string stands for (other keys are kept as they are)."""
        if not (isinstance(key, str) and key.isascii() and key.isdigit()):
            return None
        if key[0] == "0" and key != "0":
            return None
        value = int(key)
        return value if value < 2**63 else None

    def _in_runs(self, number: int) -> bool:
        if number > self._top:  # listings mostly come in ascending id order: no search at all
            return False
        for run in self._runs:
            if run[0] <= number <= run[-1]:
                i = bisect_left(run, number)
                if run[i] == number:
                    return True
        return False

    def _flush(self) -> None:
        run = array("q", sorted(self._recent))
        self._recent.clear()
        if self._runs and run[0] > self._top:
            # all above every key so far (an ascending listing): the last run grows in place,
            # sorted still, with no merge at all
            self._runs[-1].extend(run)
            self._top = run[-1]
            return
        self._top = max(self._top, run[-1])
        while self._runs and len(self._runs[-1]) <= len(run):
            run = array("q", heapq.merge(self._runs.pop(), run))
        self._runs.append(run)

    def add(self, key: Hashable) -> bool:
        """Add ``key``; True if it was not there before."""
        number = self._as_int(key)
        if number is None:
            if key in self._other:
                return False
            self._other.add(key)
            return True
        if number in self._recent or self._in_runs(number):
            return False
        self._recent.add(number)
        if len(self._recent) >= self._FLUSH:
            self._flush()
        return True

    def __contains__(self, key: Hashable) -> bool:
        number = self._as_int(key)
        if number is None:
            return key in self._other
        return number in self._recent or self._in_runs(number)
