"""Notices, answers and approvals: the outbox, notifier plugins, deadlines, reminders, cooldowns."""

from __future__ import annotations

import datetime as dt

import pytest

from saas_license import CandidateState, ConfigError, hookimpl
from saas_license._candidates.states import InvalidTransitionError
from saas_license._notify import DeliveryStatus, Notification, NotificationKind, NotifierRegistry

from .conftest import Harness, aha_user, small_account


class Inbox:
    """A notifier plugin that keeps what it was given."""

    def __init__(self) -> None:
        self.got: list[Notification] = []

    @hookimpl
    def saas_license_notify(self, notification: Notification) -> bool:
        self.got.append(notification)
        return True


class Broken:
    """A notifier that always fails (a chat service that is down)."""

    @hookimpl
    def saas_license_notify(self, notification: Notification) -> bool:
        raise ConnectionError("chat service unreachable")


def _notify_everything(h: Harness, **rule: object) -> None:
    h.ws.jobs.run("aha")
    for model in ("Aha! Roadmaps", "Aha! Develop", "Aha! Teamwork"):
        h.ws.rules.set_reclamation(
            model, notify_user=True, days_before_auto_reclaim=5, remind_days_before=1, **rule
        )


def test_without_a_notifier_nothing_is_lost(harness: Harness) -> None:
    _notify_everything(harness)
    report = harness.ws.plans.apply(harness.ws.plans.create("aha").id or "")
    assert report.counts == {"notified": 8} and not harness.spoke.reclaims
    pending = harness.ws.outbox.query(status=DeliveryStatus.PENDING)
    # one notice per user, not per seat: ben and fay hold two seats each
    assert sorted(n.recipient for n in pending) == [
        "ana@acme.test",
        "ben@acme.test",
        "cy@acme.test",
        "dee@partner.test",
        "eli@acme.test",
        "fay@acme.test",
    ]
    ben = next(n for n in pending if n.recipient == "ben@acme.test")
    assert len(ben.candidate_ids) == 2 and ben.kind is NotificationKind.RECLAIM_NOTICE
    assert ben.respond_by == harness.clock.now + dt.timedelta(days=5)
    assert "unless you ask to keep them" in ben.body
    assert f"Reference: {ben.candidate_ids[0]} {ben.candidate_ids[1]}" in ben.body
    # one answer link per seat, at the service's public address
    assert ben.body.count("https://licenses.acme.test/answer/") == 4  # keep + release, 2 seats
    # people who hold seats do not have the CLI: no notice names a command
    assert not [n.body for n in pending if "saas-license" in n.body or "candidates " in n.body]
    # a notifier installed later delivers the backlog
    inbox = Inbox()
    harness.ws.outbox.notifiers.register(inbox, name="inbox")
    delivered = harness.ws.outbox.deliver()
    assert {n.status for n in delivered} == {DeliveryStatus.DELIVERED}
    assert {n.channel for n in delivered} == {"inbox"} and len(inbox.got) == 6


def test_a_broken_notifier_does_not_stop_the_others_or_lose_the_message(harness: Harness) -> None:
    inbox = Inbox()
    harness.ws.outbox.notifiers.register(Broken(), name="chat")
    harness.ws.outbox.notifiers.register(inbox, name="email")
    _notify_everything(harness)
    harness.ws.plans.apply(harness.ws.plans.create("aha").id or "")
    sent = harness.ws.outbox.query()
    assert {n.status for n in sent} == {DeliveryStatus.DELIVERED} and len(inbox.got) == len(sent)
    assert all("chat: ConnectionError: chat service unreachable" in n.last_error for n in sent)
    harness.ws.outbox.notifiers.unregister("email")
    registry: NotifierRegistry = harness.ws.outbox.notifiers
    assert registry.names() == ["chat"]
    for _ in range(5):
        harness.ws.outbox.deliver()  # nothing pending: delivered ones are not sent again
    assert len(inbox.got) == len(sent)


def test_failing_delivery_is_retried_then_given_up(harness: Harness) -> None:
    harness.ws.outbox.notifiers.register(Broken(), name="chat")
    _notify_everything(harness)
    harness.ws.plans.apply(harness.ws.plans.create("aha").id or "")
    assert {n.attempts for n in harness.ws.outbox.query()} == {1}
    for _ in range(4):
        harness.ws.outbox.deliver()
    assert {n.status for n in harness.ws.outbox.query()} == {DeliveryStatus.FAILED}
    inbox = Inbox()
    harness.ws.outbox.notifiers.register(inbox, name="email")
    harness.ws.outbox.deliver()
    assert not inbox.got  # given up…
    harness.ws.outbox.deliver(retry_failed=True)
    assert len(inbox.got) == 6  # …until asked to retry


