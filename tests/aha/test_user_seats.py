"""The download reads Aha! users straight into seats: the same records as the reference path.

``user_seats`` builds records directly from a well-formed wire object and hands anything else
to ``parse_user`` + ``subscription_records``. Whatever the payload, both must agree exactly
(records, their order, what is unknown) or fail with the same error.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saas_license.spoke import BadPayloadError
from saas_license_aha._payloads import parse_user
from saas_license_aha.mapping import _plain_seats, subscription_records, user_seats
from saas_license_aha.sandbox._accounts import iter_users

_ABSENT = object()

_ODD: list[Any] = [None, "true", "false", "yes", 1, 0, 1.5, [], {}, [1], {"a": 1}, ""]
_INSTANTS = st.sampled_from(
    [
        "2026-11-01T10:00:00.000Z",
        "2026-01-31T23:59:59Z",
        "2025-06-01T12:00:00+02:00",
        "2026-11-01T10:00:00",  # naive: unreadable
        "not a date",
        " 2026-03-01T00:00:00.000Z ",
        "2026-03-01T00:00:00.000z",  # lower-case zone: the reference reading accepts it
        "2026-11-01T10:00:00+02:00Z",  # an offset and a Z: unreadable
        "2026-13-01T00:00:00.000Z",  # no 13th month
        "2026-11-01Z",  # a date alone, in Aha!'s zone form
        "\u0662026-11-01T10:00:00.000Z",  # a non-ASCII digit first
        "",
        None,
        5,
        _ABSENT,
    ]
)


def _flag() -> st.SearchStrategy[Any]:
    return st.one_of(st.booleans(), st.sampled_from([*_ODD, _ABSENT]))


def _text() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(
            ["ada@example.com", "Ada", "Etc/UTC", "", " ", 42, None, _ABSENT, [], True]
        ),
        st.text(max_size=8),
    )


_ROLE = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "role": st.sampled_from([20, 30, 35, 40, 50, None, "40", True, 1.0]),
            "role_description": st.sampled_from(["Owner", "Reviewer", "", None, 3]),
            "product_id": st.sampled_from(["131414752", None, 7]),
            "product_name": st.sampled_from(["Roadmap", None, ["x"]]),
        },
    ),
    st.sampled_from(["Owner", 3, None, []]),
)
_ROLES_MAP = st.one_of(
    st.dictionaries(
        st.sampled_from(["administer_account", "administer_billing", "administer_configuration"]),
        st.one_of(st.booleans(), st.sampled_from(["true", "false", None, 1])),
    ),
    st.sampled_from([None, _ABSENT, [], "yes"]),
)
_OBJECT = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["password", "saml", None, 1, True, ["x"]]),
            "name": st.sampled_from(["Okta", "", None, {"a": 1}]),
        },
    ),
    st.sampled_from([None, _ABSENT, "saml", []]),
)


_USER_ROLES = st.one_of(
    st.lists(
        st.one_of(
            st.fixed_dictionaries({}, optional={"name": st.sampled_from(["Ops", "", None, 5])}),
            st.just("Ops"),
        ),
        max_size=3,
    ),
    st.sampled_from([None, _ABSENT, {}]),
)
#: Each field of a user object and what Aha! might send in it (``_ABSENT``: left out).
_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.sampled_from(["1000000001", "42", "", " ", 17, True, None, _ABSENT, 1.5]),
    "email": _text(),
    "name": _text(),
    "timezone": _text(),
    "enabled": _flag(),
    "paid_seat": _flag(),
    "roadmaps_seat": _flag(),
    "develop_seat": _flag(),
    "teamwork_seat": _flag(),
    "administrator": _flag(),
    "administrator_roles": _ROLES_MAP,
    "created_at": _INSTANTS,
    "updated_at": _INSTANTS,
    "accessed_at": _INSTANTS,
    "product_roles": st.one_of(st.lists(_ROLE, max_size=3), st.sampled_from([None, _ABSENT, "x"])),
    "user_roles": _USER_ROLES,
    "identity_provider": _OBJECT,
    "paid_seat_group": _OBJECT,
    "unexpected_field": st.sampled_from([1, "x", None, {"nested": True}, _ABSENT]),
}


@st.composite
def wire_users(draw: st.DrawFn) -> Any:
    """A user object as Aha! might send it: any field possibly absent or odd."""
    fields = {name: draw(strategy) for name, strategy in _FIELDS.items()}
    user = {k: v for k, v in fields.items() if v is not _ABSENT}
    if draw(st.integers(0, 9)) == 0:
        return {"user": user}  # the wrapped form parse_user also accepts
    return user


_PLAIN = list(iter_users(60, seed=11))


@st.composite
def near_plain_users(draw: st.DrawFn) -> Any:
    """A well-formed sandbox user with up to three fields replaced by anything Aha! might send
    in them (or removed): the borderline cases of the direct path."""
    user = dict(draw(st.sampled_from(_PLAIN)))
    for name in draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=3, unique=True)):
        value = draw(_FIELDS[name])
        if value is _ABSENT:
            user.pop(name, None)
        else:
            user[name] = value
    return user


def _reference(data: Any) -> tuple[str, list[Any]] | BadPayloadError:
    try:
        user = parse_user(data, where="u")
    except BadPayloadError as exc:
        return exc
    return user.id, subscription_records(user)


def _fast(data: Any, shared: dict[Any, Any] | None) -> tuple[str, list[Any]] | BadPayloadError:
    try:
        return user_seats(data, where="u", shared=shared)
    except BadPayloadError as exc:
        return exc


@settings(max_examples=400, deadline=None)
@given(users=st.lists(st.one_of(wire_users(), near_plain_users()), min_size=1, max_size=6))
def test_user_seats_agree_with_the_reference_reading(users: list[Any]) -> None:
    shared: dict[Any, Any] = {}  # one listing: alike users share their attributes
    for data in users:
        expected = _reference(data)
        for got in (_fast(data, None), _fast(data, shared)):
            if isinstance(expected, BadPayloadError):
                assert isinstance(got, BadPayloadError)
                assert str(got) == str(expected)
            else:
                assert got == expected
                assert [r.unknown for r in got[1]] == [r.unknown for r in expected[1]]


def test_every_sandbox_user_takes_the_direct_path_and_alike_users_share_attributes() -> None:
    raw = list(iter_users(400, seed=3))
    assert all(_plain_seats(u) is not None for u in raw)  # the fast path is really exercised
    shared: dict[Any, Any] = {}
    seats = [r for u in raw for r in user_seats(u, shared=shared)[1]]
    assert seats == [r for u in raw for r in subscription_records(parse_user(u))]
    objects = {id(r.attributes) for r in seats}
    distinct = {tuple(sorted((k, repr(v)) for k, v in r.attributes.items())) for r in seats}
    assert len(objects) == len(distinct) < len(seats) / 4  # one dict per distinct set
    assert len(shared) == len(distinct)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("enabled", "false"),  # the documented string form: the reference path reads it
        ("administrator_roles", {"administer_account": "true"}),
        ("email", 42),
        ("product_roles", [{"role": "40", "role_description": "Reviewer"}]),
    ],
)
def test_odd_fields_take_the_reference_path(field: str, value: Any) -> None:
    data = next(iter(iter_users(2, seed=1)))
    data = {**data, field: value}
    assert _plain_seats(data) is None
    assert user_seats(data) == _reference(data)
