"""The append-only, hash-chained audit log: read it, verify it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from .._audit import AuditEntry, AuditVerification

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Audit"]


class Audit:
    """The append-only, hash-chained audit log: read it, verify it (``ws.audit``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def query(
        self,
        *,
        profile: str | None = None,
        limit: int = 1000,
        entity: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        last: bool = False,
    ) -> list[AuditEntry]:
        """The audit log, oldest first; ``action`` is a prefix (``candidate.``, ``vendor.``),
        ``last`` keeps the newest ``limit`` entries."""
        return self._ws.store.list_audit(
            profile=profile,
            limit=limit,
            entity=entity,
            entity_id=entity_id,
            action=action,
            since=since,
            last=last,
        )

    def verify(self) -> AuditVerification:
        """Check the audit log's hash chains and guards: any changed, removed, inserted or
        replaced entry, or a dropped trigger, is reported (``.ok`` is False)."""
        return self._ws.store.verify_audit()
