"""Hypothesis strategies for seats and rules, shared by the property tests."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from saas_license import ExclusionRule, ReclamationRule, Subscription

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
MODELS = ["Roadmaps", "Develop"]
IDENTIFIERS = ["x.roadmaps", "x.develop", "x.free"]
USERS = [f"user{i}@{d}" for i in range(6) for d in ("corp.com", "contractor.io")]

instants = st.integers(min_value=0, max_value=400 * 86_400).map(
    lambda s: NOW - dt.timedelta(seconds=s)
)


@st.composite
def subscriptions(draw: st.DrawFn, sub_id: int | None = None) -> Subscription:
    """An arbitrary stored seat, including the awkward ones (admins, no data, stale data)."""
    upn = draw(st.sampled_from(USERS))
    return Subscription(
        id=sub_id if sub_id is not None else draw(st.integers(1, 10_000)),
        profile="p",
        external_user_id=upn.split("@")[0],
        user_principal_name=upn,
        identifier=draw(st.sampled_from(IDENTIFIERS)),
        software_model=draw(st.sampled_from([*MODELS, None])),
        last_activity=draw(st.none() | instants),
        activity_checked_at=draw(st.none() | instants),
        external_created=draw(st.none() | instants),
        active=draw(st.booleans()),
        attributes={
            "administrator": draw(st.booleans()),
            "department": draw(st.sampled_from(["eng", "sales", "exec"])),
        },
    )


@st.composite
def seat_lists(draw: st.DrawFn) -> list[Subscription]:
    """Seats with unique ids."""
    n = draw(st.integers(0, 25))
    return [draw(subscriptions(sub_id=i + 1)) for i in range(n)]


exclusion_rules = st.one_of(
    st.builds(
        ExclusionRule,
        kind=st.just("user"),
        value=st.sampled_from([*USERS, "user1*", "*@contractor.io"]),
        effect=st.sampled_from(["cost", "reclaim", "both"]),
    ),
    st.builds(
        ExclusionRule,
        kind=st.just("domain"),
        value=st.sampled_from(["corp.com", "contractor.io"]),
        effect=st.sampled_from(["cost", "reclaim", "both"]),
    ),
    st.builds(
        ExclusionRule,
        kind=st.just("identifier"),
        value=st.sampled_from(IDENTIFIERS),
        effect=st.sampled_from(["cost", "reclaim", "both"]),
    ),
    st.builds(
        ExclusionRule,
        kind=st.just("attribute"),
        attribute=st.just("department"),
        value=st.sampled_from(["eng", "sales", "exec"]),
        effect=st.sampled_from(["cost", "reclaim", "both"]),
    ),
)

reclamation_rules = st.builds(
    ReclamationRule,
    software_model=st.sampled_from(MODELS),
    inactivity_days=st.integers(1, 200),
    new_account_grace_days=st.integers(0, 60),
)
