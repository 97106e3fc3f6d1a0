"""The Aha! client and mapping: pagination, payload shapes, error bodies (respx + in-process sandbox)."""

from __future__ import annotations

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from saas_license import HttpOptions, Secret
from saas_license.http import BearerAuth, extract_error_message
from saas_license.spoke import (
    AuthenticationError,
    BadPayloadError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    VendorConnectionError,
)
from saas_license_aha import AhaClient, identifiers_for
from saas_license_aha._payloads import parse_user
from saas_license_aha.sandbox import SandboxApp, generate_users

BASE = "https://acme.aha.io"


def _client(transport: httpx.BaseTransport, key: str = "k") -> AhaClient:
    return AhaClient(
        BASE,
        auth=BearerAuth(Secret(key)),
        options=HttpOptions(transport=transport, rate_limit=False, backoff_base=0.0),
    )


@settings(max_examples=25)
@given(size=st.integers(1, 650), per_page=st.sampled_from([1, 7, 50, 200, 500]))
def test_pagination_yields_every_user_exactly_once(size: int, per_page: int) -> None:
    app = SandboxApp(generate_users(size, seed=size), api_keys=["k"], strict_shapes=True)
    with _client(app.transport()) as client:
        ids = [u.id for u in client.iter_users(per_page=per_page)]
    assert len(ids) == len(set(ids)) == size
    assert set(ids) == {u["id"] for u in app.users()}


def test_client_sends_per_page_200_bearer_and_user_agent() -> None:
    app = SandboxApp(generate_users(450), api_keys=["k"], strict_shapes=True)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return app(request)

    with _client(httpx.MockTransport(handler)) as client:
        assert sum(1 for _ in client.iter_users()) == 450
    assert [r.url.params["per_page"] for r in seen] == ["200"] * 3
    assert [r.url.params["page"] for r in seen] == ["1", "2", "3"]
    assert all(r.headers["authorization"] == "Bearer k" for r in seen)
    assert all(r.headers["user-agent"].startswith("saas-license/") for r in seen)


@respx.mock(base_url=BASE, assert_all_called=True)
def test_empty_account_stops_after_one_page(respx_mock: respx.MockRouter) -> None:
    respx_mock.get("/api/v1/users").respond(
        json={"users": [], "pagination": {"total_records": 0, "total_pages": 0, "current_page": 1}}
    )
    with AhaClient(BASE, auth=BearerAuth(Secret("k"))) as client:
        assert list(client.iter_users()) == []


@pytest.mark.parametrize(
    ("status", "body", "ctype", "error", "fragment"),
    [
        (401, b"", "text/html", AuthenticationError, "rejected the credentials"),
        (401, b"<html>sign in</html>", "text/html", AuthenticationError, "re-authorize"),
        (403, b'{"error":"Admins only"}', "application/json", PermissionDeniedError, "Admins only"),
        (
            404,
            b'{"message":"Record not found"}',
            "application/json",
            NotFoundError,
            "Record not found",
        ),
        (
            500,
            b'{"errors":[{"message":"boom"},"bang"]}',
            "application/json",
            ServerError,
            "boom; bang",
        ),
    ],
)
def test_vendor_error_bodies_become_clear_errors(
    status: int, body: bytes, ctype: str, error: type[Exception], fragment: str
) -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(status, content=body, headers={"Content-Type": ctype})
    )
    with _client(transport) as client, pytest.raises(error, match=fragment) as info:
        client.me()
    assert "Bearer" not in str(info.value) and " k " not in f" {info.value} "


def test_error_message_shapes() -> None:
    assert (
        extract_error_message(b'{"errors":{"email":["is taken","is bad"]}}')
        == "email is taken; email is bad"
    )
    assert extract_error_message(b"<html></html>") is None
    assert extract_error_message(b"   ") is None


def test_refused_connection_names_the_url_and_what_to_do() -> None:
    client = AhaClient(
        "http://127.0.0.1:9",
        auth=BearerAuth(Secret("k")),
        options=HttpOptions(timeout=2, backoff_base=0.0),
    )
    with (
        client,
        pytest.raises(VendorConnectionError, match=r"127\.0\.0\.1:9.*check the account URL"),
    ):
        client.me()


def test_non_json_page_is_a_bad_payload() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=b"<html>login</html>"))
    with _client(transport) as client, pytest.raises(BadPayloadError, match="not JSON"):
        list(client.iter_users())


