"""Inactivity arithmetic across time zones: instants are stored in UTC, days are counted on the
organisation's wall calendar."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saas_license import ConfigError, EvaluationPolicy, ReclamationRule, Verdict
from saas_license._evaluation import assess
from saas_license._store._sqlite import SqliteStore
from saas_license._time import days_between
from saas_license.spoke import SubscriptionRecord

UTC = dt.timezone.utc
ZONES = [
    "UTC",
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
    "Pacific/Auckland",  # +12/+13 with DST
    "America/New_York",
    "America/St_Johns",  # -3:30/-2:30
    "Europe/Berlin",
    "Asia/Kolkata",  # +5:30
    "Australia/Lord_Howe",  # +10:30/+11, a 30-minute DST shift
]
zones = st.sampled_from(ZONES)
instants = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 12, 31), timezones=st.just(UTC)
)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))


@given(a=instants, b=instants, tz=zones, off_a=offsets, off_b=offsets)
def test_the_count_depends_on_the_instants_not_on_how_they_were_written(
    a: dt.datetime, b: dt.datetime, tz: str, off_a: dt.timezone, off_b: dt.timezone
) -> None:
    assert days_between(a.astimezone(off_a), b.astimezone(off_b), tz) == days_between(a, b, tz)


@given(xs=st.lists(instants, min_size=3, max_size=3), tz=zones)
def test_days_add_up_and_never_go_backwards(xs: list[dt.datetime], tz: str) -> None:
    a, b, c = sorted(xs)
    assert days_between(a, c, tz) == days_between(a, b, tz) + days_between(b, c, tz)
    assert 0 <= days_between(a, b, tz) <= days_between(a, c, tz)
    assert days_between(c, a, tz) == -days_between(a, c, tz)


@given(a=instants, b=instants, tz=zones)
def test_a_zone_moves_the_count_by_at_most_one_day(a: dt.datetime, b: dt.datetime, tz: str) -> None:
    assert abs(days_between(a, b, tz) - days_between(a, b, "UTC")) <= 1


@given(a=instants, days=st.integers(0, 800), tz=zones)
def test_whole_days_apart_count_as_that_many_days_give_or_take_dst(
    a: dt.datetime, days: int, tz: str
) -> None:
    b = a + dt.timedelta(days=days)
    got = days_between(a, b, tz)
    zone = ZoneInfo(tz)
    if a.astimezone(zone).utcoffset() == b.astimezone(zone).utcoffset():
        assert got == days  # same offset at both ends: exact
    else:
        assert abs(got - days) <= 1  # a DST change in between can shift the local date


@given(
    last=instants,
    age=st.integers(0, 200 * 86_400),
    tz=zones,
    threshold=st.integers(1, 180),
)
def test_assess_counts_in_the_organisation_zone(
    last: dt.datetime, age: int, tz: str, threshold: int
) -> None:
    from saas_license import Subscription

    now = last + dt.timedelta(seconds=age)
    seat = Subscription(
        id=1,
        profile="p",
        external_user_id="u",
        user_principal_name="u@x.test",
        identifier="x",
        software_model="M",
        last_activity=last,
        activity_checked_at=now,
        external_created=last - dt.timedelta(days=400),
    )
    rule = ReclamationRule(software_model="M", inactivity_days=threshold)
    result = assess(
        seat,
        now=now,
        profile_type=None,
        exclusions=[],
        rules={"M": rule},
        integration_user_id=None,
        policy=EvaluationPolicy(timezone=tz),
    )
    local = days_between(last, now, tz)
    assert result.inactive_days == local
    assert (result.verdict is Verdict.IDLE) is (local >= threshold)
    assert result.verdict in (Verdict.IDLE, Verdict.ACTIVE)


@given(last=instants, off=offsets, tz=zones)
def test_the_store_keeps_utc_instants_and_the_count_survives_a_round_trip(
    last: dt.datetime, off: dt.timezone, tz: str
) -> None:
    store = SqliteStore(":memory:")
    try:
        written = last.astimezone(off).replace(microsecond=(last.microsecond // 1000) * 1000)
        store.upsert_subscriptions(
            "p",
            [
                SubscriptionRecord(
                    external_user_id="u",
                    user_principal_name="u@x.test",
                    identifier="x",
                    last_activity=written,
                )
            ],
            run_id="r",
            now=dt.datetime(2031, 1, 1, tzinfo=UTC),
        )
        (sub,) = store.iter_subscriptions("p")
        assert sub.last_activity == written  # the same instant…
        assert sub.last_activity is not None and sub.last_activity.utcoffset() == dt.timedelta(0)
        raw = store._q("SELECT last_activity FROM subscriptions").fetchone()[0]
        # …stored as UTC epoch milliseconds, whatever the offset it came with
        assert raw == (written - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(
            milliseconds=1
        )
        now = dt.datetime(2031, 1, 1, 0, 30, tzinfo=UTC)
        assert days_between(sub.last_activity, now, tz) == days_between(written, now, tz)
    finally:
        store.close()


def test_the_auckland_example() -> None:
    """23:30 in Auckland on 16 April vs 00:30 there on 16 June: 61 local days, 60 UTC days."""
    seen = dt.datetime(2026, 4, 16, 11, 30, tzinfo=UTC)
    check = dt.datetime(2026, 6, 15, 12, 30, tzinfo=UTC)
    assert (days_between(seen, check), days_between(seen, check, "Pacific/Auckland")) == (60, 61)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_an_unknown_zone_is_a_config_error(zone: str) -> None:
    with pytest.raises(ConfigError, match="policy.timezone"):
        EvaluationPolicy(timezone=zone)


def test_policy_durations_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="policy.undo_window"):
        EvaluationPolicy(undo_window=dt.timedelta(0))
