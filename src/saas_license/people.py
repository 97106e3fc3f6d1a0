"""What the people-facing loop returns: answers by link, approver routes, the scheduler's tick
and automatic reclaim (see docs/notices.md, docs/approvals.md, docs/auto-reclaim.md).

A web application answering links uses :class:`AnswerView`, :class:`AnswerOutcome`,
:class:`AnswerChoice` and :class:`~saas_license.LinkError`; a service loop logs a
:class:`TickReport`.
"""

from __future__ import annotations

from ._candidates.approvers import DEFAULT_APPROVER_GROUP, ApproverRoute, ApproverSource
from ._links import AnswerRole, LinkError
from ._reclaim.auto import (
    SCHEDULER_ACTOR,
    AutoReclaimPolicy,
    AutoReclaimPreview,
    AutoReclaimReport,
)
from ._workspace.answers import AnswerChoice, AnswerOutcome, AnswerView
from ._workspace.jobs import TickReport

__all__ = [
    "DEFAULT_APPROVER_GROUP",
    "SCHEDULER_ACTOR",
    "AnswerChoice",
    "AnswerOutcome",
    "AnswerRole",
    "AnswerView",
    "ApproverRoute",
    "ApproverSource",
    "AutoReclaimPolicy",
    "AutoReclaimPreview",
    "AutoReclaimReport",
    "LinkError",
    "TickReport",
]
