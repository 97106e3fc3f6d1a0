"""Unit prices of seats, as the rest of the core sees them: a small protocol with a no-prices default.

The entitlements module provides the real price book (from purchased rights and unit costs);
candidates and plans ask it for potential savings without knowing where prices come from.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["NoPrices", "PriceBook", "UnitPrice"]


@attrs.frozen(kw_only=True)
class UnitPrice:
    """What one seat of a software model costs per subscription period."""

    amount: Decimal
    currency: str
    period: str = "annually"


@runtime_checkable
class PriceBook(Protocol):
    """Answers "what does one seat of this model cost?" (None when nobody recorded a price)."""

    def unit_price(self, software_model: str, *, at: dt.datetime) -> UnitPrice | None:
        """The unit price in force at ``at``."""
        ...


class NoPrices:
    """The price book of a workspace with no entitlements: every price is unknown."""

    def unit_price(self, software_model: str, *, at: dt.datetime) -> UnitPrice | None:
        """Always None."""
        return None
