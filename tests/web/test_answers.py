"""The answer pages as a seat holder and an approver use them: GET (what mail scanners do)
changes nothing, only the POST with its CSRF token answers, and a link works once. Wrong,
tampered, expired and used links get a clear page and change nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from saas_license import CandidateState, Workspace
from saas_license._notify import NotificationKind
from saas_license.web import create_app

from .conftest import APPROVER, csrf_of, link_of

Client = Callable[[str | None], TestClient]


def _notice(
    ws: Workspace, kind: NotificationKind = NotificationKind.RECLAIM_NOTICE
) -> tuple[int, str, str]:
    """(first candidate, recipient, answer path) of the newest notice of ``kind``."""
    notice = [n for n in ws.outbox.query() if n.kind is kind][-1]
    return notice.candidate_ids[0], notice.recipient, link_of(notice.body).split("?")[0]


def _audit_size(ws: Workspace) -> int:
    return len(ws.audit.query(limit=1_000_000))


def test_opening_a_link_shows_the_seat_and_changes_nothing(
    client_for: Client, answerable: Workspace
) -> None:
    cid, _, path = _notice(answerable)
    cand = answerable.candidates.get(cid)
    before = _audit_size(answerable)
    client = client_for(None)
    for _ in range(3):  # a mail scanner, a preview, the person
        page = client.get(path + "?choice=release")
        assert page.status_code == 200
    text = page.text
    assert cand.user_principal_name in text and (cand.software_model or "") in text
    assert "Last activity" in text and "If you do not answer by" in text
    assert text.index('value="release"') < text.index('value="keep"')  # the link's choice first
    assert answerable.candidates.get(cid).state is CandidateState.AWAITING_USER
    assert _audit_size(answerable) == before
    assert page.headers["referrer-policy"] == "no-referrer"  # the token never leaks onwards


def test_keep_goes_to_the_approver_who_approves_through_their_link(
    client_for: Client, answerable: Workspace
) -> None:
    cid, recipient, path = _notice(answerable)
    holder = client_for(None)
    page = holder.get(path)
    done = holder.post(path, data={"choice": "keep", "csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "Thank you" in done.text
    kept = answerable.candidates.get(cid)
    assert kept.state is CandidateState.AWAITING_APPROVAL
    assert answerable.candidates.history(cid)[-1].actor == recipient  # the recipient is the actor
    # the approver's e-mail carries their own link
    acid, approver, apath = _notice(answerable, NotificationKind.APPROVAL_REQUEST)
    assert (acid, approver) == (cid, APPROVER)
    boss = client_for(None)
    page = boss.get(apath)
    assert "Approve: reclaim the seat" in page.text and "Decline" in page.text
    boss.post(apath, data={"choice": "approve", "csrf": csrf_of(page.text)})
    assert answerable.candidates.get(cid).state is CandidateState.AWAITING_REVOCATION
    assert answerable.candidates.history(cid)[-1].actor == APPROVER


def test_a_link_works_once(client_for: Client, answerable: Workspace) -> None:
    cid, _, path = _notice(answerable)
    client = client_for(None)
    token = csrf_of(client.get(path).text)
    assert client.post(path, data={"choice": "release", "csrf": token}).status_code == 200
    state = answerable.candidates.get(cid).state
    before = _audit_size(answerable)
    again = client.post(path, data={"choice": "keep", "csrf": token})
    assert again.status_code in (409, 410) and "cannot be used" in again.text
    reopened = client.get(path)
    assert reopened.status_code in (409, 410) and "Nothing was changed" in reopened.text
    assert answerable.candidates.get(cid).state is state
    assert _audit_size(answerable) == before


def test_a_post_without_csrf_or_with_a_wrong_choice_changes_nothing(
    client_for: Client, answerable: Workspace
) -> None:
    cid, _, path = _notice(answerable)
    client = client_for(None)
    before = _audit_size(answerable)
    assert client.post(path, data={"choice": "release"}).status_code == 403
    token = csrf_of(client.get(path).text)
    wrong = client.post(path, data={"choice": "approve", "csrf": token})
    assert wrong.status_code == 400 and "is not an answer a holder can give" in wrong.text
    assert answerable.candidates.get(cid).state is CandidateState.AWAITING_USER
    assert _audit_size(answerable) == before
    # the link still works after those
    assert client.post(path, data={"choice": "release", "csrf": token}).status_code == 200


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p[:-3] + ("AAA" if not p.endswith("AAA") else "BBB"),  # signature changed
        lambda p: p.replace("/answer/eyJ", "/answer/eyK"),  # body changed
        lambda p: "/answer/not-a-token",
        lambda p: "/answer/" + "A" * 3000,
    ],
    ids=["signature", "body", "garbage", "huge"],
)
def test_tampered_or_wrong_links_get_a_clear_page(
    client_for: Client, answerable: Workspace, mangle: Callable[[str], str]
) -> None:
    cid, _, path = _notice(answerable)
    bad = mangle(path)
    client = client_for(None)
    page = client.get(bad)
    assert page.status_code == 404 and "This link is not valid" in page.text
    token = csrf_of(client.get("/signin").text)  # a good CSRF token: the link alone is refused
    assert client.post(bad, data={"choice": "release", "csrf": token}).status_code == 404
    assert answerable.candidates.get(cid).state is CandidateState.AWAITING_USER


def test_an_expired_link_gets_a_clear_page(answerable: Workspace, now: dt.datetime) -> None:
    cid, _, path = _notice(answerable)
    later = Workspace.open(
        answerable.path,
        create=False,
        http=answerable.http,
        clock=lambda: now + dt.timedelta(days=6),
    )
    try:
        with TestClient(create_app(later)) as client:
            page = client.get(path)
            assert page.status_code == 410 and "expired" in page.text
            token = csrf_of(client.get("/signin").text)
            assert client.post(path, data={"choice": "keep", "csrf": token}).status_code == 410
        assert later.candidates.get(cid).state is CandidateState.AWAITING_USER
    finally:
        later.close()
