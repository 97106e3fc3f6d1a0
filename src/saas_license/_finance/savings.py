"""Savings from removal candidates: potential (open candidates) and actual (seats reclaimed).

Money is ``Decimal`` and is summed per currency; a candidate whose unit price is unknown counts
in the totals of candidates but adds no money.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import attrs

from .._candidates.records import CandidateState, RemovalCandidate
from .pricing import PriceBook, UnitPrice

__all__ = ["SavingsSummary", "summarize_savings"]


@attrs.frozen(kw_only=True)
class SavingsSummary:
    """Potential and actual savings as of one instant, per currency.

    ``potential`` is one seat's unit price for every open candidate (at today's prices);
    ``actual`` sums what each reclaimed seat was worth when it was reclaimed (undone reclaims
    and skipped or canceled candidates never count). ``*_unpriced`` count seats with no price.
    ``reappeared`` counts reclaimed seats a later download listed again: never saved.
    """

    as_of: dt.datetime
    potential: dict[str, Decimal]
    actual: dict[str, Decimal]
    open_candidates: int
    reclaimed_seats: int
    open_unpriced: int = 0
    reclaimed_unpriced: int = 0
    period: str | None = None
    reappeared: int = 0


def summarize_savings(
    candidates: Iterable[RemovalCandidate],
    prices: PriceBook,
    *,
    now: dt.datetime,
    since: dt.datetime | None = None,
) -> SavingsSummary:
    """Sum potential savings of open candidates and actual savings of reclaimed seats
    (reclaimed at or after ``since``, when given: e.g. the start of the year).

    ``candidates`` are read once, as they come (a store's stream: nothing is held per
    candidate), and ``prices`` is asked once per software model (the price at ``now``)."""
    prices_at_now: dict[str, UnitPrice | None] = {}
    potential: dict[str, Decimal] = defaultdict(Decimal)
    actual: dict[str, Decimal] = defaultdict(Decimal)
    n_open = n_reclaimed = open_unpriced = reclaimed_unpriced = n_reappeared = 0
    periods: set[str] = set()
    for c in candidates:
        if c.is_open:
            n_open += 1
            model = c.software_model
            if model and model not in prices_at_now:
                prices_at_now[model] = prices.unit_price(model, at=now)
            price = prices_at_now[model] if model else None
            if price is not None:
                potential[price.currency] += price.amount
                periods.add(price.period)
            elif c.potential_savings is not None:
                potential[c.currency or ""] += c.potential_savings
            else:
                open_unpriced += 1
        elif c.state is CandidateState.CLOSED_COMPLETE and c.undone_at is None:
            when = c.reclaimed_at or c.closed_at
            if since is not None and (when is None or when < since):
                continue
            if c.reappeared_at is not None:  # the seat came back: the reclaim saved nothing
                n_reappeared += 1
                continue
            n_reclaimed += 1
            if c.actual_savings is not None:
                actual[c.currency or ""] += c.actual_savings
            else:
                reclaimed_unpriced += 1
    return SavingsSummary(
        as_of=now,
        potential=dict(potential),
        actual=dict(actual),
        open_candidates=n_open,
        reclaimed_seats=n_reclaimed,
        open_unpriced=open_unpriced,
        reclaimed_unpriced=reclaimed_unpriced,
        period=periods.pop() if len(periods) == 1 else None,
        reappeared=n_reappeared,
    )
