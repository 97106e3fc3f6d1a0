"""The workspace's finance API over a real run: reconcile on its own schedule, saved results."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
from decimal import Decimal

import attrs
import pytest

import saas_license
from saas_license import CandidateState, StoreError, Workspace
from saas_license._candidates.records import OPEN_STATES
from saas_license._finance.from_store import finance_store, price_book_for
from saas_license._finance.pricing import NoPrices
from saas_license._store._sqlite import SqliteStore


def test_reconcile_after_a_real_run(published: Workspace) -> None:
    published.jobs.run("aha")
    published.finance.add_entitlement(
        "Aha! Roadmaps", purchased_rights=10, unit_cost="100", currency="EUR", start="2020-01-01"
    )
    result = published.finance.reconcile()
    seats = published.store.count_subscriptions("aha", by="software_model")
    roadmaps = next(r for r in result.models if r.software_model == "Aha! Roadmaps")
    assert roadmaps.rights_used == seats["Aha! Roadmaps"]  # no exclusion rules yet
    assert roadmaps.rights_needed == roadmaps.rights_used - 10
    assert roadmaps.true_up_cost == Decimal(100) * roadmaps.rights_needed
    open_ids = {
        c.subscription_id
        for c in published.candidates.query("aha", states=set(OPEN_STATES))
        if c.software_model == "Aha! Roadmaps"
    }
    # fixed by the sandbox fixture (120 users, seed 11) and the fixed `now`
    assert roadmaps.open_candidates == len(open_ids) == 20
    assert "Aha! Reviewer & Viewer (free)" not in {r.software_model for r in result.models}
    assert result.data_as_of["aha"] is not None
    # reclaiming one seat: it leaves "used" and counts as realised savings
    cand = next(c for c in published.candidates.query("aha") if c.software_model == "Aha! Roadmaps")
    published.store.update_candidate(
        attrs.evolve(cand, state=CandidateState.CLOSED_COMPLETE, closed_at=published.clock())
    )
    published.store.deactivate_subscription(cand.subscription_id)
    again = published.finance.reconcile()
    after = next(r for r in again.models if r.software_model == "Aha! Roadmaps")
    assert after.rights_used == roadmaps.rights_used - 1
    assert (after.reclaimed_seats, after.actual_savings) == (1, Decimal("100.00"))
    assert 'data-chart="utilisation"' in published.finance.report_html(again)


def test_reconcile_runs_on_its_own_schedule(fin_ws: Workspace) -> None:
    now = [dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)]
    fin_ws.clock = lambda: now[0]
    first = fin_ws.finance.reconcile_if_due(dt.timedelta(days=7))
    assert first is not None
    now[0] += dt.timedelta(days=3)
    assert fin_ws.finance.reconcile_if_due(dt.timedelta(days=7)) is None
    now[0] += dt.timedelta(days=5)
    assert fin_ws.finance.reconcile_if_due(dt.timedelta(days=7)) is not None
    saved = fin_ws.finance.reconciliations()
    assert [s.as_of for s in saved] == [now[0], first.as_of]
    assert saved[0].data["tables"]["models"]["as_of"] == "2026-06-09T00:00:00.000Z"


def test_finance_schema_and_stores_without_finance() -> None:
    store = SqliteStore(":memory:")
    # 2: the index reconciliation reads (issue 13); 3: allocations, products, remediation, seat
    # flags; 4: that index again, in blocks of seat ids (cheap to keep up at ingest)
    assert store.schema_versions()["finance"] == 4
    assert finance_store(store) is store

    class Bare:
        pass

    with pytest.raises(StoreError, match="does not keep entitlements"):
        finance_store(Bare())  # type: ignore[arg-type]
    assert isinstance(price_book_for(Bare(), "UTC"), NoPrices)  # type: ignore[arg-type]


@pytest.mark.parametrize("module", ["saas_license.reports", "saas_license._finance.reconciliation"])
def test_finance_modules_are_documented(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        obj = getattr(mod, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{module}.{name} has no docstring"
    for name in ("Entitlement", "Reconciliation", "Table", "CsvImportError"):
        assert name in saas_license.__all__


def test_savings_read_candidates_as_a_stream_and_price_each_model_once(
    published: Workspace,
) -> None:
    """``ws.finance.savings()`` walks the store's candidate stream and asks the price book once
    per software model; the sums are those of pricing every open candidate on its own."""
    from saas_license._finance.savings import summarize_savings

    published.jobs.run("aha")
    published.finance.add_entitlement(
        "Aha! Roadmaps", purchased_rights=10, unit_cost="100", currency="EUR", start="2020-01-01"
    )
    prices = published.prices
    asked: list[str] = []

    class Counting:
        def unit_price(self, software_model: str, *, at: dt.datetime) -> object:
            asked.append(software_model)
            return prices.unit_price(software_model, at=at)

    now = published.clock()
    candidates = published.store.list_candidates("aha")
    got = summarize_savings(iter(candidates), Counting(), now=now)  # type: ignore[arg-type]
    assert sorted(asked) == sorted({c.software_model for c in candidates if c.is_open})
    want_eur = sum(
        (
            Decimal("100.00")
            for c in candidates
            if c.is_open and c.software_model == "Aha! Roadmaps"
        ),
        Decimal("0"),
    )
    assert got.potential["EUR"] == want_eur > 0
    assert got.open_candidates == sum(1 for c in candidates if c.is_open)
    assert published.finance.savings() == got
