"""A stored reclaim plan read lazily: its summary at hand, its items a page at a time.

A plan of a million-seat profile may list hundreds of thousands of seats; :class:`StoredPlan`
keeps only the plan's head and counts, and its ``items``/``held`` are views that read the
store's ``reclaim_plan_items`` rows a page at a time (issue 13: memory flat in candidates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar, overload

import attrs

from .._convert import converter
from .records import HeldItem, PlanAction, PlanItem, ReclaimPlan

__all__ = ["PlanItems", "StoredPlan", "head_data", "head_of"]

T = TypeVar("T", PlanItem, HeldItem)

#: Items read from the store per page when a view is iterated.
PAGE = 500


class _PlanPages(Protocol):
    def plan_items(
        self, plan_id: str, *, held: bool = False, limit: int = 500, after: int = -1
    ) -> list[tuple[int, Any]]: ...


class PlanItems(Sequence[T], Generic[T]):
    """Part of a stored plan's items (or held items), positions ``start`` to ``stop``, read from
    the store a page at a time when iterated; slices are views too (``plan.items[:20]``)."""

    def __init__(
        self, store: _PlanPages, plan_id: str, *, held: bool, start: int, stop: int
    ) -> None:
        self._store, self._plan_id, self._held = store, plan_id, held
        self._start, self._stop = start, max(start, stop)

    def __len__(self) -> int:
        return self._stop - self._start

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, slice):
            lo, hi, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            return PlanItems(
                self._store,
                self._plan_id,
                held=self._held,
                start=self._start + lo,
                stop=self._start + max(lo, hi),
            )
        n = index + len(self) if index < 0 else index
        if not 0 <= n < len(self):
            raise IndexError("plan item index out of range")
        page = self._store.plan_items(
            self._plan_id, held=self._held, limit=1, after=self._start + n - 1
        )
        if not page:  # the plan expired unapplied and a newer plan dropped its items
            raise IndexError(f"plan {self._plan_id} no longer holds its items (it expired)")
        item: T = page[0][1]
        return item

    def pages(self, size: int = PAGE) -> Iterator[list[T]]:
        """The items a page of ``size`` at a time."""
        after = self._start - 1
        while after < self._stop - 1:
            page = self._store.plan_items(
                self._plan_id, held=self._held, limit=min(size, self._stop - 1 - after), after=after
            )
            if not page:
                return
            yield [item for _, item in page]
            after = page[-1][0]

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (PlanItems, list, tuple)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:  # pragma: no cover - views are not keys
        raise TypeError("unhashable type: 'PlanItems'")

    def __repr__(self) -> str:
        part = "held" if self._held else "items"
        return f"<PlanItems {part} {self._start}..{self._stop} of plan {self._plan_id}>"


@attrs.frozen(kw_only=True)
class StoredPlan:
    """A stored reclaim plan: its head and counts, with its items read from the store on demand.

    What :meth:`Plans.create <saas_license._workspace.plans.Plans.create>` and a daily run
    (``RunReport.plan``) return. Reads like :class:`ReclaimPlan` (``items``, ``held``,
    ``reclaims``, ``notices``, ``len()``, ``savings_by_currency``), but the items are lazy views
    of the stored rows (``plan.items[:20]`` reads 20); :meth:`load` builds the whole
    :class:`ReclaimPlan` for a plan known to be small.
    """

    id: str
    profile: str
    created_at: dt.datetime
    reclaim_enabled: bool
    expires_at: dt.datetime | None = None
    dry_run: bool = True
    #: Items that notify their user first (they come first in ``items``).
    notice_count: int = 0
    #: Items that call the vendor.
    reclaim_count: int = 0
    #: Open candidates the plan does not act on.
    held_count: int = 0
    #: Potential savings of the reclaim items, summed per currency (unknown prices left out).
    savings_by_currency: dict[str, Decimal] = attrs.Factory(dict)
    #: The reclaim scope the plan was made with, and whether each vendor unit's reclaim items
    #: are next to each other in ``items`` (so apply can take them a page at a time).
    scope: str = ""
    units_contiguous: bool = False
    #: When the plan was applied (None: not yet), as the store said when it was read.
    applied_at: dt.datetime | None = None
    _store: Any = attrs.field(default=None, eq=False, repr=False, alias="store")

    @property
    def items(self) -> PlanItems[PlanItem]:
        """Every item the plan acts on, notices first (a lazy view)."""
        return PlanItems(self._store, self.id, held=False, start=0, stop=len(self))

    @property
    def held(self) -> PlanItems[HeldItem]:
        """The open candidates the plan holds back, with why (a lazy view)."""
        return PlanItems(self._store, self.id, held=True, start=0, stop=self.held_count)

    @property
    def notices(self) -> PlanItems[PlanItem]:
        """The items that only notify their user (a lazy view)."""
        return PlanItems(self._store, self.id, held=False, start=0, stop=self.notice_count)

    @property
    def reclaims(self) -> PlanItems[PlanItem]:
        """The items that call the vendor (a lazy view)."""
        return PlanItems(self._store, self.id, held=False, start=self.notice_count, stop=len(self))

    @property
    def total_potential_savings(self) -> Decimal | None:
        """Sum of the reclaim items' savings, or None when no unit cost is known for any of them."""
        known = self.savings_by_currency
        return sum(known.values(), Decimal(0)) if known else None

    def __len__(self) -> int:
        return self.notice_count + self.reclaim_count

    def load(self) -> ReclaimPlan:
        """The whole plan in memory (every item and held item): for plans known to be small."""
        return ReclaimPlan(
            profile=self.profile,
            created_at=self.created_at,
            items=tuple(self.items),
            reclaim_enabled=self.reclaim_enabled,
            dry_run=self.dry_run,
            id=self.id,
            expires_at=self.expires_at,
            held=tuple(self.held),
        )


