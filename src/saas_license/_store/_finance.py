"""The finance role of a store: entitlements and saved reconciliation results.

:class:`FinanceStore` is the role protocol the workspace checks for (optional, unlike the roles in
``_protocol.py``); the SQLite store implements it as its part ``_sqlite/finance.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol, TypeGuard, runtime_checkable

import attrs

from .._finance.allocations import Allocation
from .._finance.entitlements import Entitlement

__all__ = [
    "FinanceStore",
    "SavedReconciliation",
    "SeatStatus",
    "StoredRemediation",
    "keeps_entitlements",
]


@attrs.frozen(kw_only=True)
class SavedReconciliation:
    """A reconciliation result as saved: when it was computed and its JSON document."""

    id: int
    as_of: dt.datetime
    data: dict[str, Any] = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class StoredRemediation:
    """A remediation option as kept between reconciliations: its key, status and last figures."""

    key: str
    status: str
    updated_at: dt.datetime
    data: dict[str, Any] = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class SeatStatus:
    """What the last saved reconciliation said of one seat."""

    reconciled: bool
    unlicensed: bool
    reconciliation_id: int | None = None


@runtime_checkable
class FinanceStore(Protocol):
    """What the finance features need from a store."""

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def add_entitlements(self, entitlements: Iterable[Entitlement]) -> list[Entitlement]: ...
    def update_entitlement(self, entitlement: Entitlement) -> Entitlement: ...
    def get_entitlement(self, entitlement_id: int) -> Entitlement | None: ...
    def list_entitlements(self, software_model: str | None = None) -> list[Entitlement]: ...
    def save_reconciliation(self, as_of: dt.datetime, data: dict[str, Any]) -> int: ...
    def list_reconciliations(self, *, limit: int = 20) -> list[SavedReconciliation]: ...
    def add_allocation(self, allocation: Allocation) -> Allocation: ...
    def list_allocations(self) -> list[Allocation]: ...
    def delete_allocation(self, allocation_id: int) -> bool: ...
    def set_product(self, software_model: str, product: str | None) -> None: ...
    def products(self) -> dict[str, str]: ...
    def list_remediation(self) -> list[StoredRemediation]: ...
    def save_remediation(self, items: Iterable[StoredRemediation]) -> None: ...
    def seat_status(self, subscription_ids: Iterable[int]) -> dict[int, SeatStatus]: ...


def keeps_entitlements(store: object) -> TypeGuard[FinanceStore]:
    """True when ``store`` has every :class:`FinanceStore` method.

    Looked up with ``getattr`` on every Python: from 3.12 ``isinstance`` against a protocol looks
    only at the class, so a delegating wrapper (a proxy, an instrumented store) would be refused
    there and accepted on 3.10 and 3.11.
    """
    return all(callable(getattr(store, name, None)) for name in _FINANCE_METHODS)


_FINANCE_METHODS = tuple(
    name
    for name, value in vars(FinanceStore).items()
    if not name.startswith("_") and callable(value)
)
