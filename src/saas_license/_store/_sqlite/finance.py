"""Entitlements and saved reconciliation results on SQLite (schema namespace "finance").

Implements :class:`~saas_license._store._finance.FinanceStore`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ..._convert import converter
from ..._errors import ConfigError, StoreError
from ..._finance.allocations import Allocation, EffectiveAllocation
from ..._finance.entitlements import Entitlement
from ..._time import format_instant, parse_instant
from .._finance import SavedReconciliation, SeatStatus, StoredRemediation
from .base import SqliteBaseStore, _dumps

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from ..._finance.reconciliation import Opportunity, Seat
    from ..._rules import ExclusionRule
    from .reconcile import ReconcileFacts

__all__ = ["SqliteFinanceStore"]


class SqliteFinanceStore(SqliteBaseStore):
    """The :class:`~saas_license._store._finance.FinanceStore` part of :class:`~saas_license._store.SqliteStore`:
    entitlement and reconciliation tables (schema namespace "finance")."""

    def add_entitlements(self, entitlements: Iterable[Entitlement]) -> list[Entitlement]:
        """Store new entitlements in one transaction (all or none); returns them with ids."""
        out = []
        with self.transaction():
            for ent in entitlements:
                data = converter.unstructure(ent)
                data.pop("id", None)
                cur = self._q(
                    "INSERT INTO finance_entitlements (software_model, profile, data) VALUES (?, ?, ?)",
                    (ent.software_model, ent.profile, _dumps(data)),
                )
                out.append(attrs.evolve(ent, id=cur.lastrowid))
        return out

    def add_entitlement(self, entitlement: Entitlement) -> Entitlement:
        """Store one new entitlement; returns it with its id."""
        return self.add_entitlements([entitlement])[0]

    def update_entitlement(self, entitlement: Entitlement) -> Entitlement:
        """Replace a stored entitlement (matched by id)."""
        data = converter.unstructure(entitlement)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "UPDATE finance_entitlements SET software_model = ?, profile = ?, data = ? WHERE id = ?",
                (entitlement.software_model, entitlement.profile, _dumps(data), entitlement.id),
            )
            if cur.rowcount != 1:
                raise ConfigError(
                    f"no entitlement with id {entitlement.id}", field="entitlement.id"
                )
        return entitlement

    def get_entitlement(self, entitlement_id: int) -> Entitlement | None:
        """One entitlement by id."""
        row = self._q(
            "SELECT id, data FROM finance_entitlements WHERE id = ?", (entitlement_id,)
        ).fetchone()
        return None if row is None else self._row_to_entitlement(row)

    def list_entitlements(self, software_model: str | None = None) -> list[Entitlement]:
        """All entitlements (or one model's), oldest first."""
        sql = "SELECT id, data FROM finance_entitlements"
        params: tuple[Any, ...] = ()
        if software_model is not None:
            sql, params = sql + " WHERE software_model = ?", (software_model,)
        return [self._row_to_entitlement(r) for r in self._q(sql + " ORDER BY id", params)]

    @staticmethod
    def _row_to_entitlement(row: sqlite3.Row) -> Entitlement:
        return converter.structure({**json.loads(row[1]), "id": row[0]}, Entitlement)

    def save_reconciliation(self, as_of: dt.datetime, data: dict[str, Any]) -> int:
        """Keep one reconciliation result (its JSON document); returns its id."""
        with self.transaction():
            cur = self._q(
                "INSERT INTO finance_reconciliations (as_of, data) VALUES (?, ?)",
                (format_instant(as_of), _dumps(data)),
            )
        return int(cur.lastrowid or 0)

    def list_reconciliations(self, *, limit: int = 20) -> list[SavedReconciliation]:
        """Saved reconciliation results, newest first."""
        rows = self._q(
            "SELECT id, as_of, data FROM finance_reconciliations ORDER BY as_of DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [
            SavedReconciliation(id=r[0], as_of=parse_instant(r[1]), data=json.loads(r[2]))
            for r in rows
        ]

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
        """Per-(model, profile) counts for a reconciliation, read with SQL aggregates in one
        read transaction (see ``_sqlite/reconcile.py``)."""
        from .reconcile import reconcile_facts  # only reconciliation needs it (start-up)

        with self._lock:
            began = not self._depth and not self._db.in_transaction
            if began:
                self._q("BEGIN")  # one snapshot for every query below
            try:
                facts = reconcile_facts(
                    self._db,
                    exclusions=exclusions,
                    profile_types=profile_types,
                    inactivity_days=inactivity_days,
                    now=now,
                    timezone=timezone,
                    groups=groups,
                    price_days=price_days,
                )
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"workspace database error: {exc}") from exc
            finally:
                if began:
                    self._db.execute("COMMIT")
        return facts

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
        """One page of a reconciliation's opportunities (open candidates on counted seats),
        idlest first, after the listing key ``after`` (see ``_sqlite/reconcile.py``)."""
        from .reconcile import opportunity_page

        with self._lock:
            try:
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
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"workspace database error: {exc}") from exc

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
        """One page of a reconciliation's unlicensed seats as (model, seat), given each unit's
        (model, profile, seats no right covers) in order, after the seat ``after`` (model,
        profile, seat id; ``rank``: its place in its unit, None to count it); see
        ``_sqlite/reconcile.py``."""
        from .reconcile import unlicensed_page

        with self._lock:
            try:
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
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"workspace database error: {exc}") from exc

    # -- allocations, products, remediation statuses, seat status (issue 16) ---------------------

    def add_allocation(self, allocation: Allocation) -> Allocation:
        """Store a new allocation; returns it with its id."""
        data = converter.unstructure(allocation)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "INSERT INTO finance_allocations (entitlement_id, data) VALUES (?, ?)",
                (allocation.entitlement_id, _dumps(data)),
            )
        return attrs.evolve(allocation, id=cur.lastrowid)

    def list_allocations(self) -> list[Allocation]:
        """Every allocation, oldest first."""
        return [
            converter.structure({**json.loads(data), "id": i}, Allocation)
            for i, data in self._q("SELECT id, data FROM finance_allocations ORDER BY id")
        ]

    def delete_allocation(self, allocation_id: int) -> bool:
        """Remove an allocation; False when there was none with that id."""
        with self.transaction():
            cur = self._q("DELETE FROM finance_allocations WHERE id = ?", (allocation_id,))
        return cur.rowcount == 1

    def set_product(self, software_model: str, product: str | None) -> None:
        """Name a model's product (None: back to its publisher)."""
        with self.transaction():
            if product is None:
                self._q("DELETE FROM finance_products WHERE software_model = ?", (software_model,))
            else:
                self._q(
                    "INSERT INTO finance_products (software_model, product) VALUES (?, ?) "
                    "ON CONFLICT (software_model) DO UPDATE SET product = excluded.product",
                    (software_model, product),
                )

    def products(self) -> dict[str, str]:
        """software model → product, for the models whose product was named."""
        return dict(self._q("SELECT software_model, product FROM finance_products").fetchall())

    def list_remediation(self) -> list[StoredRemediation]:
        """Every remediation option ever recorded, with its status, by key."""
        return [
            StoredRemediation(key=k, status=st, updated_at=parse_instant(at), data=json.loads(data))
            for k, st, at, data in self._q(
                "SELECT key, status, updated_at, data FROM finance_remediation ORDER BY key"
            )
        ]

    def save_remediation(self, items: Iterable[StoredRemediation]) -> None:
        """Insert or replace remediation options (by key) in one transaction."""
        with self.transaction():
            for item in items:
                self._q(
                    "INSERT INTO finance_remediation (key, status, updated_at, data) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET status = excluded.status, "
                    "updated_at = excluded.updated_at, data = excluded.data",
                    (item.key, item.status, format_instant(item.updated_at), _dumps(item.data)),
                )

    def record_seat_status(
        self,
        *,
        exclusions: Sequence[ExclusionRule],
        profile_types: Mapping[str, str],
        models: Sequence[str],
        unlicensed_units: Sequence[tuple[str, str, int, int]],
        reconciliation_id: int,
        groups: Sequence[EffectiveAllocation] = (),
    ) -> int:
        """Replace every seat's reconciled/unlicensed flags with a reconciliation's, set-based:
        in each (model, profile, n, used) of ``unlicensed_units`` the first ``n`` of the ``used``
        counted seats in the reconciliation's order of unlicensed seats (``groups`` in effect)
        are unlicensed."""
        from .reconcile import record_seat_status

        with self.transaction():
            try:
                return record_seat_status(
                    self._db,
                    exclusions=exclusions,
                    profile_types=profile_types,
                    models=models,
                    unlicensed_units=unlicensed_units,
                    reconciliation_id=reconciliation_id,
                    groups=groups,
                )
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"workspace database error: {exc}") from exc

    def seat_status(self, subscription_ids: Iterable[int]) -> dict[int, SeatStatus]:
        """The flags of the given seats as of the last saved reconciliation (absent: not
        reconciled)."""
        out: dict[int, SeatStatus] = {}
        ids = list(subscription_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for sid, unlicensed, rec in self._q(
                "SELECT subscription_id, unlicensed, reconciliation_id FROM finance_seat_status "
                f"WHERE subscription_id IN ({marks})",
                chunk,
            ):
                out[sid] = SeatStatus(
                    reconciled=True, unlicensed=bool(unlicensed), reconciliation_id=rec
                )
        return out
