"""The evaluate step: safety rules hold for any seats and rules (Hypothesis), and the arithmetic is right."""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import given
from hypothesis import strategies as st

from saas_license import (
    CandidateState,
    EvaluationPolicy,
    ExclusionRule,
    ReclamationRule,
    RemovalCandidate,
    Subscription,
    Verdict,
)
from saas_license._evaluation import assess, evaluate
from saas_license._rules import first_exclusion

from .strategies import NOW, exclusion_rules, reclamation_rules, seat_lists

POLICY = EvaluationPolicy()


def _seat(**kw: object) -> Subscription:
    base = dict(
        id=1,
        profile="p",
        external_user_id="u1",
        user_principal_name="u1@corp.com",
        identifier="x.roadmaps",
        software_model="Roadmaps",
        last_activity=NOW - dt.timedelta(days=90),
        activity_checked_at=NOW - dt.timedelta(hours=1),
        external_created=NOW - dt.timedelta(days=400),
        attributes={"administrator": False},
    )
    base.update(kw)
    return Subscription(**base)  # type: ignore[arg-type]


RULES = {"Roadmaps": ReclamationRule(software_model="Roadmaps")}


def _assess(
    seat: Subscription, exclusions: list[ExclusionRule] | None = None, me: str | None = "svc"
) -> Verdict:
    return assess(
        seat,
        now=NOW,
        profile_type="T",
        exclusions=exclusions or [],
        rules=RULES,
        integration_user_id=me,
        policy=POLICY,
    ).verdict


def test_idle_seat_is_proposed() -> None:
    assert _assess(_seat()) is Verdict.IDLE


def test_threshold_boundary_counts_whole_days() -> None:
    assert _assess(_seat(last_activity=NOW - dt.timedelta(days=59))) is Verdict.ACTIVE
    assert _assess(_seat(last_activity=NOW - dt.timedelta(days=60))) is Verdict.IDLE


def test_safety_verdicts() -> None:
    assert _assess(_seat(attributes={"administrator": True})) is Verdict.ADMINISTRATOR
    assert _assess(_seat(external_user_id="svc")) is Verdict.INTEGRATION_USER
    assert _assess(_seat(activity_checked_at=None)) is Verdict.NO_ACTIVITY_DATA
    assert (
        _assess(_seat(activity_checked_at=NOW - dt.timedelta(days=3)))
        is Verdict.STALE_ACTIVITY_DATA
    )
    assert _assess(_seat(), [ExclusionRule(kind="user", value="u1@corp.com")]) is Verdict.EXCLUDED
    assert _assess(_seat(software_model=None)) is Verdict.NO_RULE
    assert _assess(_seat(active=False)) is Verdict.INACTIVE_SEAT


def test_cost_only_exclusion_does_not_protect_from_reclaim() -> None:
    rule = ExclusionRule(kind="domain", value="corp.com", effect="cost")
    assert _assess(_seat(), [rule]) is Verdict.IDLE


def test_never_accessed_seat_measured_from_creation_with_grace() -> None:
    assert (
        _assess(_seat(last_activity=None, external_created=NOW - dt.timedelta(days=100)))
        is Verdict.IDLE
    )
    assert (
        _assess(_seat(last_activity=None, external_created=NOW - dt.timedelta(days=10)))
        is Verdict.NEW_ACCOUNT_GRACE
    )
    assert _assess(_seat(last_activity=None, external_created=None)) is Verdict.NO_ACTIVITY_DATA


def test_days_are_counted_in_the_organisation_time_zone() -> None:
    # 23:30 in Auckland on day D vs 00:30 UTC: same UTC date, different local dates.
    seen = dt.datetime(2026, 4, 16, 11, 30, tzinfo=dt.timezone.utc)  # 23:30 NZST, 16 Apr
    check = dt.datetime(2026, 6, 15, 12, 30, tzinfo=dt.timezone.utc)  # 00:30 NZST, 16 Jun
    seat = _seat(last_activity=seen, activity_checked_at=check)
    utc = assess(
        seat, now=check, profile_type=None, exclusions=[], rules=RULES, integration_user_id=None
    )
    nz = assess(
        seat,
        now=check,
        profile_type=None,
        exclusions=[],
        rules=RULES,
        integration_user_id=None,
        policy=EvaluationPolicy(timezone="Pacific/Auckland"),
    )
    assert (utc.inactive_days, nz.inactive_days) == (60, 61)


@given(
    seats=seat_lists(),
    exclusions=st.lists(exclusion_rules, max_size=4),
    rules=st.lists(reclamation_rules, max_size=2),
)
def test_nothing_protected_is_ever_proposed(
    seats: list[Subscription], exclusions: list[ExclusionRule], rules: list[ReclamationRule]
) -> None:
    result = evaluate(
        seats,
        open_candidates=[],
        now=NOW,
        profile_type="T",
        exclusions=exclusions,
        rules=rules,
        integration_user_id="user0",
        policy=POLICY,
    )
    for proposal in result.proposals:
        seat = proposal.subscription
        assert seat.active
        assert not seat.is_administrator
        assert seat.external_user_id != "user0"
        assert first_exclusion(exclusions, seat, "T", reclaim=True) is None
        assert seat.activity_checked_at is not None
        assert NOW - seat.activity_checked_at <= POLICY.activity_max_age
        assert proposal.assessment.inactive_days is not None
        # evaluate() keeps the last rule given for a model (a dict by model), as here
        rule = {r.software_model: r for r in rules}[seat.software_model or ""]
        assert proposal.assessment.inactive_days >= rule.inactivity_days
    assert sum(result.verdicts.values()) == len(seats)


