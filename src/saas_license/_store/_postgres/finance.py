"""The :class:`~saas_license._store._finance.FinanceStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/finance.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..._errors import StoreError
from .._sqlite.finance import SqliteFinanceStore
from .base import PostgresBaseStore

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from ..._finance.allocations import EffectiveAllocation
    from ..._finance.reconciliation import Opportunity, Seat
    from ..._rules import ExclusionRule
    from .._sqlite.reconcile import ReconcileFacts

__all__ = ["PostgresFinanceStore"]


class PostgresFinanceStore(PostgresBaseStore, SqliteFinanceStore):
    """The :class:`~saas_license._store._finance.FinanceStore` part of :class:`~.PostgresStore`."""

    def reconcile_facts(
        self,
        *,
        exclusions: Sequence[ExclusionRule],
        profile_types: Mapping[str, str],
        inactivity_days: Mapping[str, int],
        now: dt.datetime,
        timezone: str,
        groups: Sequence[EffectiveAllocation] = (),
        price_days: Sequence[dt.date] = (),
    ) -> ReconcileFacts:
        """Per-(model, profile) counts for a reconciliation: the SQLite part's aggregates, in one
        snapshot (a repeatable-read transaction), with PostgreSQL's cost exclusions (the
        connection compiles them: :meth:`.dialect.Connection.cost_exclusion_sql`)."""
        from .._sqlite.reconcile import reconcile_facts

        with self._snapshot():
            return reconcile_facts(
                self._db,
                exclusions=exclusions,
                profile_types=profile_types,
                inactivity_days=inactivity_days,
                now=now,
                timezone=timezone,
                groups=groups,
                price_days=price_days,
            )

    def reclaim_opportunities(
        self,
        *,
        exclusions: Sequence[ExclusionRule],
        profile_types: Mapping[str, str],
        skip: Collection[str],
        now: dt.datetime,
        timezone: str,
        limit: int | None,
        after: tuple[Any, ...] | None = None,
    ) -> list[Opportunity]:
        """One page of a reconciliation's opportunities: the SQLite part's query, with
        PostgreSQL's cost exclusions (temporary tables, dropped by the next call)."""
        from .._sqlite.reconcile import opportunity_page

        with self._snapshot():
            return opportunity_page(
                self._db,
                exclusions=exclusions,
                profile_types=profile_types,
                skip=skip,
                now=now,
                timezone=timezone,
                limit=limit,
                after=after,
            )

    def unlicensed_seats(
        self,
        *,
        exclusions: Sequence[ExclusionRule],
        profile_types: Mapping[str, str],
        groups: Sequence[EffectiveAllocation],
        units: Sequence[tuple[str, str, int]],
        limit: int | None,
        after: tuple[str, str, int] | None = None,
        rank: int | None = None,
    ) -> list[tuple[str, Seat]]:
        """One page of a reconciliation's unlicensed seats: the SQLite part's queries, with
        PostgreSQL's cost exclusions (temporary tables, dropped by the next call)."""
        from .._sqlite.reconcile import unlicensed_page

        with self._snapshot():
            return unlicensed_page(
                self._db,
                exclusions=exclusions,
                profile_types=profile_types,
                groups=groups,
                units=units,
                limit=limit,
                after=after,
                rank=rank,
            )

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One repeatable-read snapshot for a reconciliation's queries (outside a transaction;
        inside one, that one's), the cost exclusions' temporary tables dropped first."""
        from .reconcile import drop_excluded_tables

        with self._lock:
            began = not self._depth
            if began:
                drop_excluded_tables(self._db)
                self._q("BEGIN ISOLATION LEVEL REPEATABLE READ")
            try:
                yield
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"workspace database error: {exc}") from exc
            finally:
                if began:
                    self._q("COMMIT")  # wrote only its temporary tables
