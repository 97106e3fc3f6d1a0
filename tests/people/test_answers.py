"""Answering by link: the page's view, one answer per link, the same workflow and audit as the CLI."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from saas_license import CandidateState, ConfigError, LinkError
from saas_license._notify import NotificationKind
from saas_license.people import AnswerChoice, AnswerRole

from ..lifecycle.conftest import Harness
from .conftest import notify_roadmaps, tokens


def _notice_to(h: Harness, who: str, kind: NotificationKind = NotificationKind.RECLAIM_NOTICE):
    return next(n for n in h.ws.outbox.query() if n.recipient == who and n.kind is kind)


def test_a_holder_keeps_by_link_and_the_approver_declines_by_link(harness: Harness) -> None:
    ws = harness.ws
    notify_roadmaps(harness)
    notice = _notice_to(harness, "ana@acme.test")
    (token,) = tokens(notice)
    view = ws.answers.open(token)
    assert view.role is AnswerRole.HOLDER and view.recipient == "ana@acme.test"
    assert view.choices == (AnswerChoice.KEEP, AnswerChoice.RELEASE)
    assert view.software_model == "Aha! Roadmaps" and view.inactive_days == 90
    assert view.expires_at == harness.clock.now + dt.timedelta(days=5)
    assert "reclaimed" in view.consequence and view.approver == "Software managers"
    # opening changes nothing (mail scanners follow GET links)
    assert ws.candidates.get(view.candidate_id).state is CandidateState.AWAITING_USER
    outcome = ws.answers.submit(token, "keep", note="quarterly planning")
    assert outcome.state is CandidateState.AWAITING_APPROVAL and outcome.actor == "ana@acme.test"
    assert "Software managers" in outcome.message
    # the same audit as the CLI, with the recipient as actor
    entry = ws.candidates.history(view.candidate_id)[-1]
    assert (entry.actor, entry.action) == ("ana@acme.test", "candidate.keep")
    # a link works once
    with pytest.raises(LinkError) as exc:
        ws.answers.submit(token, "release")
    assert exc.value.reason == "used"
    with pytest.raises(LinkError):
        ws.answers.open(token)
    # the approval request went to the profile's group, with an approver link each
    request = _notice_to(harness, "sam-team@acme.test", NotificationKind.APPROVAL_REQUEST)
    (approver_token,) = tokens(request)
    view = ws.answers.open(approver_token)
    assert view.role is AnswerRole.APPROVER and view.choices == (
        AnswerChoice.APPROVE,
        AnswerChoice.DECLINE,
    )
    with pytest.raises(ConfigError, match="choice"):
        ws.answers.submit(approver_token, "keep")  # not an approver's answer; link not spent
    done = ws.answers.submit(approver_token, AnswerChoice.DECLINE)
    assert done.state is CandidateState.CLOSED_CANCELED
    cand = ws.candidates.get(view.candidate_id)
    assert cand.decided_by == "sam-team@acme.test" and cand.keep_until is not None


def test_release_approve_and_links_that_no_longer_apply(harness: Harness) -> None:
    ws = harness.ws
    notify_roadmaps(harness)
    ben_tokens = tokens(_notice_to(harness, "ben@acme.test"))
    assert len(ben_tokens) == 1  # ben's one Roadmaps seat (his Develop seat is not asked)
    out = ws.answers.submit(ben_tokens[0], AnswerChoice.RELEASE)
    assert out.state is CandidateState.AWAITING_REVOCATION
    # cy answers through the CLI first: cy's link then says so and changes nothing
    (cy_token,) = tokens(_notice_to(harness, "cy@acme.test"))
    cy = ws.answers.open(cy_token)
    ws.candidates.forego(cy.candidate_id, actor="operator")
    with pytest.raises(LinkError) as exc:
        ws.answers.submit(cy_token, "keep")
    assert exc.value.reason == "wrong_state" and "settled" in exc.value.user_message
    assert ws.candidates.get(cy.candidate_id).state is CandidateState.AWAITING_REVOCATION
    # a tampered link: another candidate's id cannot be slipped in
    (dee_token,) = tokens(_notice_to(harness, "dee@partner.test"))
    body, _, sig = dee_token.partition(".")
    with pytest.raises(LinkError) as exc:
        ws.answers.open(body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig)
    assert exc.value.reason in ("tampered", "invalid")
    # past the deadline every holder link is expired
    (eli_token,) = tokens(_notice_to(harness, "eli@acme.test"))
    harness.clock.advance(days=5, minutes=1)
    with pytest.raises(LinkError) as exc:
        ws.answers.open(eli_token)
    assert exc.value.reason == "expired"


def test_an_approver_approves_and_a_group_member_removed_meanwhile_cannot(harness: Harness) -> None:
    ws = harness.ws
    ws.approvals.set_group("Software managers", ["sam-team@acme.test", "lea@acme.test"])
    notify_roadmaps(harness)
    (token,) = tokens(_notice_to(harness, "ana@acme.test"))
    ws.answers.submit(token, "keep")
    requests = [n for n in ws.outbox.query() if n.kind is NotificationKind.APPROVAL_REQUEST]
    assert sorted(n.recipient for n in requests) == ["lea@acme.test", "sam-team@acme.test"]
    lea = next(tokens(n)[0] for n in requests if n.recipient == "lea@acme.test")
    sam = next(tokens(n)[0] for n in requests if n.recipient == "sam-team@acme.test")
    ws.approvals.set_group("Software managers", ["sam-team@acme.test"])
    with pytest.raises(LinkError) as exc:
        ws.answers.open(lea)
    assert exc.value.reason == "wrong_state"
    assert ws.answers.submit(sam, "approve").state is CandidateState.AWAITING_REVOCATION


def test_without_public_url_answerable_notices_are_refused_and_nothing_moves(
    harness: Harness,
) -> None:
    ws = harness.ws
    ws.settings.set("public_url", None)
    ws.jobs.run("aha")
    ws.rules.set_reclamation("Aha! Roadmaps", notify_user=True, days_before_auto_reclaim=5)
    report = ws.plans.apply(ws.plans.create("aha").id or "")
    assert report.counts == {"held": 6}  # the six Roadmaps notices, refused
    assert all("public_url" in o.message for o in report.outcomes)
    assert not ws.outbox.query()
    assert not ws.candidates.query("aha", states={CandidateState.AWAITING_USER})
    ready = ws.candidates.query("aha", states={CandidateState.READY})
    with pytest.raises(ConfigError, match="public_url"):
        ws.candidates.workflow.start(ready[:1], actor="user")
    assert ws.candidates.get(ready[0].id or 0).state is CandidateState.READY
    with pytest.raises(ConfigError, match="public_url"):
        ws.answers.issue(ready[0].id or 0)


def test_issue_gives_a_fresh_link_for_a_waiting_candidate(harness: Harness) -> None:
    ws = harness.ws
    notify_roadmaps(harness)
    cand = ws.candidates.query("aha", states={CandidateState.AWAITING_USER})[0]
    url = ws.answers.issue(cand.id or 0)
    assert url.startswith("https://licenses.acme.test/answer/")
    view = ws.answers.open(url.rpartition("/")[2])
    assert view.candidate_id == cand.id and view.recipient == cand.recipient


def test_two_submits_of_one_link_at_once_record_one_answer(harness: Harness) -> None:
    ws = harness.ws
    notify_roadmaps(harness)
    (token,) = tokens(_notice_to(harness, "ana@acme.test"))
    barrier = threading.Barrier(2)
    results: list[str] = []

    def answer(choice: str) -> None:
        barrier.wait()
        try:
            results.append(ws.answers.submit(token, choice).choice.value)
        except LinkError as exc:
            results.append(exc.reason)

    threads = [threading.Thread(target=answer, args=(c,)) for c in ("keep", "release")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) in (
        ["keep", "used"],
        ["release", "used"],
        ["keep", "wrong_state"],
        ["release", "wrong_state"],
    )
    cand = ws.candidates.get(ws.answers.signer.verify(token, now=harness.clock.now).candidate_id)
    answers = [
        e
        for e in ws.candidates.history(cand.id or 0)
        if e.action in ("candidate.keep", "candidate.forego")
    ]
    assert len(answers) == 1


def test_issue_for_an_approver_group_names_a_member(harness: Harness) -> None:
    ws = harness.ws
    ws.approvals.set_group("Software managers", ["sam-team@acme.test", "lea@acme.test"])
    notify_roadmaps(harness)
    out = ws.answers.submit(tokens(_notice_to(harness, "ana@acme.test"))[0], "keep")
    with pytest.raises(ConfigError, match="lea@acme.test"):
        ws.answers.issue(out.candidate_id, role=AnswerRole.APPROVER)
    with pytest.raises(ConfigError, match="not boss@acme.test"):
        ws.answers.issue(out.candidate_id, role=AnswerRole.APPROVER, recipient="boss@acme.test")
    url = ws.answers.issue(out.candidate_id, role=AnswerRole.APPROVER, recipient="lea@acme.test")
    view = ws.answers.open(url.rpartition("/")[2])
    assert (view.role, view.recipient) == (AnswerRole.APPROVER, "lea@acme.test")
