"""The Aha! side of the safety contract: honest unknowns, the fresh read, refusals, lost answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from saas_license import ConnectionAlias, HttpOptions, IntegrationProfile, Secret
from saas_license._plugins import SpokeRegistry
from saas_license.spoke import BadPayloadError, ReclaimStatus, ServerError, SpokeContext
from saas_license_aha import INFO, AhaSpoke, subscription_records
from saas_license_aha._payloads import parse_user
from saas_license_aha.mapping import administrator_of, unknown_of
from saas_license_aha.sandbox import Fault, SandboxApp, SandboxServer

from .test_spoke import _sub

UTC = dt.timezone.utc
NOW = "2026-01-01T00:00:00.000Z"
BASE_USER: dict[str, Any] = {
    "id": "7",
    "name": "Ann Example",
    "email": "ann@example.com",
    "created_at": NOW,
    "updated_at": NOW,
    "accessed_at": None,
    "enabled": True,
    "paid_seat": True,
    "roadmaps_seat": True,
    "administrator": False,
    "administrator_roles": {
        "administer_account": False,
        "administer_billing": False,
        "administer_configuration": False,
    },
}


def _user(**changes: Any) -> dict[str, Any]:
    user = {**BASE_USER, **changes}
    return {k: v for k, v in user.items() if v is not _DROP}


_DROP: Any = object()


def test_the_spoke_declares_what_a_reclaim_frees_and_what_protects() -> None:
    assert INFO.reclaim_scope == "user"
    assert INFO.protective_fields == ("administrator", "enabled", "paid_seat")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, False),
        ({"administrator": _DROP, "administrator_roles": _DROP}, None),
        ({"administrator": "maybe", "administrator_roles": _DROP}, None),
        ({"administrator": None, "administrator_roles": None}, None),
        ({"administrator": _DROP}, False),  # every role readable and false
        ({"administrator_roles": _DROP}, False),  # the flag alone, as a boolean
        ({"administrator": "false", "administrator_roles": _DROP}, False),  # documented form
        ({"administrator_roles": {"administer_billing": True}}, True),  # any true role counts
        (
            {"administrator": _DROP, "administrator_roles": {"administer_configuration": "true"}},
            True,
        ),
        ({"administrator_roles": {"administer_account": "yes", "administer_billing": False}}, None),
        ({"administrator": _DROP, "administrator_roles": {}}, None),
    ],
)
def test_administrator_is_known_only_from_a_readable_answer(
    changes: dict[str, Any], expected: bool | None
) -> None:
    user = parse_user(_user(**changes))
    assert administrator_of(user) is expected
    [record] = subscription_records(user)
    assert record.attributes["administrator"] is expected
    assert ("administrator" in record.unknown) is (expected is None)


@pytest.mark.parametrize(
    ("accessed", "last", "unknown"),
    [
        (None, None, False),  # explicit null: Aha! says never accessed
        (_DROP, None, True),  # not reported
        (1700000000, None, True),  # numeric: not Aha!'s form
        ("last tuesday", None, True),
        (NOW, dt.datetime(2026, 1, 1, tzinfo=UTC), False),
    ],
)
def test_last_activity_unknown_is_not_never(accessed: Any, last: Any, unknown: bool) -> None:
    [record] = subscription_records(parse_user(_user(accessed_at=accessed)))
    assert record.last_activity == last
    assert ("last_activity" in record.unknown) is unknown


def test_an_unknown_enabled_still_yields_the_seats_so_the_core_protects_them() -> None:
    for value in (_DROP, None, "yes"):
        records = subscription_records(parse_user(_user(enabled=value)))
        assert [r.identifier for r in records] == ["aha.roadmaps"]
        assert "enabled" in records[0].unknown and records[0].attributes["enabled"] is None
    assert subscription_records(parse_user(_user(enabled="false"))) == []  # documented form


def test_missing_email_and_odd_fields_are_reported_not_fatal() -> None:
    [record] = subscription_records(parse_user(_user(email=_DROP, name=None, paid_seat=None)))
    assert record.user_principal_name == "" and record.display_name == ""
    assert {"user_principal_name", "paid_seat"} <= record.unknown
    assert record.identifier == "aha.roadmaps"  # an unknown paid_seat is counted, marked unknown
    clean = subscription_records(parse_user(_user()))[0]
    assert clean.unknown == frozenset()


@pytest.mark.parametrize(
    ("changes", "identifiers"),
    [
        ({"paid_seat": False, "roadmaps_seat": True}, ["aha.viewer"]),  # not a paid seat
        (
            {"paid_seat": False, "product_roles": [{"role": 40, "role_description": "Reviewer"}]},
            ["aha.reviewer"],
        ),
        ({"enabled": False, "paid_seat": True}, []),  # disabled users keep paid_seat: true
        ({"develop_seat": True}, ["aha.roadmaps", "aha.develop"]),
        ({"roadmaps_seat": _DROP}, ["aha.paid"]),
    ],
)
def test_paid_seat_is_the_arbiter(changes: dict[str, Any], identifiers: list[str]) -> None:
    assert [r.identifier for r in subscription_records(parse_user(_user(**changes)))] == identifiers


def test_unknown_of_uses_core_vocabulary() -> None:
    user = parse_user({"id": "9"})
    assert unknown_of(user) == {
        "administrator",
        "enabled",
        "last_activity",
        "user_principal_name",
        "paid_seat",
        "external_created",
    }


# -- the fresh read (saas_license_current_user) -----------------------------------------------


def _ctx(transport: httpx.BaseTransport, *, key: str = "k") -> SpokeContext:
    return SpokeContext(
        profile=IntegrationProfile(
            name="aha",
            display_name="Aha!",
            spoke="aha",
            profile_type=INFO.profile_type,
            connection_alias="main",
        ),
        alias=ConnectionAlias(name="main", spoke="aha", base_url="https://acme.aha.io"),
        credentials={"api_key": Secret(key)},
        http=HttpOptions(transport=transport, rate_limit=False, backoff_base=0.0, max_retries=1),
        now=dt.datetime.now(UTC),
    )


class Spy(httpx.BaseTransport):
    def __init__(self, app: SandboxApp) -> None:
        self.app, self.calls = app, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        return self.app(request)


def _ordinary(app: SandboxApp) -> dict[str, Any]:
    return next(
        u
        for u in app.users()
        if u["enabled"]
        and not u["administrator"]
        and u["paid_seat"]
        and u["id"] != app.integration_user_id
    )


def test_current_user_is_one_read_mapped_like_the_download() -> None:
    app = SandboxApp(user_count=60, api_keys=["k"], strict_shapes=True)
    spy = Spy(app)
    user = _ordinary(app)
    hook = SpokeRegistry().pm.hook.saas_license_current_user
    current = hook(context=_ctx(spy), external_user_id=user["id"])
    assert spy.calls == [("GET", f"/api/v1/users/{user['id']}")]
    assert current.exists and current.external_user_id == user["id"]
    downloaded = [
        r for r in AhaSpoke().download(_ctx(app.transport())) if r.external_user_id == user["id"]
    ]
    assert list(current.seats) == downloaded
    app.merge_user(user["id"], {"enabled": False})
    assert AhaSpoke().current_user(_ctx(app.transport()), user["id"]).seats == ()
    gone = AhaSpoke().current_user(_ctx(app.transport()), "424242")
    assert gone.exists is False and gone.seats == ()


def test_current_user_raises_rather_than_guess() -> None:
    app = SandboxApp(user_count=20, api_keys=["k"])
    user = _ordinary(app)
    app.inject(Fault.USER_READ_ERROR, 5)
    with pytest.raises(ServerError):
        AhaSpoke().current_user(_ctx(app.transport()), user["id"])
    app.set_faults(drop_fields={"administrator", "administrator_roles"})
    app.fault_plan.clear()
    seat = AhaSpoke().current_user(_ctx(app.transport()), user["id"]).seats[0]
    assert "administrator" in seat.unknown  # reported, for the core to hold


# -- reclaim: the spoke's own second line of defence ----------------------------------------


@pytest.mark.parametrize(
    ("knobs", "fragment"),
    [
        ({"drop_fields": {"administrator", "administrator_roles"}}, "administrator roles"),
        ({"null_fields": {"enabled"}}, "whether user"),
    ],
)
def test_reclaim_refuses_a_user_whose_protection_is_unknown(
    knobs: dict[str, Any], fragment: str
) -> None:
    app = SandboxApp(user_count=40, api_keys=["k"])
    spy = Spy(app)
    user = _ordinary(app)
    app.set_faults(**knobs, field_users={user["id"]})
    result = AhaSpoke().reclaim(_ctx(spy), _sub(user["id"]))
    assert result.status is ReclaimStatus.REFUSED and fragment in result.message
    assert not [c for c in spy.calls if c[0] == "PUT"] and app.user(user["id"])["enabled"]


def test_a_lost_answer_is_confirmed_by_reading() -> None:
    app = SandboxApp(user_count=40, api_keys=["k"])
    user = _ordinary(app)
    app.inject(Fault.LOST_ANSWER)
    result = AhaSpoke().reclaim(_ctx(app.transport()), _sub(user["id"]))
    assert result.status is ReclaimStatus.SUCCESS and "confirmed by reading" in result.message
    assert app.user(user["id"])["enabled"] is False


def test_a_lost_answer_with_a_failing_confirmation_is_unknown() -> None:
    app = SandboxApp(user_count=40, api_keys=["k"])
    spy = Spy(app)
    user = _ordinary(app)
    app.inject(Fault.LOST_ANSWER)
    app.inject(Fault.USER_READ_ERROR, 3, after=1)  # the read before passes, the ones after fail
    result = AhaSpoke().reclaim(_ctx(spy), _sub(user["id"]))
    assert result.status is ReclaimStatus.UNKNOWN, result.message
    assert app.user(user["id"])["enabled"] is False  # it was applied all the same
    assert sum(1 for c in spy.calls if c[0] == "PUT") == 1  # never resent


def test_a_lost_answer_over_real_http_drops_the_connection() -> None:
    app = SandboxApp(user_count=40, api_keys=["k"])
    user = _ordinary(app)
    app.inject(Fault.LOST_ANSWER)
    with (
        SandboxServer(app) as server,
        httpx.Client(base_url=server.base_url) as c,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        c.put(
            f"/api/v1/users/{user['id']}",
            json={"user": {"enabled": False}},
            headers={"Authorization": "Bearer k"},
        )
    assert app.user(user["id"])["enabled"] is False


def test_current_user_refuses_an_answer_about_someone_else() -> None:
    app = SandboxApp(user_count=20, api_keys=["k"])
    user, other = _ordinary(app), app.user(app.user_ids()[-1])
    swapped = httpx.MockTransport(
        lambda r: httpx.Response(200, json={"user": other}) if "users/" in r.url.path else app(r)
    )
    with pytest.raises(BadPayloadError, match="answered GET"):
        AhaSpoke().current_user(_ctx(swapped), user["id"])