def test_keep_goes_to_the_approver_who_decides(harness: Harness) -> None:
    ws = harness.ws
    _notify_everything(harness, approver="it-managers@acme.test")
    ws.plans.apply(ws.plans.create("aha").id or "")
    ana = next(c for c in ws.candidates.query("aha") if c.external_user_id == "2001")
    cy = next(c for c in ws.candidates.query("aha") if c.external_user_id == "2003")
    assert ana.state is CandidateState.AWAITING_USER
    kept = ws.candidates.keep(ana.id or 0, actor="ana@acme.test", note="quarterly planning")
    assert kept.state is CandidateState.AWAITING_APPROVAL and kept.response.value == "keep"  # type: ignore[union-attr]
    request = ws.outbox.query()[-1]
    assert request.kind is NotificationKind.APPROVAL_REQUEST
    assert request.recipient == "it-managers@acme.test" and "asked to keep them" in request.body
    assert (
        ws.candidates.decline(ana.id or 0, actor="boss@acme.test").state
        is CandidateState.CLOSED_CANCELED
    )
    ws.candidates.keep(cy.id or 0, actor="cy@acme.test")
    approved = ws.candidates.approve(cy.id or 0, actor="boss@acme.test")
    assert approved.state is CandidateState.AWAITING_REVOCATION
    assert approved.decided_by == "boss@acme.test"
    with pytest.raises(InvalidTransitionError, match="is closed_canceled now"):
        ws.candidates.approve(ana.id or 0)
    report = ws.plans.apply(ws.plans.create("aha").id or "")
    assert next(o for o in report.outcomes if o.candidate_id == cy.id).outcome == "reclaimed"
    reclaimed = [n for n in ws.outbox.query() if n.kind is NotificationKind.RECLAIMED]
    assert [n.recipient for n in reclaimed] == ["cy@acme.test"]
    history = [(e.action, e.actor) for e in ws.candidates.history(ana.id or 0)]
    assert history == [
        ("candidate.created", "system"),
        ("candidate.start", "user"),
        ("candidate.keep", "ana@acme.test"),
        ("candidate.decline", "boss@acme.test"),
    ]


def test_a_kept_seat_is_not_asked_about_again_during_the_cooldown(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    _notify_everything(harness, keep_requires_approval=False, cooldown_days=10)
    ws.plans.apply(ws.plans.create("aha").id or "")
    ana = next(c for c in ws.candidates.query("aha") if c.external_user_id == "2001")
    kept = ws.candidates.keep(ana.id or 0, actor="ana@acme.test")
    assert kept.state is CandidateState.CLOSED_CANCELED  # no approval step for this rule
    assert kept.keep_until == clock.now + dt.timedelta(days=10)
    clock.advance(days=9)
    report = ws.jobs.run("aha")
    assert report.verdicts["cooldown"] == 1
    assert [c.id for c in ws.candidates.query("aha") if c.external_user_id == "2001"] == [ana.id]
    clock.advance(days=2)
    ws.jobs.run("aha")
    assert [c.state for c in ws.candidates.query("aha") if c.external_user_id == "2001"] == [
        CandidateState.CLOSED_CANCELED,
        CandidateState.READY,
    ]


def test_no_answer_in_time_means_reclaim_with_a_reminder_first(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    inbox = Inbox()
    ws.outbox.notifiers.register(inbox, name="inbox")
    _notify_everything(harness)
    ws.plans.apply(ws.plans.create("aha").id or "")
    ws.candidates.forego(
        next(c.id or 0 for c in ws.candidates.query("aha") if c.external_user_id == "2003")
    )
    clock.advance(days=4, hours=1)
    report = ws.jobs.run("aha")
    assert report.reminders == 7 and report.timeouts == 0  # cy answered; the rest are reminded
    reminders = [n for n in inbox.got if n.kind is NotificationKind.REMINDER]
    assert len(reminders) == 5 and all(n.subject.startswith("Reminder:") for n in reminders)
    clock.advance(hours=1)
    assert ws.jobs.run("aha").reminders == 0  # once is enough
    plan = ws.plans.create("aha")
    assert {h.reason.split(" until")[0] for h in plan.held} == {"waiting for the user's answer"}
    clock.advance(days=1)
    report = ws.jobs.run("aha")
    assert report.timeouts == 7
    timeouts = ws.audit.query(action="candidate.timeout")
    assert len(timeouts) == 7 and {e.actor for e in timeouts} == {"system"}
    applied = ws.plans.apply(ws.plans.create("aha").id or "")
    assert applied.counts == {"reclaimed": 8}


def test_activity_coming_back_cancels_a_waiting_candidate(harness: Harness) -> None:
    ws = harness.ws
    _notify_everything(harness)
    ws.plans.apply(ws.plans.create("aha").id or "")
    harness.touch("2004")
    ws.jobs.run("aha")
    (dee,) = [c for c in ws.candidates.query("aha") if c.external_user_id == "2004"]
    assert dee.state is CandidateState.CLOSED_CANCELED and "activity came back" in dee.message


def test_a_notice_with_nobody_to_go_to_needs_attention(harness: Harness) -> None:
    h = Harness(
        users=[*small_account()[:2], aha_user("3001", "shared-kiosk", accessed_days_ago=100)]
    )
    try:
        ws = h.ws
        ws.jobs.run("aha")
        ws.rules.set_reclamation("Aha! Roadmaps", notify_user=True)
        for c in ws.candidates.query("aha"):
            ws.candidates.skip(c.id or 0, note="start over with notify on")
        h.clock.advance(days=1)
        ws.jobs.run("aha")  # the skipped seats are proposed again, now with notify on
        kiosk = next(
            c for c in ws.candidates.query("aha") if c.is_open and c.external_user_id == "3001"
        )
        assert kiosk.state is CandidateState.ATTENTION_REQUIRED and "no recipient" in kiosk.message
        assert kiosk.id not in {i.candidate.id for i in ws.plans.create("aha").items}
        with pytest.raises(ConfigError, match="recipient"):
            ws.candidates.resolve(kiosk.id or 0)
        with pytest.raises(ConfigError, match="recipient"):
            ws.candidates.resolve(kiosk.id or 0, recipient="not-an-address")
        resolved = ws.candidates.resolve(kiosk.id or 0, recipient="facilities@acme.test")
        assert resolved.state is CandidateState.READY
        ws.plans.apply(ws.plans.create("aha").id or "")
        assert "facilities@acme.test" in {n.recipient for n in ws.outbox.query()}
    finally:
        h.close()
