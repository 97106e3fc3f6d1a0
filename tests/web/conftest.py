"""A console over the shared sandbox workspace: one published, run profile and three users."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from saas_license import Workspace
from saas_license.web import Users, create_app

PASSWORD = "correct horse battery staple"
ROLES = ("admin", "approver", "viewer")


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash the tests' passwords at a low scrypt cost (each hash names its own cost, so checking
    works the same); test_users.py checks the real cost."""
    monkeypatch.setattr("saas_license.web._users._N", 2**10)


@pytest.fixture
def console_ws(published: Workspace) -> Workspace:
    """The published sandbox workspace after one daily run (so there are candidates), with an
    admin, an approver and a viewer who may sign in."""
    published.jobs.run("aha")
    users = Users(published)
    for role in ROLES:
        users.add(role, role=role, password=PASSWORD)
    return published


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> None:
    page = client.get("/signin")
    response = client.post(
        "/signin",
        data={"name": name, "password": password, "csrf": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert "sl_session" in response.cookies


@pytest.fixture
def client_for(console_ws: Workspace) -> Iterator[Callable[[str | None], TestClient]]:
    """A factory of clients: ``client_for("admin")`` is signed in as the admin, ``None`` is not."""
    app = create_app(console_ws)
    clients: list[TestClient] = []

    def make(role: str | None) -> TestClient:
        client = TestClient(app, base_url="http://testserver")
        client.__enter__()
        clients.append(client)
        if role is not None:
            sign_in(client, role)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


PUBLIC_URL = "http://127.0.0.1:8000"
APPROVER = "it-managers@example.com"


def link_of(text: str) -> str:
    """The answer link's path in a notice's text."""
    found = re.search(re.escape(PUBLIC_URL) + r"(/answer/[A-Za-z0-9_.=-]+)", text)
    assert found, f"no answer link in {text!r}"
    return found.group(1)


@pytest.fixture
def answerable(console_ws: Workspace) -> Workspace:
    """The console workspace after notices went out: every rule notifies the seat holder (answer
    within 5 days) and names an approver; the plan's notices sit in the outbox with their links."""
    console_ws.settings.set("public_url", PUBLIC_URL)
    for model in (m for m in console_ws.subscriptions.models() if m.paid):
        console_ws.rules.set_reclamation(
            model.name, notify_user=True, days_before_auto_reclaim=5, approver=APPROVER
        )
    plan = console_ws.plans.create("aha")
    report = console_ws.plans.apply(plan.id or "")
    assert report.counts.get("notified", 0) >= 3, report.counts
    return console_ws