def summary_of(plan: ReclaimPlan, *, scope: str, units: Sequence[str]) -> dict[str, Any]:
    """The stored summary of a whole plan (``units``: each item's reclaim unit, in order)."""
    reclaim_units = [
        u for u, i in zip(units, plan.items, strict=True) if i.kind is PlanAction.RECLAIM
    ]
    changes = sum(1 for n, u in enumerate(reclaim_units) if n == 0 or reclaim_units[n - 1] != u)
    return {
        "notice_count": len(plan.notices),
        "reclaim_count": len(plan.reclaims),
        "held_count": len(plan.held),
        "savings_by_currency": converter.unstructure(plan.savings_by_currency),
        "scope": scope,
        "units_contiguous": changes == len(set(reclaim_units)),
    }


#: The fields of a plan that are its items: a stored head holds them empty.
_ITEM_FIELDS = ("items", "held")


def head_data(plan: ReclaimPlan) -> dict[str, Any]:
    """``plan``'s head as stored: what the converter makes of it with no items, field by field.

    Storing or reading a head never builds the converter's hooks for a whole plan (its items,
    their candidates and seats: ~10 ms of a daily run, which stores its items in SQL).
    """
    return {
        f.name: [] if f.name in _ITEM_FIELDS else converter.unstructure(getattr(plan, f.name))
        for f in attrs.fields(ReclaimPlan)
    }


def head_of(data: dict[str, Any]) -> ReclaimPlan:
    """A stored head back as a :class:`ReclaimPlan` without items (:func:`head_data` reversed)."""
    fields = attrs.fields(attrs.resolve_types(ReclaimPlan))
    values: dict[str, Any] = {
        f.name: converter.structure(data[f.name], f.type)  # type: ignore[arg-type]  # resolved
        for f in fields
        if f.name not in _ITEM_FIELDS and f.name in data
    }
    return ReclaimPlan(**values, items=(), held=())


def stored_plan(
    head: dict[str, Any], summary: dict[str, Any], *, store: Any, plan_id: str
) -> StoredPlan:
    """A :class:`StoredPlan` from a stored head (a :class:`ReclaimPlan` without items) and summary."""
    plan = head_of(head)
    return StoredPlan(
        id=plan_id,
        profile=plan.profile,
        created_at=plan.created_at,
        reclaim_enabled=plan.reclaim_enabled,
        expires_at=plan.expires_at,
        dry_run=plan.dry_run,
        notice_count=int(summary.get("notice_count", 0)),
        reclaim_count=int(summary.get("reclaim_count", 0)),
        held_count=int(summary.get("held_count", 0)),
        savings_by_currency={
            str(k): Decimal(str(v)) for k, v in summary.get("savings_by_currency", {}).items()
        },
        scope=str(summary.get("scope", "")),
        units_contiguous=bool(summary.get("units_contiguous", False)),
        store=store,
    )


def _unstructure(plan: StoredPlan) -> dict[str, Any]:
    """A stored plan as JSON: its summary (never the store it reads from, never every item)."""
    return {
        f.alias or f.name: converter.unstructure(getattr(plan, f.name))
        for f in attrs.fields(StoredPlan)
        if f.name != "_store"
    }


converter.register_unstructure_hook(StoredPlan, _unstructure)
