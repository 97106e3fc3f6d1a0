"""Directory-based exclusions agree everywhere: the SQL reconciliation, the reference one, the
showback and the subscription list count the same seats out of cost, for generated directories
(aliases, mixed case, unknown users) and rules on every directory fact."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license import ExclusionRule, IntegrationProfile, SoftwareModel
from saas_license._directory import Person
from saas_license._directory.facts import directory_of, with_directory
from saas_license._finance.from_store import reconcile_store, showback_store
from saas_license._finance.pricing import NoPrices
from saas_license._rules import exclusion_effects
from saas_license._store import SqliteStore
from saas_license._subscriptions import SubscriptionRecord

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
NAMES = ["ana", "Ben", "ÉVA", "dan", "\u212a-9", "eve"]
FACTS = {
    "department": ["Sales", "sales", "R&D", None],
    "cost_center": ["CC-1", "CC-2", None],
    "employment_status": ["active", "Contractor", "leaver", None],
}

people = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.booleans(),  # known by an alias (the seat's address) rather than by e-mail
        st.sampled_from(FACTS["department"]),
        st.sampled_from(FACTS["cost_center"]),
        st.sampled_from(FACTS["employment_status"]),
    ),
    max_size=6,
    unique_by=lambda t: t[0].casefold(),
)
seats = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.sampled_from([str.lower, str.upper, str]),  # how the vendor spells the address
        st.sampled_from(["id.a", "id.b"]),
        st.sampled_from(["p1", "p2"]),
        st.sampled_from([{}, {"directory.department": "Sales"}]),  # a vendor's own value wins
    ),
    max_size=20,
)
rules = st.lists(
    st.builds(
        ExclusionRule,
        kind=st.just("attribute"),
        attribute=st.sampled_from(
            ["directory.department", "directory.cost_center", "directory.employment_status"]
        ),
        value=st.sampled_from(["sales", "R&D", "CC-1", "contractor", "leaver"]),
        effect=st.sampled_from(["cost", "both", "reclaim"]),
        active=st.booleans(),
    ),
    max_size=3,
)


def _fill(who: list[Any], held: list[Any], excl: list[ExclusionRule]) -> SqliteStore:
    store = SqliteStore(":memory:")
    for model, ident in (("A", "id.a"), ("B", "id.b")):
        store.ensure_software_model(SoftwareModel(name=model, publisher="P"))
        store.map_identifier(ident, model)
    for name in ("p1", "p2"):
        store.save_profile(
            IntegrationProfile(
                name=name, display_name=name, spoke="x", profile_type="T", connection_alias="a"
            )
        )
    for rule in excl:
        store.add_exclusion_rule(rule)
    store.replace_directory(
        [
            Person(
                email=f"{name}.hr@corp.com" if by_alias else f"{name}@corp.com",
                aliases=(f"{name}@corp.com",) if by_alias else (),
                department=dept,
                cost_center=cc,
                employment_status=status,
            )
            for name, by_alias, dept, cc, status in who
        ],
        source="generated",
        loaded_at="2026-06-15T12:00:00Z",
    )
    for profile in ("p1", "p2"):
        records = [
            SubscriptionRecord(
                external_user_id=f"u{i}",
                user_principal_name=spell(f"{name}@corp.com"),
                identifier=ident,
                last_activity=NOW - dt.timedelta(days=i * 7),
                attributes=attributes,
            )
            for i, (name, spell, ident, prof, attributes) in enumerate(held)
            if prof == profile
        ]
        store.upsert_subscriptions(profile, records, run_id="r1", now=NOW)
    return store


class _PythonOnly:
    """The store without its SQL aggregates: reconciliation takes the reference path."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "reconcile_facts":
            raise AttributeError(name)
        return getattr(self._store, name)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(who=people, held=seats, excl=rules)
def test_directory_exclusions_agree_between_sql_python_showback_and_rows(
    who: list[Any], held: list[Any], excl: list[ExclusionRule]
) -> None:
    store = _fill(who, held, excl)
    try:
        sql = reconcile_store(store, now=NOW, timezone="UTC")
        ref = reconcile_store(_PythonOnly(store), now=NOW, timezone="UTC")  # type: ignore[arg-type]
        assert sql.models == ref.models
        assert sql.profiles == ref.profiles
        # the same count, seat by seat, from the rules themselves
        index = directory_of(store)
        expected = sum(
            "cost" in exclusion_effects(excl, seat, "T")
            for seat in with_directory(store.iter_subscriptions(), index)
        )
        assert sum(m.excluded_seats for m in sql.models) == expected
        for by in ("department", "cost_center"):
            show = showback_store(store, by=by, prices=NoPrices(), now=NOW, timezone="UTC")
            assert sum(r.excluded_seats for r in show.rows) == expected
            assert sum(r.seats for r in show.rows) == sum(m.rights_used for m in sql.models)
    finally:
        store.close()
