"""A workspace's parts are made on first use, once per workspace, even when threads ask for
one at the same time (the web console and the service serve from threads)."""

from __future__ import annotations

import threading

from saas_license import Workspace
from saas_license._workspace.facade import _Part

PARTS = [name for name, value in vars(Workspace).items() if isinstance(value, _Part)]


def test_every_part_is_one_object_per_workspace_across_threads() -> None:
    assert len(PARTS) == 13
    ws = Workspace.open(":memory:")
    try:
        barrier = threading.Barrier(8)
        seen: list[dict[str, object]] = []

        def ask() -> None:
            barrier.wait()
            seen.append({name: getattr(ws, name) for name in PARTS})

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(seen) == 8
        for name in PARTS:
            assert len({id(s[name]) for s in seen}) == 1, name
            assert getattr(ws, name) is seen[0][name]
        other = Workspace.open(":memory:")
        try:
            assert all(getattr(other, n) is not getattr(ws, n) for n in PARTS)
        finally:
            other.close()
    finally:
        ws.close()


def test_a_part_is_made_by_its_class_on_first_use() -> None:
    ws = Workspace.open(":memory:")
    try:
        assert "finance" not in vars(ws)
        finance = ws.finance
        assert type(finance).__name__ == "Finance" and vars(ws)["finance"] is finance
    finally:
        ws.close()
