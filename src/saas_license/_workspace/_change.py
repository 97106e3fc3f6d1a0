"""One change and its audit entry in one transaction: both land, or neither does."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from .._audit import AuditEntry
from .._convert import converter

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Change", "changing"]


def _plain(value: Any) -> dict[str, Any] | None:
    """A record as the audit log keeps it (a JSON-ready dict), or None."""
    if value is None or isinstance(value, dict):
        return value
    plain = converter.unstructure(value)
    assert isinstance(plain, dict)
    return plain


@attrs.define(kw_only=True)
class Change:
    """What the block changed: the entity's id and its state after (filled in by the block),
    and the audit entry's detail (when only the block knows it)."""

    entity_id: str | None = None
    after: Any = None
    detail: str = ""

    def done(self, entity_id: object, *, after: Any = None, detail: str | None = None) -> None:
        """Record which entity the block changed and what it looks like now."""
        self.entity_id = None if entity_id is None else str(entity_id)
        self.after = after
        if detail is not None:
            self.detail = detail


@contextlib.contextmanager
def changing(
    ws: Workspace,
    action: str,
    entity: str,
    *,
    entity_id: object = None,
    before: Any = None,
    profile: str | None = None,
    actor: str = "user",
    detail: str = "",
) -> Iterator[Change]:
    """Run the block and append its audit entry in the same store transaction."""
    change = Change(entity_id=None if entity_id is None else str(entity_id), detail=detail)
    with ws.store.transaction():
        yield change
        ws.store.append_audit(
            AuditEntry(
                at=ws.clock(),
                actor=actor,
                action=action,
                entity=entity,
                entity_id=change.entity_id,
                profile=profile,
                before=_plain(before),
                after=_plain(change.after),
                detail=change.detail,
            )
        )
