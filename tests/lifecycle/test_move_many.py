"""``CandidateWorkflow.move_many`` (how a run stores its cancellations and skips) leaves the
store exactly as one ``move`` per candidate would: the same candidates, the same audit entries,
chains that verify; and a batch that cannot be moved whole changes nothing."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from saas_license import CandidateState, Workspace
from saas_license._candidates.records import OPEN_STATES
from saas_license._candidates.states import CandidateEvent, InvalidTransitionError
from saas_license.cli import main

PINNED = "2026-06-01T12:00:00Z"
LATER = dt.datetime(2026, 6, 2, 9, 30, tzinfo=dt.timezone.utc)
EVENTS = (CandidateEvent.ACTIVITY_RETURNED, CandidateEvent.PROTECTED, CandidateEvent.VANISHED)


@pytest.fixture
def demo_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("SAAS_LICENSE_NOW", PINNED)
    source = tmp_path / "demo.db"
    main(["--workspace", str(source), "demo", "--users", "200", "--json"])  # exits only on error
    with Workspace.open(source) as ws:  # a price for one model: a completed reclaim's savings
        ws.finance.add_entitlement(
            "Aha! Roadmaps",
            purchased_rights=10,
            unit_cost="149.00",
            currency="USD",
            start="2026-01-01",
        )
    with sqlite3.connect(source) as db:  # some reclaims under way: a vanished seat completes them
        db.execute(
            "UPDATE candidates SET state = 'awaiting_revocation' WHERE id % 5 = 0 AND state IN "
            "('proposed', 'notified', 'ready')"
        )
    copies = tmp_path / "one.db", tmp_path / "many.db"
    for target in copies:
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
    return copies


def _state(path: Path) -> tuple[list[object], list[tuple[object, ...]]]:
    with Workspace.open(path) as ws:
        candidates = ws.store.list_candidates()
        assert ws.audit.verify().ok
    with sqlite3.connect(path) as db:
        audit = db.execute("SELECT * FROM audit_log ORDER BY seq, rowid").fetchall()
    return list(candidates), audit


def test_move_many_stores_what_one_move_each_would(demo_copies: tuple[Path, Path]) -> None:
    one, many = demo_copies
    with Workspace.open(one, clock=lambda: LATER) as ws:
        open_ = ws.store.list_candidates(states=OPEN_STATES)
        assert len(open_) > 20 and len({c.state for c in open_}) >= 1
        moves = [(c, EVENTS[n % 3], f"reason {n}") for n, c in enumerate(open_)]
        for candidate, event, reason in moves:
            ws.candidates.workflow.move(candidate, event, actor="system", reason=reason)
    with Workspace.open(many, clock=lambda: LATER) as ws:
        # ids or candidates, in batches of any size: the same stored result
        moved = ws.candidates.workflow.move_many(
            [(c.id or 0, e, r) for c, e, r in moves[:7]], actor="system"
        )
        moved += ws.candidates.workflow.move_many(moves[7:], actor="system")
        assert [c.id for c in moved] == [c.id for c, _, _ in moves]
        assert {c.state for c in moved} == {
            CandidateState.CLOSED_CANCELED,
            CandidateState.CLOSED_SKIPPED,
            CandidateState.CLOSED_COMPLETE,
        }
        assert any(c.actual_savings for c in moved)
    assert _state(one) == _state(many)


def test_a_batch_with_a_move_that_cannot_happen_changes_nothing(
    demo_copies: tuple[Path, Path],
) -> None:
    one, _ = demo_copies
    before = _state(one)
    with Workspace.open(one) as ws:
        first, second = ws.store.list_candidates(states=OPEN_STATES)[:2]
        with pytest.raises(InvalidTransitionError):
            ws.candidates.workflow.move_many(
                [
                    (first, CandidateEvent.ACTIVITY_RETURNED, "ok"),
                    (second, CandidateEvent.ACTIVITY_RETURNED, "ok"),
                    (first, CandidateEvent.ACTIVITY_RETURNED, "again: already closed"),
                ],
                actor="system",
            )
    assert _state(one) == before
