"""The set-based evaluation's SQL on both stores: over the same generated seats, rules,
candidates, cooldowns, user directory and time zones, SQLite's SQL, PostgreSQL's SQL and
:func:`assess` (the definition) give every seat the same :class:`Assessment`, and a whole
evaluation the same proposals, cancellations, skips and verdict counts.

The data is built on SQLite (``tests/test_evaluation_sql.py``'s generators) and copied into a
fresh PostgreSQL schema (:func:`copy_workspace`: the same ids), so both stores hold the same
rows. Examples are fewer than on SQLite: each needs a schema on the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license import EvaluationPolicy, ExclusionRule, ReclamationRule, Verdict
from saas_license._directory.facts import reclaim_priority, with_directory, with_person
from saas_license._evaluation import assess, evaluate
from saas_license._evaluation_sql import SetEvaluation, assess_profile, evaluate_profile
from saas_license._store import SqliteStore, Store
from saas_license._store.copy import copy_workspace

from ..test_evaluation_sql import (
    MODELS,
    NOW,
    USERS,
    _build,
    _directory,
    directories,
    effects,
    exclusion_rules,
    reclamation_rules,
    seats,
)
from . import server as pg
from .fixtures import PgSchema

pytestmark = pytest.mark.postgres

#: names beyond ASCII and with LIKE's own special characters (``%``, ``_``, ``\``)
NAMES = [*USERS, "Éva@Corp.com", "ann_b@corp.com", "a%b@corp.com", "back\\slash@corp.com"]
#: user patterns: ASCII globs (LIKE on PostgreSQL), LIKE's specials taken literally, character
#: classes and non-ASCII patterns (decided by the rule itself)
user_rules = st.builds(
    ExclusionRule,
    kind=st.just("user"),
    value=st.sampled_from(
        [
            "ann_*",
            "ann?b@*",
            "a%b@*",
            "%",
            "*\\*",
            "back\\slash@*",
            "éva@*",
            "[aé]*",
            "[!a]*@corp.com",
            "\u212a*",
            "*@corp.com",
        ]
    ),
    effect=effects,
)
domain_rules = st.builds(
    ExclusionRule,
    kind=st.just("domain"),
    value=st.sampled_from(["CORP.com", "corp.com", "ÉXAMPLE.fr", "x.corp.com"]),
    effect=effects,
)
all_exclusions = st.one_of(exclusion_rules, user_rules, domain_rules)


@st.composite
def named_seats(draw: st.DrawFn) -> dict[str, Any]:
    row = draw(seats())
    row["upn"] = draw(st.sampled_from(NAMES))
    return row


def _same_data(server: pg.Server, sqlite: SqliteStore) -> Iterator[Store]:
    schema = PgSchema(server)
    store = schema.open()
    try:
        copy_workspace(sqlite, store)
        yield store
    finally:
        store.close()
        schema.drop()


def _summary(ev: SetEvaluation) -> tuple[Any, ...]:
    return (
        [(s, a) for batch in ev.proposals(4) for s, a in batch],
        ev.still_idle,
        [(c.id, a) for c, a in ev.to_cancel],
        sorted((c.id or 0, a.verdict.value) for c, a in ev.to_skip),
        dict(ev.verdicts),
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(named_seats(), max_size=10),
    exclusions=st.lists(all_exclusions, max_size=4),
    rules=st.lists(reclamation_rules, max_size=3),
    me=st.none() | st.integers(0, 9).map(lambda i: f"svc-{i}"),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Kiritimati", "America/St_Johns"]),
    skew=st.sampled_from([0, 999, 1000, 3_600_000_000, 43_200_000_001]),
    max_age_hours=st.sampled_from([1, 24, 48]),
    people=st.none() | directories,
)
def test_sqlite_sql_postgres_sql_and_assess_agree(  # type: ignore[no-untyped-def]
    postgres_server,
    rows: list[dict[str, Any]],
    exclusions: list[ExclusionRule],
    rules: list[ReclamationRule],
    me: str | None,
    zone: str,
    skew: int,
    max_age_hours: int,
    people: dict[str, Any] | None,
) -> None:
    sqlite = _build(rows)
    index = _directory(sqlite, people) if people is not None else None
    now = NOW + dt.timedelta(microseconds=skew)
    policy = EvaluationPolicy(timezone=zone, activity_max_age=dt.timedelta(hours=max_age_hours))
    by_model = {r.software_model: r for r in rules}
    kw: dict[str, Any] = dict(
        now=now,
        profile_type="T",
        exclusions=exclusions,
        integration_user_id=me,
        policy=policy,
        protective_fields=("administrator", "enabled"),
    )
    try:
        for store in _same_data(postgres_server, sqlite):
            cooldowns = sqlite.cooldowns("p", now=now)
            assert store.cooldowns("p", now=now) == cooldowns
            on_sqlite = list(assess_profile(sqlite, "p", rules=by_model, active_only=False, **kw))
            on_pg = list(assess_profile(store, "p", rules=by_model, active_only=False, **kw))
            assert len(on_pg) == len(rows)
            assert on_pg == on_sqlite
            for sub, got in on_pg:
                seat = (
                    sub
                    if index is None
                    else with_person(sub, index.lookup(sub.user_principal_name))
                )
                want = assess(seat, rules=by_model, cooldown_until=cooldowns.get(sub.id), **kw)
                assert got == want, sub

            # the whole pass, as the pipeline runs it
            ev_pg = evaluate_profile(store, "p", rules=rules, **kw)
            assert _summary(ev_pg) == _summary(evaluate_profile(sqlite, "p", rules=rules, **kw))
            subs = sqlite.iter_subscriptions("p")
            py = evaluate(
                subs if index is None else with_directory(subs, index),
                open_candidates=sqlite.list_candidates("p"),
                rules=rules,
                cooldowns=cooldowns,
                **kw,
            )
            proposals = sorted(
                py.proposals, key=lambda p: reclaim_priority(p.subscription.attributes)
            )
            assert [(p.subscription, p.assessment) for p in proposals] == _summary(ev_pg)[0]
            assert dict(py.verdicts) == dict(ev_pg.verdicts)
    finally:
        sqlite.close()


def test_every_verdict_on_both_stores(postgres_server) -> None:  # type: ignore[no-untyped-def]
    """One seat per verdict (UNKNOWN_PROTECTION included), plus seats SQL hands to
    :func:`assess` (a zone's day boundary) and names only the rule itself decides: the same
    assessments on SQLite and PostgreSQL, equal to :func:`assess`."""
    old = NOW - dt.timedelta(days=300)
    base: dict[str, Any] = dict(
        upn="ann@corp.com",
        user="u1",
        identifier="x.roadmaps",
        model="Roadmaps",
        last_activity=old,
        checked=NOW - dt.timedelta(hours=1),
        created=old,
        assigned=None,
        active=True,
        attributes={"department": "Sales", "administrator": False, "enabled": True},
        unknown=frozenset(),
        cooldown=None,
        open=False,
    )
    variants: list[dict[str, Any]] = [
        {},  # idle
        {"open": True},  # idle, with an open candidate
        {"active": False},
        {"upn": "eve@contractor.io"},  # excluded by domain
        {"upn": "ÉVE@CONTRACTOR.IO"},  # the same, non-ASCII
        {"upn": "bob@corp.com"},  # a character class
        {"upn": "ann_x@corp.com", "last_activity": NOW - dt.timedelta(days=29, hours=23)},
        {"attributes": {"department": "Sales", "administrator": True}},
        {"unknown": frozenset({"administrator"})},  # unknown protection
        {"attributes": {"department": "Sales", "administrator": False, "enabled": False}},
        {"user": "svc"},
        {"checked": None},
        {"checked": NOW - dt.timedelta(days=5)},
        {"model": None},
        {
            "attributes": {"department": "eng", "administrator": False, "enabled": True},
            "model": "Develop",
        },
        {"created": NOW - dt.timedelta(days=2)},
        {"last_activity": NOW - dt.timedelta(days=1), "open": True},  # active: cancelled
        {"model": "Develop", "attributes": {"department": "Sales", "administrator": False}},
        {"cooldown": NOW + dt.timedelta(days=3)},
    ]
    rows = [{**base, **v} for v in variants]
    sqlite = _build(rows)
    rules = {
        "Roadmaps": ReclamationRule(software_model="Roadmaps"),
        "Develop": ReclamationRule(
            software_model="Develop", create_candidates=False, filter={"department": "Sales"}
        ),
    }
    for zone in ("UTC", "Pacific/Kiritimati"):
        kw: dict[str, Any] = dict(
            now=NOW,
            profile_type="T",
            exclusions=[
                ExclusionRule(kind="domain", value="contractor.io"),
                ExclusionRule(kind="user", value="[b]*"),
            ],
            integration_user_id="svc-10",
            protective_fields=("administrator",),
            policy=EvaluationPolicy(timezone=zone),
        )
        cooldowns = sqlite.cooldowns("p", now=NOW)
        for store in _same_data(postgres_server, sqlite):
            on_pg = list(assess_profile(store, "p", rules=rules, active_only=False, **kw))
            assert on_pg == list(assess_profile(sqlite, "p", rules=rules, active_only=False, **kw))
            for sub, got in on_pg:
                assert got == assess(sub, rules=rules, cooldown_until=cooldowns.get(sub.id), **kw)
            assert {a.verdict for _, a in on_pg} == set(Verdict)
            ev = evaluate_profile(store, "p", rules=list(rules.values()), **kw)
            assert _summary(ev) == _summary(
                evaluate_profile(sqlite, "p", rules=list(rules.values()), **kw)
            )
            assert ev.to_cancel and ev.still_idle and ev.proposed  # each path exercised
    sqlite.close()


def test_a_directory_rule_on_both_stores(postgres_server) -> None:  # type: ignore[no-untyped-def]
    """Rules on ``directory.*`` facts: people found by e-mail and by alias, leavers first."""
    old = NOW - dt.timedelta(days=300)
    rows = [
        dict(
            upn=upn,
            user="u",
            identifier="x.roadmaps",
            model=MODELS[i % 2],
            last_activity=old,
            checked=NOW - dt.timedelta(hours=1),
            created=old,
            assigned=None,
            active=True,
            attributes={"department": "Sales"},
            unknown=frozenset(),
            cooldown=None,
            open=False,
        )
        for i, upn in enumerate(u for u in USERS for _ in range(3))
    ]
    sqlite = _build(rows)
    _directory(
        sqlite,
        {
            "ann@corp.com": (False, "eng", "active"),
            "Bob@Corp.COM": (True, "Sales", "leaver"),
            "zoe@x.corp.com": (True, None, "Leaver"),
            "eve@contractor.io": (False, "Sales", "contractor"),
        },
    )
    rules = [
        ReclamationRule(software_model="Roadmaps", filter={"directory.department": "Sales"}),
        ReclamationRule(software_model="Develop"),
    ]
    kw: dict[str, Any] = dict(
        now=NOW,
        profile_type="T",
        exclusions=[
            ExclusionRule(
                kind="attribute", attribute="directory.employment_status", value="contractor"
            )
        ],
        integration_user_id=None,
        rules=rules,
    )
    for store in _same_data(postgres_server, sqlite):
        ev = evaluate_profile(store, "p", **kw)
        assert _summary(ev) == _summary(evaluate_profile(sqlite, "p", **kw))
        order = [s.user_principal_name for batch in ev.proposals(2) for s, _ in batch]
        assert order[:2] == ["Bob@Corp.COM", "zoe@x.corp.com"] or order[:2] == [
            "Bob@Corp.COM",
            "Bob@Corp.COM",
        ]
        assert "eve@contractor.io" not in order
    sqlite.close()
