"""Removal candidates and the actions people take on them (keep, approve, skip…)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._audit import AuditEntry
from .._candidates.notices import NoticeContext
from .._candidates.records import (
    CandidateState,
    Justification,
    RemovalCandidate,
    UserResponse,
)
from .._candidates.workflow import CandidateWorkflow
from .._errors import ConfigError
from .._links import LinkSigner
from ..email import NoticeTemplates

if TYPE_CHECKING:
    from .._store._sqlite.candidates import SqliteCandidateStore
    from .facade import Workspace

__all__ = ["Candidates"]


class Candidates:
    """Removal candidates and the actions people take on them (keep, approve, skip…) (``ws.candidates``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def query(
        self,
        profile: str | None = None,
        *,
        states: set[CandidateState] | None = None,
        limit: int | None = None,
        after: int | None = None,
    ) -> list[RemovalCandidate]:
        """Removal candidates, oldest first, optionally filtered. With ``limit`` one page:
        pass the last candidate's id as ``after`` for the next (see :meth:`pages`)."""
        if limit is None and after is None:
            return self._ws.store.list_candidates(profile, states=states)
        return _sqlite(self._ws.store).list_candidates(
            profile, states=states, limit=limit, after=after
        )

    def iter(
        self,
        profile: str | None = None,
        *,
        states: set[CandidateState] | None = None,
        after: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[RemovalCandidate]:
        """Every matching candidate (after the id ``after``), oldest first, read a page at a
        time: memory stays the same however many candidates there are."""
        return _sqlite(self._ws.store).iter_candidates(
            profile, states=states, after=after, page_size=page_size
        )

    def count(
        self,
        profile: str | None = None,
        *,
        states: set[CandidateState] | None = None,
        after: int | None = None,
    ) -> int:
        """How many candidates match (after the id ``after``), without reading them."""
        return _sqlite(self._ws.store).count_candidates(profile, states=states, after=after)

    def get(self, candidate_id: int) -> RemovalCandidate:
        """One removal candidate."""
        return self.workflow.get(candidate_id)

    def history(self, candidate_id: int) -> list[AuditEntry]:
        """Every audit entry of one candidate, oldest first."""
        return self._ws.store.list_audit(
            entity="candidate", entity_id=str(candidate_id), limit=100_000
        )

    def propose(
        self,
        subscription_id: int,
        *,
        actor: str = "user",
        reason: str = "",
        justification: Justification | str = Justification.MANUAL,
    ) -> RemovalCandidate:
        """Open a candidate by hand for one seat (it still passes every safety check on apply);
        ``justification`` says why (default ``manual``)."""
        try:
            why = Justification(justification)
        except ValueError:
            raise ConfigError(
                f"{justification!r} is not a justification",
                field="justification",
                hint="use " + ", ".join(j.value for j in Justification),
            ) from None
        sub = self._ws.store.get_subscription(subscription_id)
        if sub is None or not sub.active:
            raise ConfigError(
                f"no active subscription with id {subscription_id}", field="subscription"
            )
        return self.workflow.create(sub, None, actor=actor, justification=why, reason=reason)

    def keep(self, candidate_id: int, *, actor: str = "user", note: str = "") -> RemovalCandidate:
        """The user keeps the seat: to the approver (or kept, if the rule needs no approval)."""
        return self.workflow.respond(candidate_id, UserResponse.KEEP, actor=actor, note=note)

    def forego(self, candidate_id: int, *, actor: str = "user", note: str = "") -> RemovalCandidate:
        """The user does not need the seat: on to revocation."""
        return self.workflow.respond(candidate_id, UserResponse.FOREGO, actor=actor, note=note)

    def approve(
        self, candidate_id: int, *, actor: str = "user", note: str = ""
    ) -> RemovalCandidate:
        """The approver lets the reclaim go ahead despite the user's "keep"."""
        return self.workflow.decide(candidate_id, approve=True, actor=actor, note=note)

    def decline(
        self, candidate_id: int, *, actor: str = "user", note: str = ""
    ) -> RemovalCandidate:
        """The approver lets the user keep the seat (cooldown starts)."""
        return self.workflow.decide(candidate_id, approve=False, actor=actor, note=note)

    def resolve(
        self,
        candidate_id: int,
        *,
        recipient: str | None = None,
        actor: str = "user",
        note: str = "",
    ) -> RemovalCandidate:
        """Attention required → ready (set ``recipient`` when the notice had nobody to go to)."""
        return self.workflow.resolve(candidate_id, actor=actor, recipient=recipient, note=note)

    def skip(
        self,
        candidate_id: int,
        *,
        actor: str = "user",
        note: str = "",
        cooldown_days: int | None = None,
    ) -> RemovalCandidate:
        """Close a candidate without reclaiming (``cooldown_days``: no new one before then)."""
        return self.workflow.skip(candidate_id, actor=actor, note=note, cooldown_days=cooldown_days)

    def close_complete(
        self, candidate_id: int, *, actor: str = "user", note: str = ""
    ) -> RemovalCandidate:
        """Close a candidate awaiting revocation as complete: the seat was freed by hand."""
        return self.workflow.close_complete(candidate_id, actor=actor, note=note)

    @property
    def workflow(self) -> CandidateWorkflow:
        """The candidate workflow bound to this workspace (store, notifiers, prices, clock)."""
        return CandidateWorkflow(
            self._ws.store,
            notifiers=self._ws.outbox.notifiers,
            prices=self._ws.prices,
            clock=self._ws.clock,
            notices=self.notice_context(),
        )

    def notice_context(self) -> NoticeContext:
        """What this workspace's notices need: public address, link signer, templates, groups."""
        public = self._ws.settings.public_url
        folder = self._ws.settings.get("notices.templates_dir")
        return NoticeContext(
            public_url=public,
            signer=LinkSigner.from_secrets(self._ws.secrets) if public else None,
            templates=NoticeTemplates(folder),
            groups=self._ws.approvals.groups(),
            profile_groups={
                p.name: self._ws.approvals.profile_group(p.name) for p in self._ws.profiles.all()
            },
        )


def _sqlite(store: object) -> SqliteCandidateStore:
    """The store's paged reads (the SQLite store has them; a store without them is told so)."""
    if not hasattr(store, "iter_candidates"):
        raise ConfigError(
            f"{type(store).__name__} cannot read candidates page by page",
            field="store",
            hint="use SqliteStore, or add list_candidates(limit=, after=), iter_candidates and count_candidates",
        )
    return store  # type: ignore[return-value]
