"""Audit log entries: who changed what, when, from what to what. The log is append-only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

__all__ = ["AuditEntry"]


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One state change or vendor mutation, recorded before and after it happens."""

    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None = None
    profile: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    detail: str = ""
    id: int | None = None
