"""A synthetic estate of N seats in a SQLite workspace, written through the store's own API.

Shared by ``benchmarks.reconcile`` and ``benchmarks.memory``: three profiles, four models (one
free), entitlements that leave some units short and some over-licensed, exclusion rules of the
identifier, domain and user kinds, a reclamation rule, and removal candidates on a share of
the seats (``candidate_share``), some of them reclaimed this year.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PROFILES = {"aha-eu": "Aha! Subscription", "aha-us": "Aha! Subscription", "crm": "CRM"}
IDENTIFIERS = {
    "aha.roadmaps": "Roadmaps",
    "aha.develop": "Develop",
    "aha.ideas": "Ideas",
    "aha.viewer": "Viewer",
    "crm.seat": "Roadmaps",
}


def records(profile: str, n: int, seed: int) -> Iterator[object]:
    """``n`` seats of one profile as a spoke would yield them."""
    from saas_license._subscriptions import SubscriptionRecord

    rng = random.Random(seed)
    idents = [*IDENTIFIERS, "aha.mystery"]
    weights = [40, 25, 15, 10, 8, 2]
    for i in range(n):
        idle = rng.random()
        last = None if idle < 0.05 else NOW - dt.timedelta(minutes=int(idle * 200 * 24 * 60))
        domain = "contractors.example" if i % 50 == 0 else "corp.example"
        yield SubscriptionRecord(
            external_user_id=f"{profile}-{i}",
            user_principal_name=("svc-" if i % 97 == 0 else "u") + f"{i}@{domain}",
            identifier=rng.choices(idents, weights)[0],
            last_activity=last,
            attributes={"department": "Sales" if i % 3 else "Engineering"},
        )


def build(path: Path, seats: int, *, candidate_share: float = 0.05, seed: int = 7) -> None:
    """Fill the workspace at ``path`` with ``seats`` seats across the profiles (file must be new)."""
    from saas_license import (
        CandidateState,
        Entitlement,
        ExclusionRule,
        IntegrationProfile,
        ReclamationRule,
        RemovalCandidate,
        SoftwareModel,
    )
    from saas_license._store import SqliteStore

    store = SqliteStore(path)
    try:
        for name in ("Roadmaps", "Develop", "Ideas", "Viewer"):
            store.ensure_software_model(
                SoftwareModel(name=name, publisher="Aha! Labs", paid=name != "Viewer")
            )
        for ident, model in IDENTIFIERS.items():
            store.map_identifier(ident, model)
        share = {"aha-eu": 0.4, "aha-us": 0.45, "crm": 0.15}
        for k, (name, ptype) in enumerate(PROFILES.items()):
            store.save_profile(
                IntegrationProfile(
                    name=name,
                    display_name=name,
                    spoke="aha",
                    profile_type=ptype,
                    connection_alias="none",
                )
            )
            store.upsert_subscriptions(
                name,
                records(name, int(seats * share[name]), seed + k),
                run_id="r1",
                now=NOW - dt.timedelta(days=40),
            )
        store.add_exclusion_rule(
            ExclusionRule(kind="identifier", value="crm.seat", profile_type="CRM", effect="cost")
        )
        store.add_exclusion_rule(
            ExclusionRule(kind="domain", value="contractors.example", effect="cost")
        )
        store.add_exclusion_rule(ExclusionRule(kind="user", value="svc-*", effect="both"))
        store.save_reclamation_rule(ReclamationRule(software_model="Roadmaps", inactivity_days=45))
        scale = max(1, seats // 1000)
        store.add_entitlements(
            [
                Entitlement(
                    software_model="Roadmaps",
                    purchased_rights=440 * scale,
                    unit_cost=Decimal("59.00"),
                    currency="USD",
                    start=dt.date(2026, 1, 1),
                    period="monthly",
                ),
                Entitlement(
                    software_model="Roadmaps",
                    purchased_rights=20 * scale,
                    unit_cost=Decimal("700.00"),
                    currency="USD",
                    start=dt.date(2025, 6, 1),
                    profile="aha-eu",
                ),
                Entitlement(
                    software_model="Develop",
                    purchased_rights=300 * scale,
                    unit_cost=Decimal("1200.00"),
                    currency="USD",
                    start=dt.date(2026, 1, 1),
                ),
                Entitlement(
                    software_model="Ideas",
                    purchased_rights=155 * scale,
                    unit_cost=Decimal("39.99"),
                    currency="USD",
                    start=dt.date(2026, 1, 1),
                    period="monthly",
                ),
            ]
        )
        rng = random.Random(seed)
        states = [
            CandidateState.READY,
            CandidateState.AWAITING_USER,
            CandidateState.CLOSED_COMPLETE,
        ]
        batch: list[RemovalCandidate] = []
        with store.transaction():
            for sub in store.iter_subscriptions():
                if rng.random() >= candidate_share:
                    continue
                state = rng.choice(states)
                closed = state is CandidateState.CLOSED_COMPLETE
                when = NOW - dt.timedelta(days=rng.randrange(1, 300))
                batch.append(
                    RemovalCandidate(
                        subscription_id=sub.id,
                        profile=sub.profile,
                        external_user_id=sub.external_user_id,
                        user_principal_name=sub.user_principal_name,
                        identifier=sub.identifier,
                        software_model=sub.software_model,
                        state=state,
                        inactive_days=60,
                        last_activity=sub.last_activity,
                        opened_at=when - dt.timedelta(days=10),
                        closed_at=when if closed else None,
                        reclaimed_at=when if closed else None,
                    )
                )
                if len(batch) >= 5000:  # stored a batch at a time (the same ids, in order)
                    store.add_candidates(batch)
                    batch = []
            store.add_candidates(batch)
    finally:
        store.close()