def test_a_user_without_an_id_names_the_field() -> None:
    page = {
        "users": [{"id": "1", "email": "a@b.c"}, {"id": None, "email": "b@b.c"}],
        "pagination": {"total_records": 2, "total_pages": 1, "current_page": 1},
    }
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=page))
    with (
        _client(transport) as client,
        pytest.raises(BadPayloadError, match=r"users page 1\[1\]\.id"),
    ):
        list(client.iter_users())


def test_odd_records_parse_without_failing_the_page() -> None:
    page = {
        "users": [
            {"id": "1", "email": "a@b.c", "enabled": True, "accessed_at": None},
            {"id": "2", "name": None, "enabled": True, "accessed_at": None},  # no email
            {"id": "3", "email": "c@b.c", "accessed_at": 1700000000, "paid_seat": None},
            {"id": "4", "email": "d@b.c", "enabled": "yes", "administrator": "maybe"},
        ],
        "pagination": {"total_records": 4, "total_pages": 1, "current_page": 1},
    }
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=page))
    with _client(transport) as client:
        users = {u.id: u for u in client.iter_users()}
    assert set(users) == {"1", "2", "3", "4"}
    assert users["2"].email is None and users["2"].name is None and "email" in users["2"].missing
    assert users["3"].accessed_at is None and "accessed_at" in users["3"].unreadable
    assert users["3"].paid_seat is None and "paid_seat" in users["3"].unreadable
    assert users["4"].enabled is None and "enabled" in users["4"].unreadable
    assert users["1"].accessed_at is None and not users["1"].unclear("accessed_at")


def test_unknown_fields_are_tolerated_and_strings_are_read_as_documented() -> None:
    user = parse_user(
        {"user": {"id": 7, "email": "a@b.c", "shiny_new_field": {"x": 1}, "enabled": True}}
    )
    assert user.id == "7" and user.enabled is True and not user.unreadable
    assert parse_user({"id": "7", "enabled": "false"}).enabled is False  # the documented form
    odd = parse_user({"id": "7", "email": "a@b.c", "enabled": "yes"})
    assert odd.enabled is None and odd.unreadable == {"enabled"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"paid_seat": True, "roadmaps_seat": True, "develop_seat": True},
            ["aha.roadmaps", "aha.develop"],
        ),
        ({"paid_seat": True}, ["aha.paid"]),
        (
            {
                "paid_seat": True,
                "roadmaps_seat": False,
                "develop_seat": False,
                "teamwork_seat": False,
            },
            ["aha.paid"],
        ),
        ({"paid_seat": False, "product_roles": [{"role": 40}]}, ["aha.reviewer"]),
        ({"paid_seat": False, "product_roles": [{"role": 50}]}, ["aha.viewer"]),
        ({"paid_seat": True, "roadmaps_seat": True, "enabled": False}, []),
    ],
)
def test_identifiers_from_seat_flags(fields: dict[str, object], expected: list[str]) -> None:
    assert identifiers_for(parse_user({"id": "1", "email": "a@b.c", **fields})) == expected


def test_audits_cursor_falls_back_to_pages_when_a_cursor_page_is_not_ascending() -> None:
    def audit(n: int) -> dict[str, object]:
        return {"id": str(n), "created_at": "2026-01-01T00:00:00.000Z"}

    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        if "after_id" in params:  # newest first: the largest id is no safe cursor
            body = {"audits": [audit(9), audit(5)], "pagination": {"total_pages": 2}}
        elif params["page"] == "1":
            body = {
                "audits": [audit(9), audit(5)],
                "pagination": {"total_pages": 2, "total_records": 3},
            }
        else:
            body = {"audits": [audit(2)], "pagination": {"total_pages": 2, "total_records": 3}}
        return httpx.Response(200, json=body)

    with _client(httpx.MockTransport(handler)) as client:
        ids = sorted(int(a.id) for a in client.iter_audits(per_page=2))
    assert ids == [2, 5, 9]
    assert "after_id" in seen[0] and {"page": "2", "per_page": "200"}.items() <= seen[-1].items()


def test_audits_cursor_walks_every_record_once_against_the_sandbox() -> None:
    app = SandboxApp(user_count=300, api_keys=["k"], strict_shapes=True)
    with _client(app.transport()) as client:
        ids = [a.id for a in client.iter_audits(per_page=9)]
    assert sorted(ids, key=int) == ids and set(ids) == {a["id"] for a in app.audits()}
    assert len(ids) == len(set(ids))
    assert len(app.requests) <= len(ids) // 9 + 2  # one cursor pass, no numbered pages after it
