"""The boundary check's one-pass path for plain records never lets through what
``problem_with`` would refuse, and the filter quarantines exactly what it did before."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from saas_license._boundary import BoundaryCheck, problem_with
from saas_license._subscriptions import SubscriptionRecord

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PROTECTIVE = ("administrator", "enabled", "paid_seat")

_IDS = st.sampled_from(["u1", "u2", "", "  ", 7, None, "u3"])
_INSTANTS = st.sampled_from(
    [
        None,
        NOW - dt.timedelta(days=40),
        NOW + dt.timedelta(minutes=4),
        NOW + dt.timedelta(minutes=6),  # beyond the allowed clock skew
        dt.datetime(2026, 1, 1, 12, 0),  # naive
        dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.date(2026, 1, 1),
        "2026-01-01T00:00:00Z",
    ]
)
_VALUES = st.sampled_from([True, False, None, 1, 0, "true", "x", [1], {"a": 1}, math.nan, {1, 2}])


_ATTRIBUTES = st.one_of(
    st.dictionaries(st.sampled_from([*PROTECTIVE, "other", 3]), _VALUES, max_size=4),
    st.sampled_from([None, [], "x"]),
)
_UNKNOWN = st.one_of(
    st.frozensets(st.sampled_from([*PROTECTIVE, "last_activity"]), max_size=3),
    st.sampled_from([frozenset({1}), {"administrator"}, ["enabled"], None]),
)
#: Each field of a record and what a (possibly broken) spoke might put in it.
_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "external_user_id": _IDS,
    "user_principal_name": st.sampled_from(["a@example.com", "", " ", None, 5]),
    "identifier": st.sampled_from(["aha.roadmaps", "aha.develop", "", 1]),
    "last_activity": _INSTANTS,
    "external_created": _INSTANTS,
    "assigned_at": _INSTANTS,
    "attributes": _ATTRIBUTES,
    "unknown": _UNKNOWN,
}
_PLAIN = {
    "external_user_id": "u1",
    "user_principal_name": "a@example.com",
    "identifier": "aha.roadmaps",
    "last_activity": NOW - dt.timedelta(days=3),
    "external_created": None,
    "assigned_at": None,
    "attributes": {"administrator": False, "enabled": True, "paid_seat": True},
    "unknown": frozenset(),
}


@st.composite
def records(draw: st.DrawFn) -> Any:
    """A plain record with up to three fields replaced by anything a spoke might send."""
    fields = dict(_PLAIN)
    for name in draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=3, unique=True)):
        fields[name] = draw(_FIELDS[name])
    if draw(st.integers(0, 19)) == 0:
        return {"not": "a record"}
    return SubscriptionRecord(display_name="A", **fields)


@settings(max_examples=400, deadline=None)
@given(batch=st.lists(records(), max_size=12))
def test_the_plain_path_agrees_with_problem_with(batch: list[Any]) -> None:
    check = BoundaryCheck(spoke="s", profile="p", run_id="r", now=NOW, protective_fields=PROTECTIVE)
    for record in batch:
        if check._plainly_fine(record):
            assert problem_with(record, now=NOW, protective_fields=PROTECTIVE) is None
    # the filter as a whole: the same records pass, the same ones are quarantined, same reasons
    passed = list(check.filter(batch))
    expected_passed, expected_refused, keys = [], [], set()
    for record in batch:
        problem = problem_with(record, now=NOW, protective_fields=PROTECTIVE)
        if problem is None:
            key = (record.external_user_id, record.identifier)
            if key in keys:
                problem = ("identifier", "the same seat twice in one download")
            keys.add(key)
        if problem is None:
            expected_passed.append(record)
        else:
            expected_refused.append(problem)
    assert [id(r) for r in passed] == [id(r) for r in expected_passed]
    assert [(q.field, q.reason) for q in check.quarantined] == expected_refused


def test_plain_records_take_the_one_pass_path() -> None:
    shared_unknown = frozenset({"last_activity"})
    attributes = {"administrator": False, "enabled": True, "paid_seat": True}
    batch = [
        SubscriptionRecord(
            external_user_id=f"u{n}",
            user_principal_name=f"u{n}@example.com",
            identifier="aha.roadmaps",
            last_activity=NOW - dt.timedelta(days=n),
            attributes=attributes,
            unknown=shared_unknown,
        )
        for n in range(5)
    ]
    check = BoundaryCheck(spoke="s", profile="p", run_id="r", now=NOW, protective_fields=PROTECTIVE)
    assert all(check._plainly_fine(r) for r in batch)
    assert list(check.filter(batch)) == batch and not check.quarantined
