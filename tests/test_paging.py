"""Candidates read a page at a time: the store's ``limit``/``after``, ``ws.candidates.iter`` and
``count``, and the CLI's ``--limit``/``--after`` pages and streamed ``--json`` (issue 13)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from saas_license import CandidateState, Workspace
from saas_license._candidates.records import OPEN_STATES
from saas_license.cli import main

PINNED = "2026-06-01T12:00:00Z"
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().out


@pytest.fixture
def demo_ws(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv("SAAS_LICENSE_NOW", PINNED)
    ws = str(tmp_path / "demo.db")
    code, _ = _run(capsys, "--workspace", ws, "demo", "--users", "300", "--json")
    assert code == 0
    return ws


def test_pages_put_together_are_the_whole_list(demo_ws: str) -> None:
    with Workspace.open(demo_ws) as ws:
        whole = ws.candidates.query(states=set(OPEN_STATES))
        assert len(whole) == ws.candidates.count(states=set(OPEN_STATES)) == 103
        pages, after = [], None
        while page := ws.candidates.query(states=set(OPEN_STATES), limit=10, after=after):
            assert len(page) <= 10
            pages.append(page)
            after = page[-1].id
        assert [c for p in pages for c in p] == whole
        assert len(pages) == 11
        assert list(ws.candidates.iter(states=set(OPEN_STATES), page_size=7)) == whole
        middle = whole[50].id
        assert list(ws.candidates.iter(states=set(OPEN_STATES), after=middle)) == whole[51:]
        assert ws.candidates.count(states=set(OPEN_STATES), after=middle) == 52
        assert ws.candidates.count(states={CandidateState.CLOSED_SKIPPED}) == 0


def test_pages_over_interleaved_states_are_the_whole_list(demo_ws: str) -> None:
    # candidates of every open state mixed by id: each page ends where the merged states say
    states = sorted(s.value for s in OPEN_STATES)
    with sqlite3.connect(demo_ws) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM candidates ORDER BY id")]
        db.executemany(
            "UPDATE candidates SET state = ? WHERE id = ?",
            [(states[(i * 7) % len(states)], cid) for i, cid in enumerate(ids)],
        )
    with Workspace.open(demo_ws) as ws:
        (profile,) = {c.profile for c in ws.candidates.query()}
        for picked in ({*OPEN_STATES}, {CandidateState(states[0]), CandidateState(states[2])}):
            whole = ws.candidates.query(profile, states=picked)
            assert len(whole) > 0 and len({c.state for c in whole}) == len(picked)
            for size in (1, 2, 3, 10, len(whole) - 1, len(whole), len(whole) + 5):
                pages, after = [], None
                while page := ws.candidates.query(profile, states=picked, limit=size, after=after):
                    assert len(page) <= size
                    pages.append(page)
                    after = page[-1].id
                assert [c for p in pages for c in p] == whole, size
                assert all(len(p) == size for p in pages[:-1]), size


def test_cli_pages_with_limit_and_after(demo_ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "--workspace", demo_ws, "candidates", "--limit", "40")
    assert code == 0
    ids = [int(line.split()[0]) for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(ids) == 40
    assert f"… and 63 more of 103 (next page: --after {ids[-1]};" in out
    code, out = _run(
        capsys, "--workspace", demo_ws, "candidates", "--limit", "100", "--after", str(ids[-1])
    )
    more = [int(line.split()[0]) for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(more) == 63 and more[0] > ids[-1] and "more of" not in out
    code, out = _run(capsys, "--workspace", demo_ws, "candidates", "--limit", "0")
    every = [int(line.split()[0]) for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert every == ids + more


def test_cli_json_is_streamed_but_whole_and_valid(
    demo_ws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, "--workspace", demo_ws, "candidates", "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data["candidates"]) == 103 and "potential" in data["savings"]
    with Workspace.open(demo_ws) as ws:
        assert [c["id"] for c in data["candidates"]] == [
            c.id for c in ws.candidates.query(states=set(OPEN_STATES))
        ]
    code, out = _run(
        capsys, "--workspace", demo_ws, "candidates", "--state", "closed_skipped", "--json"
    )
    assert json.loads(out)["candidates"] == []


def test_a_stored_plan_is_kept_item_by_item_and_read_in_pages(demo_ws: str) -> None:
    with Workspace.open(demo_ws, clock=lambda: NOW) as ws:
        plan = ws.plans.create("aha-demo")
        assert plan.id is not None and len(plan.items) + len(plan.held) == 103
        # one row per item; the plan's own row holds no item
        rows = ws.store._db.execute(
            "SELECT part, count(*) FROM reclaim_plan_items WHERE plan_id = ? GROUP BY part",
            (plan.id,),
        ).fetchall()
        assert dict(rows) == {
            k: v for k, v in (("items", len(plan.items)), ("held", len(plan.held))) if v
        }
        head = json.loads(
            ws.store._db.execute(
                "SELECT data FROM reclaim_plans WHERE id = ?", (plan.id,)
            ).fetchone()[0]
        )
        assert head["items"] == [] and head["held"] == []
        # read back whole (``load()``) and in pages (review and apply do): same items, same order
        stored, applied = ws.store.get_plan(plan.id)
        assert applied is None and stored == plan.load()
        pages, after = [], -1
        while page := ws.plans.items(plan.id, limit=9, after=after):
            pages.extend(item for _, item in page)
            after = page[-1][0]
        assert pages == list(plan.items)
        assert list(ws.plans.iter_items(plan.id, held=True)) == list(plan.held)


def test_a_plan_saved_inline_by_an_older_version_still_loads(demo_ws: str) -> None:
    import attrs

    from saas_license._convert import converter
    from saas_license._store._sqlite.base import _dumps

    with Workspace.open(demo_ws, clock=lambda: NOW) as ws:
        plan = attrs.evolve(ws.plans.create("aha-demo", save=False), id="old1")
        plan = attrs.evolve(plan, expires_at=plan.created_at)
        ws.store._db.execute(
            "INSERT INTO reclaim_plans (id, profile, created_at, expires_at, data) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                "old1",
                "demo",
                "2026-06-01T12:00:00.000Z",
                "2026-06-01T12:00:00.000Z",
                _dumps(converter.unstructure(plan)),
            ),
        )
        assert ws.store.get_plan("old1") == (plan, None)


def test_reviewing_an_unknown_plan_is_a_clear_error(demo_ws: str) -> None:
    from saas_license import ConfigError

    with Workspace.open(demo_ws) as ws, pytest.raises(ConfigError, match="no reclaim plan"):
        ws.plans.items("nope")
