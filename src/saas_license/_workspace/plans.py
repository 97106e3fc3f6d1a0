"""Reclaim plans: make one (dry run), apply it, undo a reclaim, settle unknown outcomes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal, overload

from .._errors import ConfigError
from .._pipeline import ProgressCallback, build_plan, stream_plan
from .._reclaim.records import HeldItem, PlanItem, ReclaimAction, ReclaimPlan
from .._reclaim.stored import StoredPlan

if TYPE_CHECKING:
    from .._reclaim.apply import ApplyReport
    from .._reclaim.confirm import ReconcileReport
    from .._reclaim.undo import UndoResult
    from .._store._sqlite.plans import SqlitePlanStore
    from .facade import Workspace

# apply, undo and reconcile are imported when used: a daily run (plan only) never needs them,
# and every process pays for what it imports (start-up, issue 13).

__all__ = ["Plans"]


class Plans:
    """Reclaim plans: make one (dry run), apply it, undo a reclaim, settle unknown outcomes (``ws.plans``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    @overload
    def create(self, name: str) -> StoredPlan: ...
    @overload
    def create(self, name: str, *, save: Literal[True]) -> StoredPlan: ...
    @overload
    def create(self, name: str, *, save: Literal[False]) -> ReclaimPlan: ...
    @overload
    def create(self, name: str, *, save: bool) -> StoredPlan | ReclaimPlan: ...
    def create(self, name: str, *, save: bool = True) -> StoredPlan | ReclaimPlan:
        """The reclaim plan of a profile as it stands now (dry run: nothing changes at the vendor
        or to any candidate), stored under an id that :meth:`apply` takes.

        The stored plan is built as a stream (:class:`StoredPlan`: counts at hand, items read a
        page at a time). ``save=False`` builds the plan whole in memory instead and stores
        nothing (a :class:`ReclaimPlan`; for small profiles)."""
        prof = self._ws.profiles.get(name)
        now = self._ws.clock()
        info = self._ws.profiles.spoke_for(prof).info()
        kw = dict(
            now=now,
            action=info.reclaim_effect,
            policy=self._ws.policy,
            prices=self._ws.prices,
            integration_user_id=prof.integration_user_id,
            scope=info.reclaim_scope,
            protective_fields=info.protective_fields,
        )
        if not save:
            return build_plan(self._ws.store, prof, **kw)  # type: ignore[arg-type]
        return stream_plan(
            self._ws.store,
            prof,
            plan_id=secrets.token_hex(6),
            expires_at=now + self._ws.policy.plan_ttl,
            **kw,  # type: ignore[arg-type]
        )

    def get(self, plan_id: str) -> StoredPlan:
        """A stored plan by id: its counts, and its items read a page at a time."""
        found = _plan_store(self._ws.store).plan_head(plan_id)
        if found is None:
            raise ConfigError(
                f"no reclaim plan with id {plan_id!r}",
                field="plan",
                hint="make a plan first (CLI `reclaim PROFILE --plan`, Python `ws.plans.create(profile)`)",
            )
        return found[0]

    def apply(
        self,
        plan_id: str,
        *,
        cap: int | None = None,
        actor: str = "user",
        progress: ProgressCallback | None = None,
    ) -> ApplyReport:
        """Execute the stored plan ``plan_id`` (from :meth:`create`): notices, then reclaims through
        the profile's spoke, each re-checked first; at most ``cap`` seats. ``progress(step,
        count)`` follows the reclaims, as in a daily run."""
        from .._reclaim.apply import apply_plan

        prof = self._ws.profiles.get(self.get(plan_id).profile)
        return apply_plan(
            self._ws.store,
            self._ws.profiles.spoke_for(prof),
            self._ws.profiles.context(prof),
            plan_id,
            workflow=self._ws.candidates.workflow,
            policy=self._ws.policy,
            cap=cap,
            actor=actor,
            clock=self._ws.clock,
            progress=progress,
        )

    def undo(self, candidate_id: int, *, actor: str = "user") -> UndoResult:
        """Undo the reclaim that closed ``candidate_id`` (and the user's other seats with it)."""
        from .._reclaim.undo import undo_reclaim

        candidate = self._ws.candidates.get(candidate_id)
        prof = self._ws.profiles.get(candidate.profile)
        return undo_reclaim(
            self._ws.store,
            self._ws.profiles.spoke_for(prof),
            self._ws.profiles.context(prof),
            candidate_id,
            workflow=self._ws.candidates.workflow,
            actor=actor,
        )

    def reconcile(self, name: str, *, actor: str = "user") -> ReconcileReport:
        """Resolve every reclaim of unknown outcome by reading the vendor, and mark jobs of dead
        processes abandoned (``saas-license reclaim PROFILE --reconcile``)."""
        from .._reclaim.confirm import reconcile_reclaims

        prof = self._ws.profiles.get(name)
        return reconcile_reclaims(
            self._ws.store,
            self._ws.profiles.spoke_for(prof),
            self._ws.profiles.context(prof),
            workflow=self._ws.candidates.workflow,
            policy=self._ws.policy,
            actor=actor,
        )

    def items(
        self, plan_id: str, *, held: bool = False, limit: int = 500, after: int = -1
    ) -> list[tuple[int, PlanItem | HeldItem]]:
        """One page of a stored plan: ``(position, item)`` pairs after position ``after``
        (``held``: the candidates it holds back, with why). Pass the last position seen as
        ``after`` for the next page; a plan is never loaded whole to be reviewed."""
        self._stored(plan_id)
        return _plan_store(self._ws.store).plan_items(plan_id, held=held, limit=limit, after=after)

    def iter_items(self, plan_id: str, *, held: bool = False) -> Iterator[PlanItem | HeldItem]:
        """Every item (or held item) of a stored plan, read a page at a time."""
        self._stored(plan_id)
        return _plan_store(self._ws.store).iter_plan_items(plan_id, held=held)

    def _stored(self, plan_id: str) -> None:
        if not _plan_store(self._ws.store).plan_exists(plan_id):
            raise ConfigError(
                f"no reclaim plan with id {plan_id!r}",
                field="plan",
                hint="make a plan first (CLI `reclaim PROFILE --plan`, Python `ws.plans.create(profile)`)",
            )

    def actions(self, profile: str | None = None) -> list[ReclaimAction]:
        """Every vendor reclaim made, oldest first (with undo state)."""
        return self._ws.store.list_reclaim_actions(profile)


def _plan_store(store: object) -> SqlitePlanStore:
    """The store's paged plan reads (the SQLite store has them)."""
    if not hasattr(store, "plan_items") or not hasattr(store, "plan_head"):
        raise ConfigError(
            f"{type(store).__name__} cannot read a plan page by page",
            field="store",
            hint="use SqliteStore, or add plan_head, plan_items, iter_plan_items and plan_exists",
        )
    return store  # type: ignore[return-value]
