"""Answers through signed links: what a link shows, and the one answer it takes (``ws.answers``).

The web app's answer page calls :meth:`Answers.open` on GET (it changes nothing: mail scanners
follow links) and :meth:`Answers.submit` on POST. The answer goes through the same candidate
workflow and audit as the CLI, with the link's recipient as the actor; the link's nonce is
recorded in the same transaction, so a link works once.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

import attrs

from .._candidates.records import CandidateState, RemovalCandidate, UserResponse
from .._candidates.states import InvalidTransitionError
from .._errors import ConfigError
from .._links import AnswerRole, LinkClaims, LinkError, LinkSigner, answer_url
from .._time import format_instant

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["AnswerChoice", "AnswerOutcome", "AnswerView", "Answers"]


class AnswerChoice(str, enum.Enum):
    """What a person can answer: a holder keeps or releases the seat, an approver approves the
    reclaim or declines it (the holder keeps the seat)."""

    KEEP = "keep"
    RELEASE = "release"
    APPROVE = "approve"
    DECLINE = "decline"

    @property
    def label(self) -> str:
        """The button's words."""
        return _LABELS[self]


_LABELS = {
    AnswerChoice.KEEP: "Keep my seat",
    AnswerChoice.RELEASE: "Release it, I no longer need it",
    AnswerChoice.APPROVE: "Approve: reclaim the seat",
    AnswerChoice.DECLINE: "Decline: let them keep it",
}

#: The choices each role is offered, in the order a page shows them.
CHOICES = {
    AnswerRole.HOLDER: (AnswerChoice.KEEP, AnswerChoice.RELEASE),
    AnswerRole.APPROVER: (AnswerChoice.APPROVE, AnswerChoice.DECLINE),
}
#: The state a candidate must be in for each role's link to work.
WAITING = {
    AnswerRole.HOLDER: CandidateState.AWAITING_USER,
    AnswerRole.APPROVER: CandidateState.AWAITING_APPROVAL,
}


@attrs.frozen(kw_only=True)
class AnswerView:
    """What an answer page shows: the seat, the product, the last activity, the consequence of
    not answering (or of each choice), and the choices. Everything here is plain text: the page
    escapes it."""

    candidate_id: int
    recipient: str
    role: AnswerRole
    user_principal_name: str
    identifier: str
    software_model: str | None
    profile: str
    last_activity: dt.datetime | None
    inactive_days: int
    consequence: str
    choices: tuple[AnswerChoice, ...]
    expires_at: dt.datetime
    approver: str | None = None


@attrs.frozen(kw_only=True)
class AnswerOutcome:
    """What an answer did: the candidate's new state and a sentence for the person."""

    candidate_id: int
    choice: AnswerChoice
    state: CandidateState
    message: str
    actor: str


