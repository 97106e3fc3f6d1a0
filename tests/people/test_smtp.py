"""E-mail out of the box: notices delivered to a real SMTP server (aiosmtpd on 127.0.0.1), read
back, and their links followed; send limits, retries, dry run, templates and escaping."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from saas_license import CandidateState
from saas_license._notify import DeliveryStatus, NotificationKind
from saas_license.people import AnswerChoice

from ..lifecycle.conftest import Harness
from .conftest import LINK, notify_roadmaps

PASSWORD = "smtp-pass-0123456789"


def free_port() -> int:
    """A free TCP port on 127.0.0.1, chosen first (aiosmtpd cannot listen on port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """The SMTP server's side: every message it accepted, and whether the login was right."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[tuple[str, str]] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user, password = data.login.decode(), data.password.decode()
        self.logins.append((user, password))
        return AuthResult(success=(user, password) == ("notices", PASSWORD))


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def _smtp(h: Harness, port: int, **extra: Any) -> None:
    s = h.ws.settings
    s.set("smtp.host", "127.0.0.1")
    s.set("smtp.port", port)
    s.set("smtp.security", "none")
    s.set("smtp.sender", "licenses@acme.test")
    for key, value in extra.items():
        s.set(key, value)


def _body(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def test_notices_reach_a_real_smtp_server_and_their_links_answer(
    harness: Harness,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    box, port = mailbox
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG)
    _smtp(harness, port, **{"smtp.username": "notices", "smtp.password_env": "TEST_SMTP_PASSWORD"})
    notify_roadmaps(harness)
    assert box.logins == [("notices", PASSWORD)] * 6  # one login per message
    assert sorted(str(m["To"]) for m in box.messages) == sorted(
        [
            "ana@acme.test",
            "ben@acme.test",
            "cy@acme.test",
            "dee@partner.test",
            "eli@acme.test",
            "fay@acme.test",
        ]
    )
    assert {n.status for n in harness.ws.outbox.query()} == {DeliveryStatus.DELIVERED}
    ana = next(m for m in box.messages if m["To"] == "ana@acme.test")
    assert ana["From"] == "licenses@acme.test" and "Aha! Roadmaps" in str(ana["Subject"])
    assert ana["Auto-Submitted"] == "auto-generated"
    text, html = _body(ana, "plain"), _body(ana, "html")
    assert "saas-license" not in text and "candidates keep" not in text
    (token,) = dict.fromkeys(LINK.findall(text))
    assert f'href="https://licenses.acme.test/answer/{token}?choice=keep"' in html
    # follow the delivered link as the person would
    outcome = harness.ws.answers.submit(token, AnswerChoice.KEEP)
    assert outcome.state is CandidateState.AWAITING_APPROVAL
    request = box.messages[-1]
    assert request["To"] == "sam-team@acme.test" and "asks to keep" in str(request["Subject"])
    (approve,) = dict.fromkeys(LINK.findall(_body(request, "plain")))
    assert harness.ws.answers.submit(approve, "approve").state is CandidateState.AWAITING_REVOCATION
    # the password never reaches a log line or a repr
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(harness.ws.outbox.notifiers.get("smtp"))
    assert PASSWORD not in repr(harness.ws.settings.smtp())


def test_send_limit_defers_and_a_failing_server_is_retried_through_the_outbox(
    harness: Harness, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    _smtp(harness, port, **{"smtp.send_limit": 4})
    notify_roadmaps(harness)
    sent = harness.ws.outbox.query()
    assert len(box.messages) == 4
    waiting = [n for n in sent if n.status is DeliveryStatus.PENDING]
    assert len(waiting) == 2 and all(n.attempts == 0 for n in waiting)  # deferred, not failed
    box.refuse = True
    again = harness.ws.outbox.deliver()  # a new run: the limit restarts, the server refuses
    assert [n.status for n in again] == [DeliveryStatus.PENDING] * 2
    assert all(n.attempts == 1 and "SMTP" in n.last_error for n in again)
    box.refuse = False
    harness.ws.outbox.deliver()
    assert len(box.messages) == 6
    assert {n.status for n in harness.ws.outbox.query()} == {DeliveryStatus.DELIVERED}


def test_dry_run_writes_eml_files_and_sends_nothing(harness: Harness, tmp_path: Path) -> None:
    harness.ws.settings.set("smtp.sender", "licenses@acme.test")
    harness.ws.settings.set("smtp.dry_run_dir", str(tmp_path))
    notify_roadmaps(harness)
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 6
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage) and "/answer/" in _body(msg, "plain")


def test_templates_are_overridable_and_hostile_names_are_escaped(
    harness: Harness, tmp_path: Path
) -> None:
    harness.set_vendor("2001", email="<script>alert(1)</script>@acme.test")
    (tmp_path / "reclaim_notice.subject.txt").write_text("Licence check for $user\n")
    (tmp_path / "seat_holder.html").write_text(
        '<li>$product: <a href="$keep_url">keep</a> $user</li>\n'
    )
    harness.ws.settings.set("notices.templates_dir", str(tmp_path))
    notify_roadmaps(harness)
    hostile = next(n for n in harness.ws.outbox.query() if "script" in n.recipient)
    assert hostile.subject == "Licence check for <script>alert(1)</script>@acme.test"
    assert (
        "<script>" not in hostile.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.html
    )
    assert '<a href="https://licenses.acme.test/answer/' in hostile.html
    # a template with a placeholder the notice does not have is refused, naming the file
    (tmp_path / "reminder.txt").write_text("Hello $nobody\n")
    from saas_license import ConfigError
    from saas_license.email import NoticeTemplates

    with pytest.raises(ConfigError, match=r"reminder.txt uses \$nobody"):
        NoticeTemplates(tmp_path).render("reminder.txt", {"user": "x"})


def test_plain_smtp_to_another_host_is_refused_and_a_broken_setup_keeps_notices(
    harness: Harness,
) -> None:
    from saas_license import ConfigError
    from saas_license.email import SmtpSettings

    with pytest.raises(ConfigError, match="smtp.security"):
        SmtpSettings(sender="a@b.test", host="mail.example.com", security="none")
    harness.ws.settings.set("smtp.host", "127.0.0.1")
    harness.ws.settings.set("smtp.sender", "licenses@acme.test")
    harness.ws.settings.set("smtp.password_env", "NO_SUCH_VARIABLE_SET")
    notify_roadmaps(harness)  # the workflow goes on; the notices wait in the outbox
    assert (
        harness.ws.outbox.smtp_problem and "NO_SUCH_VARIABLE_SET" in harness.ws.outbox.smtp_problem
    )
    assert {n.status for n in harness.ws.outbox.query()} == {DeliveryStatus.PENDING}
    assert all(n.kind is NotificationKind.RECLAIM_NOTICE for n in harness.ws.outbox.query())


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A private CA and a server certificate for 127.0.0.1: (server context, CA file)."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server, ca_file


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_tls_with_login_over_the_encrypted_channel(
    harness: Harness, certificates: tuple[ssl.SSLContext, Path], security: str
) -> None:
    server_ctx, ca_file = certificates
    box, port = Mailbox(), free_port()
    kw: dict[str, Any] = (
        {"tls_context": server_ctx, "require_starttls": True}
        if security == "starttls"
        # aiosmtpd counts only STARTTLS as TLS for AUTH; implicit TLS is encrypted from the start
        else {"ssl_context": server_ctx, "auth_require_tls": False}
    )
    controller = Controller(
        box, hostname="127.0.0.1", port=port, authenticator=box.authenticate, **kw
    )
    controller.start()
    try:
        harness.ws.settings.set_smtp_password(PASSWORD)
        _smtp(
            harness,
            port,
            **{"smtp.security": security, "smtp.username": "notices", "smtp.ca_file": str(ca_file)},
        )
        notify_roadmaps(harness)
        assert len(box.messages) == 6 and box.logins[0] == ("notices", PASSWORD)
    finally:
        controller.stop()


def test_an_untrusted_certificate_is_refused_and_the_notice_waits(
    harness: Harness, certificates: tuple[ssl.SSLContext, Path]
) -> None:
    server_ctx, _ = certificates
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, ssl_context=server_ctx)
    controller.start()
    try:
        _smtp(harness, port, **{"smtp.security": "tls"})  # the system's CAs: ours is unknown
        notify_roadmaps(harness)
        assert box.messages == []
        outbox = harness.ws.outbox.query()
        assert {n.status for n in outbox} == {DeliveryStatus.PENDING}
        assert all("SSL" in n.last_error or "certificate" in n.last_error for n in outbox)
    finally:
        controller.stop()
