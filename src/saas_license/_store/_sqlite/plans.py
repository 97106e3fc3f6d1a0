"""Reclaim plans and reclaim actions on SQLite.

Implements :class:`~saas_license._store._protocol.PlanStore`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import attrs

from ..._convert import converter
from ..._errors import StoreError
from ..._reclaim.records import HeldItem, PlanItem, ReclaimAction, ReclaimPlan
from ..._time import format_instant
from .base import SqliteBaseStore, _batched, _dt, _dumps

__all__ = ["SqlitePlanStore"]

#: Plan items written per ``executemany``.
_PLAN_BATCH = 500


class SqlitePlanStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.PlanStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def save_plan(self, plan: ReclaimPlan) -> None:
        """Store a reclaim plan under its id (which must be set, with ``expires_at``).

        The items go in one row each, a batch at a time: the plan is never turned into one
        JSON document as a whole (memory, issue 13).
        """
        if plan.id is None or plan.expires_at is None:
            raise StoreError("a stored reclaim plan needs an id and an expiry")
        head = converter.unstructure(attrs.evolve(plan, items=(), held=()))
        with self.transaction():
            self._q(
                "INSERT INTO reclaim_plans (id, profile, created_at, expires_at, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    plan.id,
                    plan.profile,
                    format_instant(plan.created_at),
                    format_instant(plan.expires_at),
                    _dumps(head),
                ),
            )
            for part, items in (("items", plan.items), ("held", plan.held)):
                for batch in _batched(enumerate(items), _PLAN_BATCH):
                    self._db.executemany(
                        "INSERT INTO reclaim_plan_items (plan_id, part, seq, data) "
                        "VALUES (?, ?, ?, ?)",
                        [(plan.id, part, i, _dumps(converter.unstructure(it))) for i, it in batch],
                    )

    def get_plan(self, plan_id: str) -> tuple[ReclaimPlan, dt.datetime | None] | None:
        """A stored plan and when it was applied (None = not yet)."""
        row = self._q(
            "SELECT data, applied_at FROM reclaim_plans WHERE id = ?", (plan_id,)
        ).fetchone()
        if row is None:
            return None
        plan = converter.structure(json.loads(row[0]), ReclaimPlan)
        if not plan.items and not plan.held:  # stored item by item (older plans: inline)
            plan = attrs.evolve(
                plan,
                items=tuple(self.iter_plan_items(plan_id)),
                held=tuple(self.iter_plan_items(plan_id, held=True)),
            )
        return plan, _dt(row[1])

    def plan_exists(self, plan_id: str) -> bool:
        """Whether a plan with this id is stored."""
        return (
            self._q("SELECT 1 FROM reclaim_plans WHERE id = ?", (plan_id,)).fetchone() is not None
        )

    def plan_items(
        self, plan_id: str, *, held: bool = False, limit: int = 500, after: int = -1
    ) -> list[tuple[int, PlanItem | HeldItem]]:
        """One page of a stored plan's items (``held``: the candidates it holds back), as
        (position, item) after position ``after``: review a plan without loading it whole."""
        cls: type[PlanItem | HeldItem] = HeldItem if held else PlanItem
        rows = self._q(
            "SELECT seq, data FROM reclaim_plan_items WHERE plan_id = ? AND part = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (plan_id, "held" if held else "items", after, limit),
        ).fetchall()
        return [(r[0], converter.structure(json.loads(r[1]), cls)) for r in rows]

    def iter_plan_items(self, plan_id: str, *, held: bool = False) -> Iterator[Any]:
        """Every item of a stored plan (or every held one), read a page at a time."""
        after = -1
        while page := self.plan_items(plan_id, held=held, after=after):
            for _, item in page:
                yield item
            after = page[-1][0]

    def mark_plan_applied(self, plan_id: str, at: dt.datetime) -> bool:
        """Mark a plan applied; False if it already was (a plan is applied at most once)."""
        with self.transaction():
            cur = self._q(
                "UPDATE reclaim_plans SET applied_at = ? WHERE id = ? AND applied_at IS NULL",
                (format_instant(at), plan_id),
            )
            return cur.rowcount == 1

    def add_reclaim_action(self, action: ReclaimAction) -> ReclaimAction:
        """Record one vendor reclaim call; returns it with its id."""
        data = converter.unstructure(action)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "INSERT INTO reclaim_actions (profile, external_user_id, at, status, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    action.profile,
                    action.external_user_id,
                    format_instant(action.at),
                    action.status,
                    _dumps(data),
                ),
            )
        return converter.structure({**data, "id": cur.lastrowid}, ReclaimAction)

    def update_reclaim_action(self, action: ReclaimAction) -> None:
        """Replace a stored reclaim action (after an undo)."""
        data = converter.unstructure(action)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "UPDATE reclaim_actions SET status = ?, data = ? WHERE id = ?",
                (action.status, _dumps(data), action.id),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no reclaim action with id {action.id}")

    def get_reclaim_action(self, action_id: int) -> ReclaimAction | None:
        """One reclaim action by id."""
        row = self._q("SELECT id, data FROM reclaim_actions WHERE id = ?", (action_id,)).fetchone()
        if row is None:
            return None
        return converter.structure({**json.loads(row["data"]), "id": row["id"]}, ReclaimAction)

    def list_reclaim_actions(
        self, profile: str | None = None, *, limit: int = 1000
    ) -> list[ReclaimAction]:
        """Reclaim actions, oldest first."""
        sql, params = "SELECT id, data FROM reclaim_actions", []
        if profile is not None:
            sql += " WHERE profile = ?"
            params.append(profile)
        rows = self._q(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclaimAction)
            for r in rows
        ]

    def unresolved_reclaim_actions(self, profile: str) -> list[ReclaimAction]:
        """Reclaims whose outcome was never seen (``requested``: the process died; ``unknown``)."""
        rows = self._q(
            "SELECT id, data FROM reclaim_actions WHERE profile = ? "
            "AND status IN ('requested', 'unknown') ORDER BY id",
            (profile,),
        )
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclaimAction)
            for r in rows
        ]

    def reclaims_to_verify(self, profile: str) -> list[ReclaimAction]:
        """Confirmed reclaims (seats free) not yet verified by a download, nor undone, nor
        reappeared: what the next complete download checks."""
        rows = self._q(
            "SELECT id, data FROM reclaim_actions WHERE profile = ? "
            "AND status IN ('success', 'already_done') "
            "AND json_extract(data, '$.verified_at') IS NULL "
            "AND json_extract(data, '$.reappeared_at') IS NULL "
            "AND json_extract(data, '$.undone_at') IS NULL ORDER BY id",
            (profile,),
        )
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclaimAction)
            for r in rows
        ]
