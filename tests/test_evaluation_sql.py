"""The set-based evaluation in SQL agrees with ``assess()`` on every seat: same verdict, same
reason (rule, exclusion, days counted), for generated seats, rules, cooldowns and time zones,
and a generated user directory whose facts rules name (``directory.*``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license import (
    CandidateState,
    EvaluationPolicy,
    ExclusionRule,
    ReclamationRule,
    RemovalCandidate,
    Verdict,
)
from saas_license._directory import DirectoryIndex, Person
from saas_license._directory.facts import reclaim_priority, with_directory, with_person
from saas_license._evaluation import assess, evaluate
from saas_license._evaluation_sql import assess_profile, evaluate_profile
from saas_license._store import SqliteStore
from saas_license._subscriptions import SubscriptionRecord

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
USERS = [
    "ann@corp.com",
    "Bob@Corp.COM",
    "eve@contractor.io",
    "\u212aim@corp.com",
    "zoe@x.corp.com",
    "nodomain",
]
IDENTIFIERS = ["x.roadmaps", "x.develop", "x.free"]
MODELS = ["Roadmaps", "Develop"]

# instants crowd around the thresholds: whole days back, then a few seconds or microseconds
instants = st.builds(
    lambda d, s, us: NOW - dt.timedelta(days=d, seconds=s, microseconds=us),
    st.integers(-2, 70),
    st.sampled_from([0, 1, 3600, 12 * 3600, 86_399, -1, -12 * 3600]),
    st.sampled_from([0, 1, 999, 1000, 500_500, -1]),
)
checks = st.builds(
    lambda h, us: NOW - dt.timedelta(hours=h, microseconds=us),
    st.sampled_from([0, 1, 23, 24, 47, 48, 49]),
    st.sampled_from([0, 1, 999, 1000, -1, -999]),
)
attribute_values = st.fixed_dictionaries(
    {"department": st.sampled_from(["eng", "Sales", "exec"])},
    optional={
        "administrator": st.sampled_from([True, False, None, "yes", 1]),
        "enabled": st.sampled_from([True, False, None]),
        "groups": st.lists(st.sampled_from(["a", "B", "c"]), max_size=2),
    },
)


@st.composite
def seats(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "upn": draw(st.sampled_from(USERS)),
        "user": draw(st.sampled_from(["u1", "u2", "u3", "svc"])),
        "identifier": draw(st.sampled_from(IDENTIFIERS)),
        "model": draw(st.sampled_from([*MODELS, None])),
        "last_activity": draw(st.none() | instants),
        "checked": draw(st.none() | checks),
        "created": draw(st.none() | instants),
        "assigned": draw(st.none() | instants),
        "active": draw(st.booleans()),
        "attributes": draw(attribute_values),
        "unknown": draw(
            st.frozensets(
                st.sampled_from(["administrator", "last_activity", "enabled"]), max_size=2
            )
        ),
        "cooldown": draw(st.none() | instants.map(lambda t: t + dt.timedelta(days=2))),
        "open": draw(st.booleans()),
        # a later complete download carried the seat unchanged (its profile's, or another's),
        # having checked its activity then, or not (``_store/_sqlite/seen.py``)
        "carried": draw(st.none() | st.tuples(st.none() | checks, st.booleans())),
    }


effects = st.sampled_from(["cost", "reclaim", "both"])
exclusion_rules = st.one_of(
    st.builds(
        ExclusionRule,
        kind=st.just("user"),
        value=st.sampled_from(
            [*USERS, "ANN*", "*@corp.com", "k*", "[ab]*", "[!a]*@corp.com", "?ob@*"]
        ),
        effect=effects,
        active=st.booleans(),
    ),
    st.builds(
        ExclusionRule,
        kind=st.just("domain"),
        value=st.sampled_from(["corp.com", "@CORP.com", "contractor.io", "com", "a@b", "nodomain"]),
        effect=effects,
    ),
    st.builds(
        ExclusionRule,
        kind=st.just("identifier"),
        value=st.sampled_from(IDENTIFIERS),
        profile_type=st.sampled_from([None, "T", "other"]),
        effect=effects,
    ),
    st.builds(
        ExclusionRule,
        kind=st.just("attribute"),
        attribute=st.sampled_from(["department", "groups", "administrator", "enabled"]),
        value=st.sampled_from(["eng", "sales", "b", "true", "false", "1"]),
        effect=effects,
    ),
    st.builds(
        ExclusionRule,
        kind=st.just("attribute"),
        attribute=st.sampled_from(["directory.department", "directory.employment_status"]),
        value=st.sampled_from(["eng", "Sales", "contractor", "leaver"]),
        effect=effects,
        active=st.booleans(),
    ),
)
#: the directory: each user with an address may be a person (known by e-mail, or by an alias)
directories = st.fixed_dictionaries(
    {
        upn: st.none()
        | st.tuples(
            st.booleans(),
            st.sampled_from(["eng", "Sales", None]),
            st.sampled_from(["active", "contractor", "Leaver", None]),
        )
        for upn in USERS
        if "@" in upn
    }
)


def _directory(store: SqliteStore, people: dict[str, Any]) -> DirectoryIndex:
    found = [
        Person(
            email=f"hr.{upn}" if by_alias else upn.upper(),
            aliases=(upn,) if by_alias else (),
            department=dept,
            employment_status=status,
        )
        for upn, facts in people.items()
        if facts is not None
        for by_alias, dept, status in [facts]
    ]
    store.replace_directory(found, source="generated", loaded_at="2026-06-15T12:00:00Z")
    return DirectoryIndex(found)


reclamation_rules = st.builds(
    ReclamationRule,
    software_model=st.sampled_from(MODELS),
    inactivity_days=st.sampled_from([1, 2, 30, 60]),
    new_account_grace_days=st.sampled_from([0, 1, 30]),
    create_candidates=st.booleans(),
    active=st.booleans(),
    filter=st.sampled_from(
        [{}, {"department": "eng"}, {"groups": "a"}, {"directory.department": "eng"}]
    ),
)


def _build(rows: list[dict[str, Any]]) -> SqliteStore:
    store = SqliteStore(":memory:")
    records = [
        SubscriptionRecord(
            external_user_id=f"{r['user']}-{i}",
            user_principal_name=r["upn"],
            identifier=r["identifier"],
            last_activity=r["last_activity"],
            external_created=r["created"],
            assigned_at=r["assigned"],
            attributes=r["attributes"],
            unknown=r["unknown"],
        )
        for i, r in enumerate(rows)
    ]
    store.upsert_subscriptions("p", records, run_id="r", now=NOW)
    top = store._run_number("top", create=True)
    store._q(
        "UPDATE download_runs SET profile = 'p', carried_to = id, carried_seen_at = ? WHERE id = ?",
        (_fmt(NOW), top),
    )
    for i, r in enumerate(rows, 1):
        if r.get("carried") is not None:
            checked, own = r["carried"]
            run = store._run_number(f"c{i}", create=True)
            store._q(
                "UPDATE download_runs SET profile = ?, carried_to = ?, carried_seen_at = ?, "
                "carried_checked_at = ? WHERE id = ?",
                (
                    "p" if own else "q",
                    top,
                    _fmt(NOW),
                    None if checked is None else _fmt(checked),
                    run,
                ),
            )
            store._q("UPDATE subscriptions SET seen_run = ? WHERE id = ?", (run, i))
        store._q(
            "UPDATE subscriptions SET software_model = ?, activity_checked_at = ?, active = ? "
            "WHERE id = ?",
            (
                r["model"],
                None if r["checked"] is None else _fmt(r["checked"]),
                int(r["active"]),
                i,
            ),
        )
        if r["cooldown"] is not None or r["open"]:
            sub = store.get_subscription(i)
            assert sub is not None
            base = RemovalCandidate(
                subscription_id=i,
                profile="p",
                external_user_id=sub.external_user_id,
                user_principal_name=sub.user_principal_name,
                identifier=sub.identifier,
                software_model=sub.software_model,
                state=CandidateState.CLOSED_SKIPPED,
                inactive_days=1,
                last_activity=None,
                opened_at=NOW,
                closed_at=NOW,
                keep_until=r["cooldown"],
            )
            store.add_candidate(base)
            if r["open"]:
                store.add_candidate(
                    RemovalCandidate(
                        **{
                            **{
                                f: getattr(base, f)
                                for f in (
                                    "subscription_id",
                                    "profile",
                                    "external_user_id",
                                    "user_principal_name",
                                    "identifier",
                                    "software_model",
                                    "inactive_days",
                                    "last_activity",
                                    "opened_at",
                                )
                            },
                            "state": CandidateState.READY,
                        }
                    )
                )
    return store


def _fmt(value: dt.datetime) -> int:
    """A seat instant as the store keeps it (epoch milliseconds)."""
    from saas_license._time import epoch_ms

    return epoch_ms(value)


settings_ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings_
@given(
    rows=st.lists(seats(), max_size=12),
    exclusions=st.lists(exclusion_rules, max_size=4),
    rules=st.lists(reclamation_rules, max_size=3),
    me=st.none() | st.integers(0, 11).map(lambda i: f"svc-{i}"),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Kiritimati", "America/St_Johns"]),
    skew=st.sampled_from([0, 1, 999, 1000, 3_600_000_000, 43_200_000_001]),
    max_age_hours=st.sampled_from([1, 24, 48]),
    people=directories,
)
def test_sql_verdicts_equal_assess(
    rows: list[dict[str, Any]],
    exclusions: list[ExclusionRule],
    rules: list[ReclamationRule],
    me: str | None,
    zone: str,
    skew: int,
    max_age_hours: int,
    people: dict[str, Any],
) -> None:
    store = _build(rows)
    index = _directory(store, people)
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
    cooldowns = store.cooldowns("p", now=now)
    got = {
        sub.id: a for sub, a in assess_profile(store, "p", rules=by_model, active_only=False, **kw)
    }
    subs = list(store.iter_subscriptions("p", active_only=False))
    assert len(got) == len(subs) == len(rows)
    for sub in subs:
        seat = with_person(sub, index.lookup(sub.user_principal_name))  # the directory's facts
        want = assess(seat, rules=by_model, cooldown_until=cooldowns.get(sub.id), **kw)
        assert got[sub.id] == want, sub

    # the whole pass: proposals, candidates kept, cancelled, skipped, and the verdict counts
    py = evaluate(
        with_directory(store.iter_subscriptions("p"), index),
        open_candidates=store.list_candidates("p"),
        rules=rules,
        cooldowns=cooldowns,
        **kw,
    )
    sql = evaluate_profile(store, "p", rules=rules, **kw)
    # leavers' seats first (the pipeline orders the row-by-row proposals the same way)
    leavers_first = sorted(py.proposals, key=lambda p: reclaim_priority(p.subscription.attributes))
    assert [(p.subscription, p.assessment) for p in leavers_first] == [
        (s, a) for batch in sql.proposals(3) for s, a in batch
    ]
    assert len(py.still_idle) == sql.still_idle
    assert [(c.id, a) for c, a in py.to_cancel] == [(c.id, a) for c, a in sql.to_cancel]
    assert sorted((c.id or 0, a.verdict.value) for c, a in py.to_skip) == sorted(
        (c.id or 0, a.verdict.value) for c, a in sql.to_skip
    )
    assert dict(py.verdicts) == dict(sql.verdicts)
    store.close()


def test_every_verdict_is_covered_and_agrees() -> None:
    """One seat per verdict, UNKNOWN_PROTECTION included: the SQL and assess() agree on each."""
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
        {"active": False},
        {"upn": "eve@contractor.io"},  # excluded by domain
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
        {"last_activity": NOW - dt.timedelta(days=1)},
        {"model": "Develop", "attributes": {"department": "Sales", "administrator": False}},
        {"cooldown": NOW + dt.timedelta(days=3)},
    ]
    rows = [{**base, **v} for v in variants]
    store = _build(rows)
    rules = {
        "Roadmaps": ReclamationRule(software_model="Roadmaps"),
        "Develop": ReclamationRule(
            software_model="Develop", create_candidates=False, filter={"department": "Sales"}
        ),
    }
    kw: dict[str, Any] = dict(
        now=NOW,
        profile_type="T",
        exclusions=[ExclusionRule(kind="domain", value="contractor.io")],
        integration_user_id="svc-6",
        protective_fields=("administrator",),
    )
    cooldowns = store.cooldowns("p", now=NOW)
    seen = set()
    for sub, got in assess_profile(store, "p", rules=rules, active_only=False, **kw):
        assert got == assess(sub, rules=rules, cooldown_until=cooldowns.get(sub.id), **kw)
        seen.add(got.verdict)
    assert seen == set(Verdict)
    store.close()


@st.composite
def clean_seats(draw: st.DrawFn) -> dict[str, Any]:
    """Seats that reach the day arithmetic: known, fresh, unprotected, with a rule."""
    row = draw(seats())
    row.update(
        model=draw(st.sampled_from(MODELS)),
        active=True,
        attributes={"department": "eng", "administrator": False, "enabled": True},
        unknown=frozenset(),
        checked=draw(checks.filter(lambda t: NOW - t < dt.timedelta(hours=23))),
    )
    return row


@settings_
@given(
    rows=st.lists(clean_seats(), min_size=1, max_size=12),
    inactivity=st.sampled_from([1, 2, 30, 60]),
    grace=st.sampled_from([0, 1, 30]),
    create=st.booleans(),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Kiritimati", "America/St_Johns"]),
    skew=st.sampled_from([0, 1, 999, 1000, 3_600_000_000, 43_200_000_001]),
)
def test_sql_day_arithmetic_equals_assess(
    rows: list[dict[str, Any]], inactivity: int, grace: int, create: bool, zone: str, skew: int
) -> None:
    store = _build(rows)
    now = NOW + dt.timedelta(microseconds=skew)
    rules = {
        m: ReclamationRule(
            software_model=m,
            inactivity_days=inactivity,
            new_account_grace_days=grace,
            create_candidates=create,
        )
        for m in MODELS
    }
    kw: dict[str, Any] = dict(
        now=now,
        profile_type="T",
        exclusions=[],
        integration_user_id=None,
        policy=EvaluationPolicy(timezone=zone),
    )
    cooldowns = store.cooldowns("p", now=now)
    for sub, got in assess_profile(store, "p", rules=rules, **kw):
        assert got == assess(sub, rules=rules, cooldown_until=cooldowns.get(sub.id), **kw), sub
    store.close()


directory_rules = st.builds(
    ExclusionRule,
    kind=st.just("attribute"),
    # a name no person has (with a quote) matches nobody, and must not break the SQL
    attribute=st.sampled_from(
        ["directory.department", "directory.employment_status", "directory.o'dd"]
    ),
    value=st.sampled_from(["eng", "Sales", "contractor", "leaver"]),
    effect=st.sampled_from(["reclaim", "both"]),
)


@settings_
@given(
    rows=st.lists(seats(), min_size=1, max_size=12),
    exclusions=st.lists(directory_rules, min_size=1, max_size=2),
    others=st.lists(exclusion_rules, max_size=2),
    filtered=st.booleans(),
    people=directories.filter(lambda d: any(v is not None for v in d.values())),
)
def test_sql_verdicts_with_a_directory_equal_assess(
    rows: list[dict[str, Any]],
    exclusions: list[ExclusionRule],
    others: list[ExclusionRule],
    filtered: bool,
    people: dict[str, Any],
) -> None:
    """Every example has a directory and a rule on its facts: SQL and assess() agree on seats
    whose user is known by e-mail or alias, and on seats whose user is not (no facts)."""
    store = _build(rows)
    index = _directory(store, people)
    rules = [
        ReclamationRule(
            software_model=m, filter={"directory.department": "eng"} if filtered else {}
        )
        for m in MODELS
    ]
    by_model = {r.software_model: r for r in rules}
    kw: dict[str, Any] = dict(
        now=NOW,
        profile_type="T",
        exclusions=[*others, *exclusions],
        integration_user_id=None,
        protective_fields=("administrator",),
    )
    cooldowns = store.cooldowns("p", now=NOW)
    for sub, got in assess_profile(store, "p", rules=by_model, active_only=False, **kw):
        seat = with_person(sub, index.lookup(sub.user_principal_name))
        assert sub == seat  # the seat as evaluated carries its person's facts
        assert got == assess(seat, rules=by_model, cooldown_until=cooldowns.get(sub.id), **kw)
    py = evaluate(
        with_directory(store.iter_subscriptions("p"), index),
        open_candidates=store.list_candidates("p"),
        rules=rules,
        cooldowns=cooldowns,
        **kw,
    )
    sql = evaluate_profile(store, "p", rules=rules, **kw)
    leavers_first = sorted(py.proposals, key=lambda p: reclaim_priority(p.subscription.attributes))
    assert [(p.subscription, p.assessment) for p in leavers_first] == [
        (s, a) for batch in sql.proposals(5) for s, a in batch
    ]
    assert dict(py.verdicts) == dict(sql.verdicts)
    store.close()


def test_leavers_are_proposed_first_by_the_set_based_evaluation() -> None:
    old = NOW - dt.timedelta(days=300)
    base: dict[str, Any] = dict(
        user="u",
        identifier="x.roadmaps",
        model="Roadmaps",
        last_activity=old,
        checked=NOW - dt.timedelta(hours=1),
        created=old,
        assigned=None,
        active=True,
        attributes={"department": "Sales", "administrator": False},
        unknown=frozenset(),
        cooldown=None,
        open=False,
    )
    store = _build([{**base, "upn": u} for u in ("ann@corp.com", "Bob@Corp.COM", "zoe@x.corp.com")])
    _directory(store, {"zoe@x.corp.com": (True, None, "leaver"), "ann@corp.com": None})
    sql = evaluate_profile(
        store,
        "p",
        now=NOW,
        profile_type="T",
        exclusions=[],
        rules=[ReclamationRule(software_model="Roadmaps")],
        integration_user_id=None,
    )
    order = [s.user_principal_name for batch in sql.proposals(2) for s, _ in batch]
    assert order == ["zoe@x.corp.com", "ann@corp.com", "Bob@Corp.COM"]
    store.close()


#: names with LIKE's own special characters (``%``, ``_``, ``\``), beyond ASCII, and without "@"
LIKE_NAMES = [
    "ann_b@corp.com",
    "annxb@corp.com",
    "a%b@c_rp.com",
    "a%b@corp.com",
    "back\\slash@corp.com",
    "Éva@Corp.com",
    "c_rp.com",
    "x@sub.c%rp.com",
]


def test_user_and_domain_rules_take_like_specials_literally() -> None:
    """SQLite decides user patterns and domains with ``LIKE`` on ASCII names: its wildcards in a
    name or a pattern are plain characters there, as for the rule itself."""
    old = NOW - dt.timedelta(days=300)
    base: dict[str, Any] = dict(
        user="u",
        identifier="x.roadmaps",
        model="Roadmaps",
        last_activity=old,
        checked=NOW - dt.timedelta(hours=1),
        created=old,
        assigned=None,
        active=True,
        attributes={"department": "Sales", "administrator": False},
        unknown=frozenset(),
        cooldown=None,
        open=False,
    )
    store = _build([{**base, "upn": u} for u in LIKE_NAMES])
    rules = {"Roadmaps": ReclamationRule(software_model="Roadmaps")}
    patterns = ["ann_*", "ann?b@*", "a%b@*", "%", "*\\*", "back\\slash@*", "éva@*", "*@c_rp.com"]
    domains = ["c_rp.com", "corp.com", "c%rp.com", "_rp.com", "@c_rp.com"]
    matched = 0
    for value, kind in [(p, "user") for p in patterns] + [(d, "domain") for d in domains]:
        rule = ExclusionRule(kind=kind, value=value)  # type: ignore[arg-type]
        kw: dict[str, Any] = dict(
            now=NOW, profile_type="T", exclusions=[rule], integration_user_id=None
        )
        for sub, got in assess_profile(store, "p", rules=rules, **kw):
            want = assess(sub, rules=rules, cooldown_until=None, **kw)
            assert got == want, (value, sub.user_principal_name)
            matched += got.verdict is Verdict.EXCLUDED
    assert matched >= 8  # the rules do match some names: not vacuous
    store.close()


def test_an_evaluations_lists_are_read_a_page_at_a_time_while_the_store_keeps_them() -> None:
    """Proposals, cancellations and skips stay in the store, read back in pages of any size
    (the same answers each time, a later evaluation of the store meanwhile or not); once the
    store has dropped them (eight evaluations later), reading them fails loudly instead of
    answering for another evaluation."""
    old = NOW - dt.timedelta(days=300)
    base: dict[str, Any] = dict(
        user="u",
        identifier="x.roadmaps",
        model="Roadmaps",
        last_activity=old,
        checked=NOW - dt.timedelta(hours=1),
        created=old,
        assigned=None,
        active=True,
        attributes={"department": "Sales", "administrator": False},
        unknown=frozenset(),
        cooldown=None,
        open=False,
    )
    rows = [{**base, "upn": f"u{i}@corp.com"} for i in range(7)]
    rows += [
        {**base, "upn": f"back{i}@corp.com", "open": True, "last_activity": NOW} for i in range(3)
    ]
    rows += [{**base, "upn": "svc@corp.com", "open": True}]
    store = _build(rows)
    kw: dict[str, Any] = dict(
        now=NOW,
        profile_type="T",
        exclusions=[ExclusionRule(kind="user", value="svc@*")],
        rules=[ReclamationRule(software_model="Roadmaps")],
        integration_user_id=None,
    )
    ev = evaluate_profile(store, "p", **kw)
    assert ev.proposed == 7
    pages = [[s.user_principal_name for s, _ in batch] for batch in ev.proposals(3)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [u for p in pages for u in p] == [f"u{i}@corp.com" for i in range(7)]
    assert [
        u for b in ev.proposals(500) for u, _ in ((s.user_principal_name, a) for s, a in b)
    ] == [u for p in pages for u in p]
    assert len(ev.to_cancel) == 3 and len(ev.to_skip) == 1
    assert {a.verdict for _, a in ev.to_cancel} == {Verdict.ACTIVE}
    assert [(c.user_principal_name, a.verdict) for c, a in ev.to_skip] == [
        ("svc@corp.com", Verdict.EXCLUDED)
    ]
    later = evaluate_profile(store, "p", **kw)  # e.g. another profile's run meanwhile
    assert [s.user_principal_name for b in ev.proposals(2) for s, _ in b] == [
        u for p in pages for u in p
    ]
    for _ in range(7):
        evaluate_profile(store, "p", **kw)
    with pytest.raises(RuntimeError, match="later evaluations"):
        next(ev.proposals())
    with pytest.raises(RuntimeError, match="later evaluations"):
        list(ev.to_cancel)
    assert later.proposed == 7 and len(list(later.to_cancel)) == 3
    store.close()
