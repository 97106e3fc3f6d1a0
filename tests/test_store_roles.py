"""The SQLite store is built of one part per role protocol: the checklist for a second store.

Each part implements exactly its role protocol's methods (no more, no fewer), every role has a
part, and :class:`SqliteStore` is all the parts together and nothing else public.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from saas_license._store import _protocol
from saas_license._store._finance import FinanceStore
from saas_license._store._sqlite import PARTS, SqliteBaseStore, SqliteStore

#: Every role protocol a store implements, by name.
ROLES: dict[str, type[Any]] = {
    "BaseStore": _protocol.BaseStore,
    "ProfileStore": _protocol.ProfileStore,
    "SubscriptionStore": _protocol.SubscriptionStore,
    "QuarantineStore": _protocol.QuarantineStore,
    "RuleStore": _protocol.RuleStore,
    "CandidateStore": _protocol.CandidateStore,
    "JobStore": _protocol.JobStore,
    "AuditStore": _protocol.AuditStore,
    "PlanStore": _protocol.PlanStore,
    "OutboxStore": _protocol.OutboxStore,
    "LinkStore": _protocol.LinkStore,
    "DirectoryStore": _protocol.DirectoryStore,
    "FinanceStore": FinanceStore,
}

#: Public methods a part offers beyond its protocol (conveniences no caller of the role needs).
#: Paged reads and reconciliation in SQL (issue 13) are optional capabilities: the workspace
#: uses them when the store has them.
EXTRAS: dict[str, set[str]] = {
    "FinanceStore": {
        "add_entitlement",
        "reconcile_facts",
        "reclaim_opportunities",
        "record_seat_status",
        "unlicensed_seats",
    },
    "CandidateStore": {
        "add_candidate_rows",
        "candidate_page_end",
        "count_candidates",
        "iter_candidates",
    },
    # a daily run's new candidates stored in bulk when the store has both (else create_many)
    "AuditStore": {"append_audit_similar"},
    "PlanStore": {
        "plan_exists",
        "plan_items",
        "iter_plan_items",
        "plan_head",
        "save_plan_streamed",
        "scratch",
    },
    "SubscriptionStore": {"iter_seat_keys"},
}
#: Public names of the composed store that belong to no role: the SQLite file itself.
STORE_ONLY = {"schema_versions", "path", "write_stats"}


def _members(protocol: type[Any]) -> set[str]:
    """The methods a protocol declares itself (not those of the protocols it extends)."""
    return {
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }


def _own(part: type[Any]) -> set[str]:
    return {name for name in vars(part) if not name.startswith("_")}


def test_every_role_has_a_part_and_store_is_the_sum_of_the_roles() -> None:
    assert set(PARTS) == set(ROLES)
    assert set(_protocol.Store.__mro__) >= {p for n, p in ROLES.items() if n != "FinanceStore"}
    assert {n for n in _protocol.__all__ if n.endswith("Store") and n != "Store"} == set(ROLES) - {
        "FinanceStore"
    }


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_part_implements_exactly_its_role(role: str) -> None:
    protocol, part = ROLES[role], PARTS[role]
    assert issubclass(part, SqliteBaseStore)
    wanted = _members(protocol)
    if part is not SqliteBaseStore:
        # the base's methods (``transaction``) are shared; a part adds only its own role's
        wanted -= _members(_protocol.BaseStore)
    assert _own(part) == wanted | EXTRAS.get(role, set()), f"{part.__name__} vs {role}"
    for name in wanted:
        want = inspect.signature(getattr(protocol, name))
        have = inspect.signature(getattr(part, name))
        assert list(have.parameters) == list(want.parameters), f"{part.__name__}.{name}"
        assert [p.kind for p in have.parameters.values()] == [
            p.kind for p in want.parameters.values()
        ], f"{part.__name__}.{name}"


def test_the_composed_store_is_the_parts_and_plays_every_role() -> None:
    assert set(SqliteStore.__mro__) >= set(PARTS.values())
    public = {n for n in dir(SqliteStore) if not n.startswith("_")}
    by_parts = set().union(*(_own(p) for p in PARTS.values()))
    assert public - by_parts <= STORE_ONLY
    store = SqliteStore(":memory:")
    try:
        for role, protocol in ROLES.items():
            assert isinstance(store, protocol), role
        assert isinstance(store, _protocol.Store)
    finally:
        store.close()


def test_no_two_parts_define_the_same_method() -> None:
    seen: dict[str, str] = {}
    for role, part in PARTS.items():
        for name in _own(part):
            assert name not in seen, f"{name} is in the {seen.get(name)} and {role} parts"
            seen[name] = role


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_postgres_part_is_its_roles_sqlite_part_on_the_postgres_base(role: str) -> None:
    """The PostgreSQL store has one part per role too: the SQLite part of the same role (its
    SQL, through the dialect) on the PostgreSQL base, overriding methods of its role only."""
    from saas_license._store._postgres import PARTS as PG_PARTS
    from saas_license._store._postgres import PostgresBaseStore, PostgresStore

    assert set(PG_PARTS) == set(PARTS)
    part, sqlite_part = PG_PARTS[role], PARTS[role]
    assert issubclass(part, PostgresBaseStore) and issubclass(part, sqlite_part)
    assert issubclass(PostgresStore, part)
    wanted = _members(ROLES[role])
    allowed = wanted | EXTRAS.get(role, set()) | _members(_protocol.BaseStore)
    assert _own(part) <= allowed, f"{part.__name__} overrides beyond its role"
    for name in wanted:
        owner = next(c for c in part.__mro__ if name in vars(c))
        assert owner in {part, sqlite_part, PostgresBaseStore, SqliteBaseStore}, (part, name)
