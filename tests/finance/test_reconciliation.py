"""Reconciliation maths: a worked example checked by hand, and properties over random estates."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from saas_license import (
    CandidateState,
    Entitlement,
    ExclusionRule,
    RemovalCandidate,
    SoftwareModel,
    Subscription,
)
from saas_license._finance.reconciliation import (
    ACTIVITY_BUCKETS,
    Reconciliation,
    Remediation,
    activity_bucket,
    reconcile,
)

from ._data import NOW, estate

UTC = dt.timezone.utc


def _row(result: Reconciliation, model: str, profile: str | None = None) -> Any:
    rows = result.models if profile is None else result.profiles
    return next(r for r in rows if r.software_model == model and r.profile == profile)


# -- the worked example (tests/finance/_data.py), figures computed by hand ---------------------


def test_pool_is_lent_to_the_largest_shortfall_and_scoped_rights_stay_home() -> None:
    result = estate()
    # Roadmaps: pool of 10 (company-wide) + 3 scoped to aha-eu. Seats: eu 6, us 8 counted
    # (svc-build is excluded from cost). us is short 8 and gets 8; eu is short 3 and gets the
    # last 2, so eu needs 1 more right.
    eu, us = _row(result, "Roadmaps", "aha-eu"), _row(result, "Roadmaps", "aha-us")
    assert (eu.rights_owned, eu.rights_used, eu.rights_needed, eu.compliant) == (5, 6, 1, False)
    assert (us.rights_owned, us.rights_used, us.rights_needed, us.compliant) == (8, 8, 0, True)
    model = _row(result, "Roadmaps")
    assert (model.rights_owned, model.rights_used, model.rights_available) == (13, 14, 0)
    assert model.rights_needed == 1 and model.excluded_seats == 1


def test_money_uses_the_weighted_average_annual_price_in_cents() -> None:
    result = estate()
    roadmaps = _row(result, "Roadmaps")
    # (10 rights x 59/month x 12 + 3 rights x 700/year) / 13 rights = 9180 / 13 = 706.1538…
    assert roadmaps.unit_price == Decimal("706.15")
    assert roadmaps.true_up_cost == Decimal("706.15")  # 1 right needed
    # open candidates on counted seats: dev (READY) and eva (AWAITING_USER); svc-build's
    # candidate is on a seat excluded from cost, so it saves nothing.
    assert roadmaps.open_candidates == 2
    assert roadmaps.potential_savings == Decimal("1412.30")
    # one seat reclaimed in March (counts), one last November (not this year)
    assert (roadmaps.reclaimed_seats, roadmaps.actual_savings) == (1, Decimal("706.15"))


def test_entitlement_state_follows_dates_in_reconciliation() -> None:
    develop = _row(estate(), "Develop")
    # in use: 5 rights at 1200/yr. Retired in March (10 rights) and starting in September
    # (4 rights) do not count.
    assert (develop.rights_owned, develop.entitlements_in_use) == (5, 1)
    assert develop.unit_price == Decimal("1200.00")
    assert (develop.rights_used, develop.rights_available) == (2, 3)
    assert develop.over_licensed_amount == Decimal("3600.00") and develop.compliant


def test_unlicensed_and_unmapped_are_listed() -> None:
    result = estate()
    teamwork = _row(result, "Teamwork")
    assert (teamwork.rights_owned, teamwork.rights_needed, teamwork.true_up_cost) == (0, 1, None)
    reasons = {(u.software_model, u.user_principal_name, u.reason) for u in result.unlicensed}
    assert ("Teamwork", "oli@corp.com", "no entitlement") in reasons
    # the newest counted Roadmaps seat of aha-eu is the one beyond the rights
    assert ("Roadmaps", "ceo@corp.com", "not enough rights") in reasons
    assert len(result.unlicensed) == 2
    assert {(u.identifier, u.profile, u.subscriptions) for u in result.unmapped} == {
        ("aha.mystery", "aha-eu", 1),
        ("aha.mystery", "aha-us", 2),
    }
    # the free Viewer model needs no rights and gets no row
    assert "Viewer" not in {r.software_model for r in result.models}


def test_remediation_options() -> None:
    options = {
        (o.software_model, o.profile, o.action): o
        for o in estate().remediation
        if o.profile is not None
    }
    buy = options[("Roadmaps", "aha-eu", Remediation.PURCHASE_RIGHTS)]
    assert (buy.rights, buy.amount, buy.affects_compliance) == (1, Decimal("706.15"), True)
    reclaim = options[("Roadmaps", "aha-eu", Remediation.RECLAIM_UNUSED)]
    assert (reclaim.rights, reclaim.amount, reclaim.affects_compliance) == (
        2,
        Decimal("1412.30"),
        True,
    )
    assert ("Roadmaps", "aha-us", Remediation.PURCHASE_RIGHTS) not in options
    assert options[("Teamwork", "aha-us", Remediation.PURCHASE_RIGHTS)].amount is None


def test_activity_buckets_and_opportunities() -> None:
    result = estate()
    roadmaps = next(a for a in result.activity if a.software_model == "Roadmaps")
    # eu: 2, 45, 75, 120, never, 200; us: 3, 10, 29, 30, 59, 60, 89, 90 (svc excluded)
    assert roadmaps.counts == {"0-30": 4, "30-60": 3, "60-90": 3, "90+": 3, "never": 1}
    assert [o.user_principal_name for o in result.opportunities] == [
        "eva@corp.com",  # never active first
        "dev@corp.com",
        "fay@corp.com",
    ]
    assert [activity_bucket(d) for d in (0, 29, 30, 59, 60, 89, 90, None)] == [
        "0-30",
        "0-30",
        "30-60",
        "30-60",
        "60-90",
        "60-90",
        "90+",
        "never",
    ]


def test_every_row_carries_its_as_of_time_and_time_zone_shifts_the_year() -> None:
    result = estate()
    assert all(r.as_of == NOW for r in (*result.models, *result.profiles))
    assert all(t.as_of == NOW for t in result.tables().values())
    # 2026-01-01 03:00 UTC is still 2025 in Los Angeles: the YTD window follows the zone
    early = dt.datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    la = estate(now=early, timezone="America/Los_Angeles")
    assert la.savings_since == dt.datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
    assert _row(la, "Roadmaps").reclaimed_seats == 1  # November 2025 counts in LA's 2025


def test_empty_workspace_reconciles_to_nothing() -> None:
    result = reconcile(
        subscriptions=[],
        entitlements=[],
        candidates=[],
        models=[],
        exclusions=[],
        profile_types={},
        now=NOW,
    )
    assert result.models == () and result.compliant and result.totals() == {}


# -- properties --------------------------------------------------------------------------------

MODELS = ["M1", "M2"]
PROFILES = ["p1", "p2"]
money = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def estates(draw: st.DrawFn, *, scoped: bool = True) -> dict[str, Any]:
    n = draw(st.integers(0, 30))
    subs = [
        Subscription(
            id=i + 1,
            profile=draw(st.sampled_from(PROFILES)),
            external_user_id=f"u{i}",
            user_principal_name=draw(st.sampled_from(["a@x.com", "svc@x.com", f"u{i}@x.com"])),
            identifier="id",
            software_model=draw(st.sampled_from([*MODELS, None])),
            last_activity=draw(
                st.none() | st.integers(0, 400).map(lambda d: NOW - dt.timedelta(days=d))
            ),
            first_seen_at=NOW - dt.timedelta(days=500 - i),
        )
        for i in range(n)
    ]
    ents = [
        Entitlement(
            software_model=draw(st.sampled_from(MODELS)),
            purchased_rights=draw(st.integers(0, 20)),
            unit_cost=draw(money),
            currency="EUR",
            period=draw(st.sampled_from(["monthly", "quarterly", "annually"])),
            start=NOW.date() - dt.timedelta(days=draw(st.integers(-30, 400))),
            profile=draw(st.sampled_from([None, *PROFILES])) if scoped else None,
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    cands = [
        RemovalCandidate(
            id=j,
            subscription_id=s.id,
            profile=s.profile,
            external_user_id=s.external_user_id,
            user_principal_name=s.user_principal_name,
            identifier=s.identifier,
            software_model=s.software_model,
            state=draw(st.sampled_from(list(CandidateState))),
            inactive_days=90,
            last_activity=None,
            opened_at=NOW - dt.timedelta(days=30),
            closed_at=NOW - dt.timedelta(days=draw(st.integers(0, 300))),
        )
        for j, s in enumerate(subs)
        if draw(st.booleans())
    ]
    effect = draw(st.sampled_from(["cost", "reclaim", "both"]))
    return {
        "subscriptions": subs,
        "entitlements": ents,
        "candidates": cands,
        "models": [SoftwareModel(name=m, publisher="p") for m in MODELS],
        "exclusions": [ExclusionRule(kind="user", value="svc@x.com", effect=effect)],
        "profile_types": dict.fromkeys(PROFILES, "t"),
        "now": NOW,
    }


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
    else:
        yield value


@given(estates())
def test_sums_are_consistent(inputs: dict[str, Any]) -> None:
    result = reconcile(**inputs)
    for row in (*result.models, *result.profiles):
        assert row.rights_used + row.rights_available == row.rights_owned + row.rights_needed
        assert row.compliant == (row.rights_needed == 0)
        if row.compliant:
            assert row.rights_used + row.rights_available == row.rights_owned
        assert row.active_seats + row.inactive_seats == row.rights_used
    for row in result.profiles:
        # a profile is short or has spare rights, never both; true-up only when used > owned
        assert row.rights_available * row.rights_needed == 0
        assert (row.rights_needed > 0) == (row.rights_used > row.rights_owned)
        assert row.rights_needed == max(0, row.rights_used - row.rights_owned)
    for model in result.models:
        parts = [p for p in result.profiles if p.software_model == model.software_model]
        for name in ("rights_used", "rights_needed", "open_candidates", "reclaimed_seats"):
            assert getattr(model, name) == sum(getattr(p, name) for p in parts)
        if model.unit_price is not None:
            for name in ("true_up_cost", "potential_savings", "actual_savings"):
                assert getattr(model, name) == sum(getattr(p, name) for p in parts)
        assert model.rights_owned >= sum(p.rights_owned for p in parts)
        buckets = next(a for a in result.activity if a.software_model == model.software_model)
        assert sum(buckets.counts.values()) == model.rights_used
        assert set(buckets.counts) == set(ACTIVITY_BUCKETS)
        unlicensed = [u for u in result.unlicensed if u.software_model == model.software_model]
        assert len(unlicensed) == model.rights_needed


@given(estates(scoped=False))
def test_with_company_wide_rights_true_up_only_when_used_exceeds_owned(
    inputs: dict[str, Any],
) -> None:
    result = reconcile(**inputs)
    for row in result.models:
        assert row.rights_needed == max(0, row.rights_used - row.rights_owned)
        assert row.rights_available == max(0, row.rights_owned - row.rights_used)
        if row.true_up_cost is not None and row.true_up_cost > 0:
            assert row.rights_used > row.rights_owned


@given(estates())
def test_seats_excluded_from_cost_are_never_counted(inputs: dict[str, Any]) -> None:
    rule = inputs["exclusions"][0]
    result = reconcile(**inputs)
    for model in MODELS:
        counted = [
            s
            for s in inputs["subscriptions"]
            if s.software_model == model
            and not (rule.effect.excludes_cost and s.user_principal_name == "svc@x.com")
        ]
        row = next((r for r in result.models if r.software_model == model), None)
        assert (row.rights_used if row else 0) == len(counted)
    excluded_ids = {
        s.id
        for s in inputs["subscriptions"]
        if rule.effect.excludes_cost and s.user_principal_name == "svc@x.com"
    }
    assert not excluded_ids & {u.subscription_id for u in result.unlicensed}
    assert not {o.user_principal_name for o in result.opportunities} & (
        {"svc@x.com"} if excluded_ids else set()
    )
    # Metamorphic: adding more cost-excluded seats changes no figure but the excluded count.
    if rule.effect.excludes_cost:
        extra = [
            Subscription(
                id=10_000 + i,
                profile="p1",
                external_user_id=f"svc{i}",
                user_principal_name="svc@x.com",
                identifier="id",
                software_model=MODELS[i % 2],
            )
            for i in range(5)
        ]
        again = reconcile(**{**inputs, "subscriptions": [*inputs["subscriptions"], *extra]})
        before = {r.software_model: r for r in result.models}
        for after in again.models:
            old = before.get(after.software_model)
            assert after.rights_used == (old.rights_used if old else 0)
            assert after.rights_needed == (old.rights_needed if old else 0)
            for name in ("true_up_cost", "potential_savings", "over_licensed_amount"):
                assert getattr(after, name) == (getattr(old, name) if old else None)


@given(estates())
def test_money_never_becomes_a_float(inputs: dict[str, Any]) -> None:
    result = reconcile(**inputs)
    cents = Decimal("0.01")
    for row in (*result.models, *result.profiles):
        for name in (
            "unit_price",
            "true_up_cost",
            "over_licensed_amount",
            "potential_savings",
            "actual_savings",
        ):
            value = getattr(row, name)
            assert value is None or (isinstance(value, Decimal) and value == value.quantize(cents))
    for option in result.remediation:
        assert option.amount is None or isinstance(option.amount, Decimal)
    document = json.loads(json.dumps(result.to_json_data()))
    assert not any(isinstance(v, float) for v in _walk(document))
    for table in result.tables().values():
        for value in (v for row in table.rows for v in row):
            assert not isinstance(value, float)


def test_undone_reclaims_do_not_count_and_recorded_prices_win() -> None:
    from ._data import CANDIDATES

    reclaimed = next(c for c in CANDIDATES if c.id == 6)
    undone = attrs.evolve(reclaimed, undone_at=NOW - dt.timedelta(days=1))
    result = estate(candidates=[c for c in CANDIDATES if c.id != 6] + [undone])
    assert (_row(result, "Roadmaps").reclaimed_seats, _row(result, "Roadmaps").actual_savings) == (
        0,
        Decimal("0.00"),
    )
    # the reclaim recorded its price (and when it happened): that figure is used as it is
    priced = attrs.evolve(
        reclaimed,
        actual_savings=Decimal("650.004"),
        currency="USD",
        reclaimed_at=dt.datetime(2026, 2, 1, tzinfo=UTC),
    )
    result = estate(candidates=[c for c in CANDIDATES if c.id != 6] + [priced])
    assert _row(result, "Roadmaps").actual_savings == Decimal("650.00")
