"""``run --due`` on a shared workspace: a profile another worker ran after this one listed it
as due is not run again (the schedule is read again under the run lock), on both stores."""

from __future__ import annotations

import pytest

from saas_license import Workspace
from saas_license._workspace.jobs import Jobs

from .fixtures import STORES


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_profile_run_meanwhile_by_another_worker_is_taken_not_run_twice(
    published: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = published
    listed = ws.jobs.due()
    assert listed == ["aha"]
    ws.jobs.run("aha", trigger="schedule")  # another worker got there first
    monkeypatch.setattr(Jobs, "due", lambda self: listed)  # this worker's list, read before
    [result] = ws.jobs.run_due()
    assert result.status == "taken" and "already ran this period" in result.error
    downloads = [j for j in ws.jobs.query("aha") if j.process == "download"]
    assert len(downloads) == 1
    # --all still runs every published profile, due or not
    [forced] = ws.jobs.run_due(all_published=True)
    assert forced.status == "complete"
