"""The words of the notices sent to seat holders and approvers (no command in them: people who
hold seats do not have the CLI; they answer their software asset managers)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .._notify import NotificationKind
from .records import RemovalCandidate

__all__ = ["deadline_text", "notice_text"]


def deadline_text(value: dt.datetime) -> str:
    """A deadline as people read it (minutes, UTC)."""
    return value.strftime("%Y-%m-%d %H:%M UTC")


def notice_text(kind: NotificationKind, candidates: Sequence[RemovalCandidate]) -> tuple[str, str]:
    """Subject and body of one notice about ``candidates`` (all of one user)."""
    seats = ", ".join(f"{c.software_model or c.identifier} ({c.identifier})" for c in candidates)
    ids = tuple(c.id for c in candidates if c.id is not None)
    user = candidates[0].user_principal_name
    idle = max(c.inactive_days for c in candidates)
    respond_by = min((c.respond_by for c in candidates if c.respond_by), default=None)
    refs = " ".join(str(i) for i in ids)
    if kind is NotificationKind.RECLAIM_NOTICE or kind is NotificationKind.REMINDER:
        deadline = deadline_text(respond_by) if respond_by else "soon"
        subject = ("Reminder: " if kind is NotificationKind.REMINDER else "") + (
            f"Your {seats} seat will be reclaimed on {deadline}"
        )
        body = (
            f"Hello {user},\n\nyou have not used {seats} for {idle} days, so the seat will be "
            f"reclaimed after {deadline} unless you ask to keep it.\n\n"
            "To keep it, or to say you no longer need it, reply to your software asset "
            f"managers before {deadline}, quoting reference {refs}; they record your answer.\n"
        )
    elif kind is NotificationKind.APPROVAL_REQUEST:
        subject = f"{user} asks to keep {seats}"
        body = (
            f"{user} has not used {seats} for {idle} days but asked to keep it.\n\n"
            "Tell your software asset managers whether to reclaim the seat anyway or let "
            f"{user} keep it, quoting reference {refs}; they record your decision.\n"
        )
    elif kind is NotificationKind.RECLAIMED:
        subject = f"Your {seats} seat was reclaimed"
        body = (
            f"Hello {user},\n\nyour {seats} seat was reclaimed after {idle} days without use. "
            "Ask your software managers if you need it back.\n"
        )
    else:
        subject = f"Your {seats} seat was restored"
        body = f"Hello {user},\n\nyour {seats} seat was given back to you.\n"
    return subject, body
