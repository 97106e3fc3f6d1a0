"""The engine's SQL on both stores: the set-based reconciliation gives identical results on
SQLite and PostgreSQL over the same data (generated seats, rules of every kind, entitlements,
candidates in every state), and both equal the reference reconciliation (Python, seat by seat)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license._finance.from_store import (
    group_allocations,
    opportunities_store,
    reconcile_store,
    unlicensed_store,
)
from saas_license._finance.reconciliation import unlicensed_units
from saas_license._store.copy import copy_workspace

from ..finance.test_reconcile_sql import (
    NOW,
    PROFILES,
    _reference,
    _store,
    allocations,
    candidates,
    entitlements,
    exclusions,
    seat_rows,
)
from .fixtures import PgSchema

pytestmark = pytest.mark.postgres


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seats=seat_rows,
    rules=exclusions,
    ents=entitlements,
    cands=candidates,
    paid_gamma=st.booleans(),
    threshold=st.sampled_from([1, 7, 30, 45, 60, 90]),
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/Santiago", "Pacific/Kiritimati"]),
)
def test_reconciliation_is_the_same_on_sqlite_and_postgres(  # type: ignore[no-untyped-def]
    postgres_server, seats, rules, ents, cands, paid_gamma, threshold, timezone
) -> None:
    sqlite = _store(seats, rules, ents, cands, paid_gamma, threshold)
    schema = PgSchema(postgres_server)
    pg = schema.open()
    try:
        copy_workspace(sqlite, pg)
        on_sqlite = reconcile_store(sqlite, now=NOW, timezone=timezone)
        on_postgres = reconcile_store(pg, now=NOW, timezone=timezone)
        assert on_postgres.to_json_data() == on_sqlite.to_json_data()
        assert on_postgres.opportunities == on_sqlite.opportunities
        assert on_postgres.unlicensed == on_sqlite.unlicensed
        want = _reference(pg, timezone)  # the reference, reading PostgreSQL seat by seat
        assert on_postgres.models == want.models and on_postgres.activity == want.activity
        assert on_postgres.opportunity_count == len(want.opportunities)
        # the idlest two listed, then the rest paged two at a time, in the same order
        top = reconcile_store(pg, now=NOW, timezone=timezone, opportunity_limit=2)
        paged, after = list(top.opportunities), (top.opportunities or [None])[-1]
        while after is not None:
            page = opportunities_store(pg, now=NOW, timezone=timezone, limit=2, after=after)
            paged.extend(page)
            after = page[-1] if len(page) == 2 else None
        assert paged == list(want.opportunities)
        # unlicensed seats: the first two listed, every one counted, paged two at a time (each
        # call on its own), walked one at a time, and walked from inside a unit
        first = reconcile_store(pg, now=NOW, timezone=timezone, unlicensed_limit=2)
        assert list(first.unlicensed) == list(want.unlicensed[:2])
        assert first.unlicensed_count == len(want.unlicensed)
        listed, mark = list(first.unlicensed), (first.unlicensed or [None])[-1]
        while mark is not None:
            more = list(unlicensed_store(pg, now=NOW, timezone=timezone, limit=2, after=mark))
            listed.extend(more)
            mark = more[-1] if len(more) == 2 else None
        assert listed == list(want.unlicensed)
        walk = unlicensed_store(pg, now=NOW, timezone=timezone, limit=None, page_size=1)
        assert list(walk) == list(want.unlicensed)
        if want.unlicensed:
            rest = unlicensed_store(
                pg, now=NOW, timezone=timezone, limit=None, after=want.unlicensed[0], page_size=1
            )
            assert list(rest) == list(want.unlicensed[1:])
    finally:
        pg.close()
        sqlite.close()
        schema.drop()


def test_rules_sql_cannot_express_exclude_the_same_seats_on_both(postgres_server) -> None:  # type: ignore[no-untyped-def]
    """Non-ASCII names, a bracket glob and attribute rules: SQLite matches them in a Python SQL
    function, PostgreSQL in Python before the query; the same seats are excluded from cost."""
    from saas_license import ExclusionRule

    names = ["ÉVA", "İlk", "\u212a-9", "ana", "Ben", "eve", "axb"]
    domains = ["corp.com", "ÉXAMPLE.fr", "other.org"]
    seats = [
        ("p-one", n, d, "id.alpha", 90 * 24 * 60, 0, True, {"dept": "Exec"} if i % 7 == 0 else {})
        for i, (n, d) in enumerate((n, d) for n in names for d in domains)
    ]
    rules = [
        ExclusionRule(kind="user", value="éva@*", effect="cost"),
        ExclusionRule(kind="user", value="[ab]*", effect="cost"),
        ExclusionRule(kind="domain", value="corp.com", effect="cost"),
        ExclusionRule(kind="attribute", attribute="dept", value="exec", effect="cost"),
    ]
    sqlite = _store(seats, rules, [], [], True, 30)
    schema = PgSchema(postgres_server)
    pg = schema.open()
    try:
        copy_workspace(sqlite, pg)
        on_sqlite = reconcile_store(sqlite, now=NOW, timezone="Europe/Berlin")
        on_postgres = reconcile_store(pg, now=NOW, timezone="Europe/Berlin")
        assert on_postgres.to_json_data() == on_sqlite.to_json_data()
        excluded = sum(m.excluded_seats for m in on_postgres.models)
        assert 0 < excluded < len(seats), excluded  # some excluded, by every path
        assert on_postgres.models == _reference(pg, "Europe/Berlin").models
    finally:
        pg.close()
        sqlite.close()
        schema.drop()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seats=seat_rows,
    rules=exclusions,
    ents=entitlements,
    allocs=allocations.filter(bool),
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Kiritimati"]),
)
def test_allocations_and_seat_flags_are_the_same_on_sqlite_and_postgres(  # type: ignore[no-untyped-def]
    postgres_server, seats, rules, ents, allocs, timezone
) -> None:
    """Issue 16's tiers on both stores: rights allocated to profiles and to groups of users (by
    principal-name pattern, non-ASCII and LIKE's own characters included) reconcile the same,
    and the seats' reconciled/unlicensed flags a saved reconciliation writes are the same."""
    sqlite = _store(seats, rules, ents, [], True, 30, allocs)
    schema = PgSchema(postgres_server)
    pg = schema.open()
    try:
        copy_workspace(sqlite, pg)
        results = []
        for store in (sqlite, pg):
            result = reconcile_store(store, now=NOW, timezone=timezone, unlicensed_limit=None)
            with store.transaction():
                flagged = store.record_seat_status(
                    exclusions=store.list_exclusion_rules(),
                    profile_types=PROFILES,
                    models=[m.software_model for m in result.models],
                    unlicensed_units=[u[:4] for u in unlicensed_units(result)],
                    reconciliation_id=1,
                    groups=group_allocations(store, now=NOW, timezone=timezone),
                )
            ids = [s.id for s in store.iter_subscriptions(active_only=False)]
            status = store.seat_status(ids)
            # the seats chosen in SQL are the ones the reconciliation lists
            assert {i for i, st in status.items() if st.unlicensed} == {
                u.subscription_id for u in result.unlicensed
            }
            results.append((result.to_json_data(), flagged, status))
        assert results[1] == results[0]
    finally:
        pg.close()
        sqlite.close()
        schema.drop()