@given(seats=seat_lists(), exclusions=st.lists(exclusion_rules, max_size=5), data=st.data())
def test_exclusions_are_order_independent_and_idempotent(
    seats: list[Subscription], exclusions: list[ExclusionRule], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(exclusions))
    for seat in seats:
        for reclaim in (True, False):
            a = first_exclusion(exclusions, seat, "T", reclaim=reclaim) is not None
            b = first_exclusion(shuffled, seat, "T", reclaim=reclaim) is not None
            c = first_exclusion(exclusions + exclusions, seat, "T", reclaim=reclaim) is not None
            assert a == b == c


@given(seats=seat_lists(), rules=st.lists(reclamation_rules, max_size=2))
def test_open_candidates_are_never_duplicated_and_protected_ones_close(
    seats: list[Subscription], rules: list[ReclamationRule]
) -> None:
    candidates = [
        RemovalCandidate(
            id=s.id,
            subscription_id=s.id,
            profile="p",
            external_user_id=s.external_user_id,
            user_principal_name=s.user_principal_name,
            identifier=s.identifier,
            software_model=s.software_model,
            state=CandidateState.READY,
            inactive_days=99,
            last_activity=None,
            opened_at=NOW,
        )
        for s in seats[::2]
    ]
    result = evaluate(
        seats,
        open_candidates=candidates,
        now=NOW,
        profile_type="T",
        exclusions=[],
        rules=rules,
        integration_user_id=None,
    )
    proposed = {p.subscription.id for p in result.proposals}
    assert not proposed & {c.subscription_id for c in candidates}
    handled = [c.id for c in result.still_idle] + [
        c.id for c, _ in result.to_cancel + result.to_skip
    ]
    assert sorted(handled) == sorted(
        c.id for c in candidates
    )  # each open candidate decided exactly once
    by_id = {s.id: s for s in seats}
    for cand, _ in result.to_skip:
        seat = by_id[cand.subscription_id]
        assert not seat.active or seat.is_administrator


def test_evolve_keeps_records_frozen() -> None:
    seat = _seat()
    assert attrs.evolve(seat, active=False).active is False
    assert seat.active is True


# -- issue 8: missing data is never "not protected" ------------------------------------------

PROTECTIVE = ("administrator", "enabled")


def _assess_with(seat: Subscription) -> Verdict:
    return assess(
        seat,
        now=NOW,
        profile_type="T",
        exclusions=[],
        rules=RULES,
        integration_user_id="svc",
        policy=POLICY,
        protective_fields=PROTECTIVE,
    ).verdict


def test_an_unknown_or_malformed_protective_field_is_unknown_protection() -> None:
    assert _assess_with(_seat()) is Verdict.IDLE
    assert _assess_with(_seat(unknown=frozenset({"administrator"}))) is Verdict.UNKNOWN_PROTECTION
    assert _assess_with(_seat(unknown=frozenset({"enabled"}))) is Verdict.UNKNOWN_PROTECTION
    for bad in ("false", None, 0, [], {"administer_account": True}):
        seat = _seat(attributes={"administrator": bad})
        assert _assess_with(seat) in (Verdict.UNKNOWN_PROTECTION, Verdict.ADMINISTRATOR), bad
    assert _assess_with(_seat(attributes={"administrator": False, "enabled": "yes"})) is (
        Verdict.UNKNOWN_PROTECTION
    )
    # a definite protection still wins, and an exclusion first of all
    assert _assess_with(
        _seat(attributes={"administrator": True}, unknown=frozenset({"enabled"}))
    ) is (Verdict.ADMINISTRATOR)
    # a disabled account holds no seat to reclaim
    assert _assess_with(_seat(attributes={"administrator": False, "enabled": False})) is (
        Verdict.INACTIVE_SEAT
    )


def test_unknown_last_activity_never_reads_as_never_active() -> None:
    never = _seat(last_activity=None, external_created=NOW - dt.timedelta(days=400))
    assert _assess_with(never) is Verdict.IDLE  # the vendor said: never active, long ago created
    unknown = attrs.evolve(never, unknown=frozenset({"last_activity"}))
    assert _assess_with(unknown) is Verdict.NO_ACTIVITY_DATA
    known_before = _seat(unknown=frozenset({"last_activity"}))  # an older value is known
    assert _assess_with(known_before) is Verdict.NO_ACTIVITY_DATA


_fields = st.frozensets(st.sampled_from(["administrator", "enabled", "last_activity", "timezone"]))


@given(seats=seat_lists(), unknown=st.lists(_fields, min_size=1, max_size=30))
def test_a_seat_with_unknown_protective_or_activity_data_is_never_proposed(
    seats: list[Subscription], unknown: list[frozenset[str]]
) -> None:
    marked = [attrs.evolve(s, unknown=unknown[i % len(unknown)]) for i, s in enumerate(seats)]
    models = sorted({s.software_model for s in seats if s.software_model})
    result = evaluate(
        marked,
        open_candidates=[],
        now=NOW,
        profile_type="T",
        exclusions=[],
        rules=[ReclamationRule(software_model=m, inactivity_days=1) for m in models],
        integration_user_id="user0",
        policy=POLICY,
        protective_fields=PROTECTIVE,
    )
    for proposal in result.proposals:
        seat = proposal.subscription
        assert not seat.unknown & {"administrator", "enabled", "last_activity"}
        assert all(isinstance(seat.attributes.get(f, False), bool) for f in PROTECTIVE)
    expected = sum(
        1
        for s in marked
        if s.active
        and s.unknown & set(PROTECTIVE)
        and not (s.is_administrator and "administrator" not in s.unknown)
    )
    assert result.verdicts.get("unknown_protection", 0) == expected
