"""The notices sent to seat holders and approvers: their words (from templates) and their answer
links. No command in them: people who hold seats do not have the CLI; they answer by link.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import attrs

from .._links import AnswerRole, LinkSigner
from .._notify import NotificationKind
from ..email._templates import NoticeTemplates
from .records import RemovalCandidate

__all__ = ["ComposedNotice", "NoticeContext", "compose_notice", "deadline_text"]


def deadline_text(value: dt.datetime) -> str:
    """A deadline as people read it (minutes, UTC)."""
    return value.strftime("%Y-%m-%d %H:%M UTC")


@attrs.frozen(kw_only=True)
class NoticeContext:
    """What notices need beyond the candidates: the service's public address and the link
    signer (answerable notices are refused without both), the templates, and the approver
    groups (name → members) with each profile's group."""

    public_url: str | None = None
    signer: LinkSigner | None = None
    templates: NoticeTemplates = attrs.Factory(NoticeTemplates)
    groups: Mapping[str, tuple[str, ...]] = attrs.Factory(dict)
    profile_groups: Mapping[str, str] = attrs.Factory(dict)

    @property
    def answerable(self) -> bool:
        """True when notices with answer links can be sent."""
        return self.public_url is not None and self.signer is not None


@attrs.frozen(kw_only=True)
class ComposedNotice:
    """Subject, plain-text and HTML body of one notice."""

    subject: str
    text: str
    html: str


def _when(value: dt.datetime | None) -> str:
    return "no activity recorded" if value is None else value.strftime("%Y-%m-%d")


def compose_notice(
    kind: NotificationKind,
    candidates: Sequence[RemovalCandidate],
    *,
    templates: NoticeTemplates,
    links: Mapping[int, str] | None = None,
) -> ComposedNotice:
    """One notice about ``candidates`` (all of one user), from the templates; ``links`` maps a
    candidate id to its answer URL (holder links for reclaim notices and reminders, approver
    links for approval requests)."""
    links = links or {}
    user = candidates[0].user_principal_name
    respond_by = min((c.respond_by for c in candidates if c.respond_by), default=None)
    due = min((c.approval_due for c in candidates if c.approval_due), default=None)
    deadline = deadline_text(respond_by) if respond_by else "soon"
    if kind is NotificationKind.APPROVAL_REQUEST and due is not None:
        deadline = deadline_text(due)
    seat_names = ", ".join(dict.fromkeys(c.software_model or c.identifier for c in candidates))
    values: dict[str, object] = {
        "user": user,
        "recipient": candidates[0].recipient or user,
        "deadline": deadline,
        "idle_days": max(c.inactive_days for c in candidates),
        "seat_names": seat_names,
        "references": " ".join(str(c.id) for c in candidates if c.id is not None),
    }
    if kind in (NotificationKind.RECLAIM_NOTICE, NotificationKind.REMINDER):
        row = "seat_holder"
    elif kind is NotificationKind.APPROVAL_REQUEST:
        row = "seat_approver"
    else:
        row = "seat_plain"
    subject = templates.render(f"{kind.value}.subject.txt", values).strip().splitlines()[0]
    values["subject"] = subject
    rows: dict[str, list[str]] = {"txt": [], "html": []}
    for c in candidates:
        url = links.get(c.id or 0, "")
        row_values = {
            "user": user,
            "product": c.software_model or c.identifier,
            "identifier": c.identifier,
            "last_activity": _when(c.last_activity),
            "idle_days": c.inactive_days,
            "keep_url": f"{url}?choice=keep",
            "release_url": f"{url}?choice=release",
            "approve_url": f"{url}?choice=approve",
            "decline_url": f"{url}?choice=decline",
        }
        for ext in ("txt", "html"):
            rows[ext].append(templates.render(f"{row}.{ext}", row_values))
    text = templates.render(f"{kind.value}.txt", values, blocks={"seats": "".join(rows["txt"])})
    html = templates.render(f"{kind.value}.html", values, blocks={"seats": "".join(rows["html"])})
    return ComposedNotice(subject=subject, text=text, html=html)


def role_of(kind: NotificationKind) -> AnswerRole | None:
    """Whose answer a notice of ``kind`` asks for (None: it asks nothing)."""
    if kind in (NotificationKind.RECLAIM_NOTICE, NotificationKind.REMINDER):
        return AnswerRole.HOLDER
    if kind is NotificationKind.APPROVAL_REQUEST:
        return AnswerRole.APPROVER
    return None
