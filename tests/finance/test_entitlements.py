"""Entitlements: validation naming the field, state from dates, the price book, the workspace API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from saas_license import ConfigError, Entitlement, UnitPrice, Workspace
from saas_license._finance.entitlements import EntitlementPriceBook, EntitlementState
from saas_license._finance.pricing import PriceBook

from ._data import NOW

UTC = dt.timezone.utc


def _ent(**kw: object) -> Entitlement:
    base: dict[str, object] = {
        "software_model": "Roadmaps",
        "purchased_rights": 10,
        "unit_cost": "59.00",
        "currency": "usd",
        "start": "2026-01-01",
    }
    return Entitlement(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"software_model": "  "}, "entitlement.software_model"),
        ({"purchased_rights": -1}, "entitlement.purchased_rights"),
        ({"purchased_rights": "ten"}, "entitlement.purchased_rights"),
        ({"purchased_rights": True}, "entitlement.purchased_rights"),
        ({"unit_cost": 12.5}, "entitlement.unit_cost"),
        ({"unit_cost": "-1"}, "entitlement.unit_cost"),
        ({"unit_cost": "twelve"}, "entitlement.unit_cost"),
        ({"unit_cost": "NaN"}, "entitlement.unit_cost"),
        ({"currency": "dollars"}, "entitlement.currency"),
        ({"period": "weekly"}, "entitlement.period"),
        ({"start": "31/01/2026"}, "entitlement.start"),
        ({"start": dt.datetime(2026, 1, 1, tzinfo=UTC)}, "entitlement.start"),
        ({"end": "2025-12-31"}, "entitlement.end"),
        ({"period": "term"}, "entitlement.end"),
    ],
)
def test_bad_values_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        _ent(**changes)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_values_are_normalised_and_money_is_exact() -> None:
    ent = _ent(unit_cost="1,234.505", currency=" eur ", period="Monthly")
    assert ent.unit_cost == Decimal("1234.505") and isinstance(ent.unit_cost, Decimal)
    assert ent.currency == "EUR" and ent.period.value == "monthly"
    assert ent.annual_unit_cost == Decimal("14814.060")
    assert ent.total_cost == Decimal("12345.05")  # 10 x 1234.505, half up to cents
    assert _ent(unit_cost=7).unit_cost == Decimal(7)


def test_term_price_is_spread_over_the_term() -> None:
    two_years = _ent(period="term", unit_cost="1460", start="2026-01-01", end="2027-12-31")
    assert two_years.annual_unit_cost == Decimal(1460) * 365 / 730


def test_state_follows_the_dates() -> None:
    ent = _ent(start="2026-02-01", end="2026-02-28")
    assert ent.state_on(dt.date(2026, 1, 31)) is EntitlementState.DRAFT
    assert ent.state_on(dt.date(2026, 2, 1)) is EntitlementState.IN_USE
    assert ent.state_on(dt.date(2026, 2, 28)) is EntitlementState.IN_USE  # end is inclusive
    assert ent.state_on(dt.date(2026, 3, 1)) is EntitlementState.RETIRED
    retired = _ent(start="2026-01-01", retired_on="2026-01-10")
    assert retired.state_on(dt.date(2026, 1, 9)) is EntitlementState.IN_USE
    assert retired.state_on(dt.date(2026, 1, 10)) is EntitlementState.RETIRED


def test_state_is_counted_on_the_organisations_calendar() -> None:
    ent = _ent(start="2026-02-01")
    instant = dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # already Feb 1st in Berlin
    assert ent.state_at(instant, "UTC") is EntitlementState.DRAFT
    assert ent.state_at(instant, "Europe/Berlin") is EntitlementState.IN_USE


def test_workspace_crud_with_audit(fin_ws: Workspace) -> None:
    ent = fin_ws.finance.add_entitlement(
        "Roadmaps", purchased_rights=10, unit_cost="59", currency="USD", start="2026-01-01"
    )
    assert ent.id is not None and fin_ws.finance.entitlement(ent.id) == ent
    edited = fin_ws.finance.edit_entitlement(ent.id, purchased_rights=12, end="2026-12-31")
    assert (edited.purchased_rights, edited.end) == (12, dt.date(2026, 12, 31))
    retired = fin_ws.finance.retire_entitlement(ent.id)
    assert retired.retired_on == NOW.date()
    assert retired.state_at(NOW) is EntitlementState.RETIRED
    assert fin_ws.finance.entitlements() == [retired]
    actions = [e.action for e in fin_ws.audit.query() if e.entity == "entitlement"]
    assert actions == ["entitlement.created", "entitlement.updated", "entitlement.retired"]
    updated = next(e for e in fin_ws.audit.query() if e.action == "entitlement.updated")
    assert updated.before is not None and updated.before["purchased_rights"] == 10
    assert updated.after is not None and updated.after["purchased_rights"] == 12
    table = fin_ws.finance.entitlements_table()
    assert table.column("state") == ["retired"] and table.as_of == NOW


def test_workspace_refuses_unknown_models_profiles_and_second_currency(fin_ws: Workspace) -> None:
    with pytest.raises(ConfigError) as info:
        fin_ws.finance.add_entitlement(
            "Roadmap", purchased_rights=1, unit_cost="1", currency="USD", start="2026-01-01"
        )
    assert info.value.field == "entitlement.software_model" and "Roadmaps" in str(info.value)
    with pytest.raises(ConfigError) as info:
        fin_ws.finance.add_entitlement(
            "Roadmaps",
            purchased_rights=1,
            unit_cost="1",
            currency="USD",
            start="2026-01-01",
            profile="aha-xx",
        )
    assert info.value.field == "entitlement.profile"
    fin_ws.finance.add_entitlement(
        "Roadmaps", purchased_rights=1, unit_cost="1", currency="USD", start="2026-01-01"
    )
    with pytest.raises(ConfigError) as info:
        fin_ws.finance.add_entitlement(
            "Roadmaps", purchased_rights=1, unit_cost="1", currency="EUR", start="2026-01-01"
        )
    assert info.value.field == "entitlement.currency"
    with pytest.raises(ConfigError) as info:
        fin_ws.finance.edit_entitlement(1, colour="red")
    assert info.value.field == "entitlement"
    with pytest.raises(ConfigError):
        fin_ws.finance.entitlement(99)
    assert len(fin_ws.finance.entitlements()) == 1


def test_price_book_is_the_workspace_default(fin_ws: Workspace) -> None:
    assert isinstance(fin_ws.prices, PriceBook)
    assert isinstance(fin_ws.prices, EntitlementPriceBook)
    assert fin_ws.prices.unit_price("Roadmaps", at=NOW) is None
    fin_ws.finance.add_entitlement(
        "Roadmaps",
        purchased_rights=10,
        unit_cost="59",
        currency="USD",
        period="monthly",
        start="2026-01-01",
    )
    fin_ws.finance.add_entitlement(
        "Roadmaps",
        purchased_rights=5,
        unit_cost="500",
        currency="USD",
        start="2026-03-01",
        end="2026-05-31",
    )
    # in force in April: (10 x 708 + 5 x 500) / 15 = 638.666… → 638.67
    april = dt.datetime(2026, 4, 1, tzinfo=UTC)
    assert fin_ws.prices.unit_price("Roadmaps", at=april) == UnitPrice(
        amount=Decimal("638.67"), currency="USD", period="annually"
    )
    june = fin_ws.prices.unit_price("Roadmaps", at=NOW)
    assert june is not None and june.amount == Decimal("708.00")
    assert fin_ws.prices.unit_price("Develop", at=NOW) is None
    assert fin_ws.prices.unit_price("Roadmaps", at=dt.datetime(2025, 6, 1, tzinfo=UTC)) is None
