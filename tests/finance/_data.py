"""A small, fixed estate for worked examples and golden files: two Aha! accounts, four models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from saas_license import (
    CandidateState,
    Entitlement,
    ExclusionRule,
    RemovalCandidate,
    SoftwareModel,
    Subscription,
)
from saas_license._finance.reconciliation import Reconciliation, reconcile

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SEEN = dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

MODELS = [
    SoftwareModel(name="Roadmaps", publisher="Aha! Labs"),
    SoftwareModel(name="Develop", publisher="Aha! Labs"),
    SoftwareModel(name="Teamwork", publisher="Aha! Labs"),
    SoftwareModel(name="Viewer", publisher="Aha! Labs", paid=False),
]
PROFILE_TYPES = {"aha-eu": "Aha! Subscription", "aha-us": "Aha! Subscription"}
EXCLUSIONS = [
    ExclusionRule(kind="user", value="svc-*@corp.com", effect="cost"),
    ExclusionRule(kind="user", value="ceo@corp.com", effect="reclaim"),
]


def _ago(days: int | None) -> dt.datetime | None:
    return None if days is None else NOW - dt.timedelta(days=days, hours=3)


def _seats() -> list[Subscription]:
    spec = [
        # (profile, user, identifier, model, days since last activity)
        ("aha-eu", "ana", "aha.roadmaps", "Roadmaps", 2),
        ("aha-eu", "ben", "aha.roadmaps", "Roadmaps", 45),
        ("aha-eu", "cai", "aha.roadmaps", "Roadmaps", 75),
        ("aha-eu", "dev", "aha.roadmaps", "Roadmaps", 120),
        ("aha-eu", "eva", "aha.roadmaps", "Roadmaps", None),
        ("aha-eu", "ceo", "aha.roadmaps", "Roadmaps", 200),
        ("aha-eu", "ana", "aha.develop", "Develop", 1),
        ("aha-eu", "fay", "aha.develop", "Develop", 95),
        ("aha-us", "gus", "aha.roadmaps", "Roadmaps", 3),
        ("aha-us", "hal", "aha.roadmaps", "Roadmaps", 10),
        ("aha-us", "ivy", "aha.roadmaps", "Roadmaps", 29),
        ("aha-us", "jon", "aha.roadmaps", "Roadmaps", 30),
        ("aha-us", "kim", "aha.roadmaps", "Roadmaps", 59),
        ("aha-us", "lea", "aha.roadmaps", "Roadmaps", 60),
        ("aha-us", "max", "aha.roadmaps", "Roadmaps", 89),
        ("aha-us", "ned", "aha.roadmaps", "Roadmaps", 90),
        ("aha-us", "svc-build", "aha.roadmaps", "Roadmaps", None),
        ("aha-us", "oli", "aha.teamwork", "Teamwork", 400),
        ("aha-us", "pia", "aha.viewer", "Viewer", 5),
        ("aha-us", "quinn", "aha.mystery", None, 5),
        ("aha-eu", "rex", "aha.mystery", None, None),
        ("aha-us", "sam", "aha.mystery", None, 7),
    ]
    return [
        Subscription(
            id=i,
            profile=profile,
            external_user_id=user,
            user_principal_name=f"{user}@corp.com",
            identifier=identifier,
            software_model=model,
            last_activity=_ago(days),
            activity_checked_at=NOW,
            first_seen_at=SEEN + dt.timedelta(hours=i),
            last_seen_at=NOW,
        )
        for i, (profile, user, identifier, model, days) in enumerate(spec, start=1)
    ]


SUBSCRIPTIONS = _seats()
ENTITLEMENTS = [
    Entitlement(
        id=1,
        software_model="Roadmaps",
        purchased_rights=10,
        unit_cost=Decimal("59.00"),
        currency="USD",
        period="monthly",
        start="2025-01-01",
        name="ROADMAPS-POOL",
    ),
    Entitlement(
        id=2,
        software_model="Roadmaps",
        purchased_rights=3,
        unit_cost=Decimal("700"),
        currency="USD",
        start="2025-07-01",
        end="2027-06-30",
        profile="aha-eu",
        name="EU-ADDON",
    ),
    Entitlement(
        id=3,
        software_model="Develop",
        purchased_rights=5,
        unit_cost=Decimal("1200"),
        currency="USD",
        start="2026-01-01",
        end="2026-12-31",
    ),
    Entitlement(
        id=4,
        software_model="Develop",
        purchased_rights=10,
        unit_cost=Decimal("1000"),
        currency="USD",
        start="2025-01-01",
        retired_on="2026-03-01",
    ),
    Entitlement(
        id=5,
        software_model="Develop",
        purchased_rights=4,
        unit_cost=Decimal("1100"),
        currency="USD",
        start="2026-09-01",
    ),
]


def _candidate(
    cid: int, sub_id: int, state: CandidateState, closed: dt.datetime | None = None
) -> RemovalCandidate:
    sub = next(s for s in SUBSCRIPTIONS if s.id == sub_id)
    return RemovalCandidate(
        id=cid,
        subscription_id=sub_id,
        profile=sub.profile,
        external_user_id=sub.external_user_id,
        user_principal_name=sub.user_principal_name,
        identifier=sub.identifier,
        software_model=sub.software_model,
        state=state,
        inactive_days=60,
        last_activity=sub.last_activity,
        opened_at=NOW - dt.timedelta(days=20),
        closed_at=closed,
    )


GONE = Subscription(  # reclaimed in March: closed complete, no longer active
    id=99,
    profile="aha-us",
    external_user_id="old",
    user_principal_name="old@corp.com",
    identifier="aha.roadmaps",
    software_model="Roadmaps",
    active=False,
)
CANDIDATES = [
    _candidate(1, 4, CandidateState.READY),  # dev, eu Roadmaps, 120 days
    _candidate(2, 5, CandidateState.AWAITING_USER),  # eva, never active
    _candidate(3, 17, CandidateState.READY),  # svc-build: excluded from cost, never counted
    _candidate(4, 16, CandidateState.CLOSED_CANCELED, NOW - dt.timedelta(days=3)),
    _candidate(5, 8, CandidateState.READY),  # fay, eu Develop
    RemovalCandidate(
        id=6,
        subscription_id=99,
        profile="aha-us",
        external_user_id="old",
        user_principal_name="old@corp.com",
        identifier="aha.roadmaps",
        software_model="Roadmaps",
        state=CandidateState.CLOSED_COMPLETE,
        inactive_days=150,
        last_activity=None,
        opened_at=dt.datetime(2026, 2, 1, tzinfo=UTC),
        closed_at=dt.datetime(2026, 3, 10, tzinfo=UTC),
    ),
    RemovalCandidate(  # reclaimed last year: not in this year's actual savings
        id=7,
        subscription_id=98,
        profile="aha-us",
        external_user_id="older",
        user_principal_name="older@corp.com",
        identifier="aha.roadmaps",
        software_model="Roadmaps",
        state=CandidateState.CLOSED_COMPLETE,
        inactive_days=150,
        last_activity=None,
        opened_at=dt.datetime(2025, 10, 1, tzinfo=UTC),
        closed_at=dt.datetime(2025, 11, 10, tzinfo=UTC),
    ),
]


def estate(**overrides: object) -> Reconciliation:
    """Reconcile the fixed estate (keyword arguments replace inputs)."""
    kwargs: dict[str, object] = {
        "subscriptions": [*SUBSCRIPTIONS, GONE],
        "entitlements": ENTITLEMENTS,
        "candidates": CANDIDATES,
        "models": MODELS,
        "exclusions": EXCLUSIONS,
        "profile_types": PROFILE_TYPES,
        "now": NOW,
        "timezone": "UTC",
        "inactivity_days": {"Roadmaps": 60, "Develop": 90},
        "data_as_of": {"aha-eu": NOW - dt.timedelta(hours=2), "aha-us": None},
    }
    kwargs.update(overrides)
    return reconcile(**kwargs)  # type: ignore[arg-type]
