"""The service as people use it, in a real headless Chromium: a notice arrives by e-mail (a real
SMTP server), the seat holder opens its link and answers, then an admin signs in to the console,
reviews a plan and applies it with a cap, and the seat is gone at the sandbox.

Skipped only when no Chromium or Playwright is installed *and* SAAS_LICENSE_REQUIRE_BROWSER is
unset; CI sets it, so there a missing browser fails the test. Playwright drives Debian's
``/usr/bin/chromium`` (``executable_path``); it never downloads a browser.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from saas_license import CandidateState, Workspace
from saas_license_aha.sandbox import SandboxApp

from .conftest import PASSWORD

REQUIRE = os.environ.get("SAAS_LICENSE_REQUIRE_BROWSER", "") not in ("", "0")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"SAAS_LICENSE_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(f"{reason} (set SAAS_LICENSE_REQUIRE_BROWSER=1 to require it)")


def chromium_path() -> str:
    """Debian's Chromium (or another on PATH); skip or fail as the environment asks."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    _unavailable("chromium is not installed")
    raise AssertionError("unreachable")


def free_port() -> int:
    """A free port on 127.0.0.1, chosen first (aiosmtpd cannot listen on port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on 127.0.0.1 and the messages it received."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


@pytest.fixture
def service(console_ws: Workspace) -> Iterator[str]:
    """The web app served by uvicorn on a free port (a thread), its base URL."""
    import uvicorn

    from saas_license.web import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(console_ws), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium page driven by Playwright."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=executable, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield chromium.new_page()
        finally:
            chromium.close()


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_answer_by_mail_then_review_and_apply_a_capped_plan(
    console_ws: Workspace,
    sandbox: SandboxApp,
    smtp: tuple[int, Mailbox],
    service: str,
    browser: Any,
) -> None:
    ws = console_ws
    port, box = smtp
    ws.settings.set("public_url", service)
    ws.settings.set("smtp.host", "127.0.0.1")
    ws.settings.set("smtp.port", port)
    ws.settings.set("smtp.security", "none")
    ws.settings.set("smtp.sender", "licenses@example.com")
    for model in (m for m in ws.subscriptions.models() if m.paid):
        ws.rules.set_reclamation(
            model.name, notify_user=True, days_before_auto_reclaim=5, approver="boss@example.com"
        )
    ws.plans.apply(ws.plans.create("aha").id or "")
    ws.outbox.deliver()  # sent when the plan notified; anything left goes now
    sent = [n for n in ws.outbox.query() if n.status.value == "delivered"]
    assert sent and len(box.messages) == len(sent)

    # two seat holders (one seat each) open the link in their e-mail and release their seat
    single = [m for m in box.messages if _text(m).count("choice=release") == 1][:2]
    assert len(single) == 2
    page = browser
    released = []
    for message in single:
        holder = str(message["To"])
        url = next(ln for ln in _text(message).splitlines() if "choice=release" in ln).split()[-1]
        assert url.startswith(service + "/answer/")
        page.goto(url)
        assert "Do you still need this seat?" in page.content() and holder in page.content()
        (cand,) = [c for c in ws.candidates.query("aha") if c.user_principal_name == holder]
        assert cand.state is CandidateState.AWAITING_USER  # opening the page changed nothing
        page.get_by_role("button", name="Release it").click()
        page.wait_for_selector("text=Thank you")
        cand = ws.candidates.get(cand.id or 0)
        assert cand.state is CandidateState.AWAITING_REVOCATION
        assert ws.candidates.history(cand.id or 0)[-1].actor == holder
        released.append(cand)
        page.goto(url)  # the link worked once
        assert "This link cannot be used" in page.content()

    # an admin signs in, makes a plan, reviews it and applies it with a cap of one seat
    page.goto(service + "/plans")
    page.fill("input[name=name]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("text=Reclaim plans")
    before = {u["id"] for u in sandbox.users() if not u["enabled"]}
    page.get_by_role("button", name="Make a plan").click()
    page.wait_for_selector("text=What applying does")
    content = page.content()
    assert all(c.user_principal_name in content for c in released)
    page.fill("input[name=cap]", "1")
    page.check("input[name=confirm]")
    page.get_by_role("button", name="Apply plan").click()
    page.wait_for_selector("text=Applied plan")
    # the sandbox's state: exactly one of the two released seats went (the cap), no one else's
    newly = {u["id"] for u in sandbox.users() if not u["enabled"]} - before
    states = {c.external_user_id: ws.candidates.get(c.id or 0).state for c in released}
    assert len(newly) == 1 and newly < set(states)
    assert sorted(s.value for s in states.values()) == ["awaiting_revocation", "closed_complete"]
    assert states[next(iter(newly))] is CandidateState.CLOSED_COMPLETE
    assert {a.actor for a in ws.plans.actions("aha")} == {"admin"}