class Answers:
    """Answer pages' actions: open a link, submit its one answer, issue a link (``ws.answers``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    @property
    def signer(self) -> LinkSigner:
        """The workspace's link signer (its key lives in the secret store)."""
        return LinkSigner.from_secrets(self._ws.secrets)

    def issue(
        self,
        candidate_id: int,
        *,
        role: AnswerRole = AnswerRole.HOLDER,
        recipient: str | None = None,
        expires_at: dt.datetime | None = None,
    ) -> str:
        """A fresh answer URL for a candidate waiting for ``role`` (a new link for a person who
        lost theirs). Needs the ``public_url`` setting."""
        public = self._ws.settings.require_public_url()
        candidate = self._ws.candidates.get(candidate_id)
        if candidate.state is not WAITING[role]:
            raise ConfigError(
                f"candidate {candidate_id} is {candidate.state.value}; a {role.value} link needs "
                f"it {WAITING[role].value}",
                field="candidate",
            )
        workflow = self._ws.candidates.workflow
        allowed = workflow.recipients_for(candidate, role)
        if recipient is None and len(allowed) == 1:
            recipient = allowed[0]
        if recipient is None or recipient not in allowed:
            raise ConfigError(
                f"candidate {candidate_id} waits for an answer from "
                + (", ".join(allowed) or "nobody")
                + ("" if recipient is None else f", not {recipient}"),
                field="recipient",
                hint="name one of them as the recipient",
            )
        who = recipient
        until = expires_at or workflow.link_expiry(candidate, role)
        token = self.signer.issue(
            candidate_id=candidate_id, recipient=who, role=role, expires_at=until
        )
        return answer_url(public, token)

    def open(self, token: str) -> AnswerView:
        """What the link ``token`` is about; raises :class:`LinkError` (with ``reason`` and a
        ``user_message``) for a link that is invalid, tampered with, expired, used or no longer
        wanted. Changes nothing."""
        claims, candidate = self._check(token)
        return self._view(claims, candidate)

    def submit(self, token: str, choice: AnswerChoice | str, *, note: str = "") -> AnswerOutcome:
        """Record the answer ``choice`` given through ``token``: the candidate moves as it would
        from the CLI, audited with the recipient as the actor, and the link is spent in the same
        transaction (a second submit raises :class:`LinkError` ``used``)."""
        claims, candidate = self._check(token)
        try:
            picked = AnswerChoice(choice)
        except ValueError:
            raise ConfigError(
                f"{choice!r} is not an answer",
                field="choice",
                hint="one of " + ", ".join(c.value for c in CHOICES[claims.role]),
            ) from None
        if picked not in CHOICES[claims.role]:
            raise ConfigError(
                f"{picked.value!r} is not an answer a {claims.role.value} can give",
                field="choice",
                hint="one of " + ", ".join(c.value for c in CHOICES[claims.role]),
            )
        actor = claims.recipient
        workflow = self._ws.candidates.workflow
        now = self._ws.clock()
        with workflow.deferring_delivery(), self._ws.store.transaction():
            if not self._ws.store.spend_link(
                claims.nonce,
                candidate_id=claims.candidate_id,
                recipient=claims.recipient,
                role=claims.role.value,
                choice=picked.value,
                at=now,
            ):
                raise LinkError("used", f"the link's nonce {claims.nonce} was used already")
            try:
                if picked is AnswerChoice.KEEP:
                    new = workflow.respond(
                        candidate.id or 0, UserResponse.KEEP, actor=actor, note=note
                    )
                elif picked is AnswerChoice.RELEASE:
                    new = workflow.respond(
                        candidate.id or 0, UserResponse.FOREGO, actor=actor, note=note
                    )
                else:
                    new = workflow.decide(
                        candidate.id or 0,
                        approve=picked is AnswerChoice.APPROVE,
                        actor=actor,
                        note=note,
                    )
            except InvalidTransitionError:
                raise LinkError(
                    "wrong_state", f"candidate {candidate.id} moved on meanwhile"
                ) from None
        return AnswerOutcome(
            candidate_id=candidate.id or 0,
            choice=picked,
            state=new.state,
            message=_thanks(picked, new),
            actor=actor,
        )

    # -- internals -------------------------------------------------------------------------

    def _check(self, token: str) -> tuple[LinkClaims, RemovalCandidate]:
        claims = self.signer.verify(token, now=self._ws.clock())
        if self._ws.store.link_spent(claims.nonce):
            raise LinkError("used", f"the link's nonce {claims.nonce} was used already")
        candidate = self._ws.store.get_candidate(claims.candidate_id)
        if candidate is None:
            raise LinkError("wrong_state", f"candidate {claims.candidate_id} is gone")
        if candidate.state is not WAITING[claims.role]:
            raise LinkError(
                "wrong_state",
                f"candidate {claims.candidate_id} is {candidate.state.value}, not "
                f"{WAITING[claims.role].value}",
            )
        if claims.recipient not in self._ws.candidates.workflow.recipients_for(
            candidate, claims.role
        ):
            raise LinkError(
                "wrong_state",
                f"candidate {claims.candidate_id} no longer waits for {claims.recipient}",
            )
        return claims, candidate

    def _view(self, claims: LinkClaims, c: RemovalCandidate) -> AnswerView:
        seat = c.software_model or c.identifier
        until = f"{claims.expires_at:%Y-%m-%d %H:%M} UTC"
        if claims.role is AnswerRole.HOLDER:
            workflow = self._ws.candidates.workflow
            if workflow.route_for(c).keep_requires_approval:
                route = workflow.approver_route(c)
                keep = (
                    f"Asking to keep it sends the request to {route.label} for approval"
                    if route.routable
                    else "Asking to keep it goes to your software asset managers"
                )
            else:
                keep = "Keeping it keeps the seat"
            consequence = (
                f"If you do not answer by {until}, the {seat} seat of {c.user_principal_name} is "
                f"reclaimed. {keep}; releasing it frees the seat for someone else."
            )
        else:
            consequence = (
                f"{c.user_principal_name} asked to keep their {seat} seat although it was not "
                f"used for {c.inactive_days} days. Approving reclaims the seat; declining lets "
                "them keep it."
            )
        return AnswerView(
            candidate_id=c.id or 0,
            recipient=claims.recipient,
            role=claims.role,
            user_principal_name=c.user_principal_name,
            identifier=c.identifier,
            software_model=c.software_model,
            profile=c.profile,
            last_activity=c.last_activity,
            inactive_days=c.inactive_days,
            consequence=consequence,
            choices=CHOICES[claims.role],
            expires_at=claims.expires_at,
            approver=c.approver,
        )


def _thanks(choice: AnswerChoice, new: RemovalCandidate) -> str:
    seat = new.software_model or new.identifier
    if choice is AnswerChoice.RELEASE:
        return f"Thank you: the {seat} seat will be released."
    if choice is AnswerChoice.KEEP:
        if new.state is CandidateState.AWAITING_APPROVAL:
            return (
                f"Thank you: your request to keep the {seat} seat went to "
                f"{new.approver or 'your approver'} for approval."
            )
        if new.state is CandidateState.ATTENTION_REQUIRED:
            return (
                f"Thank you: your request to keep the {seat} seat was recorded; your software "
                "asset managers will look at it."
            )
        return f"Thank you: you keep the {seat} seat."
    if choice is AnswerChoice.APPROVE:
        return f"Recorded: the {seat} seat of {new.user_principal_name} will be reclaimed."
    until = f" until {format_instant(new.keep_until)[:10]}" if new.keep_until else ""
    return f"Recorded: {new.user_principal_name} keeps the {seat} seat{until}."
