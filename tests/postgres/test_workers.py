"""Many workers, each job once: 4 worker processes ("hosts") share one PostgreSQL workspace
of 50 published profiles; one is SIGKILLed mid-run. Every profile runs exactly once in its due
period (a day, counted in the organisation's time zone), the dead worker's profile is taken
over once its heartbeat expires, and a plan applied by 4 processes at once is applied once."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from saas_license import JobStatus, Workspace
from saas_license._time import format_instant, utcnow
from saas_license_aha.sandbox import SandboxApp, SandboxServer

from ..lifecycle.conftest import small_account
from .fixtures import PgSchema

pytestmark = pytest.mark.postgres

PROFILES = 50
WORKERS = 4
ZONE = "America/New_York"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shared(pg_schema: PgSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment every worker host shares: the URLs and one secrets file."""
    env = {
        "SAAS_LICENSE_POSTGRES_OWNER_URL": pg_schema.owner_url,
        "SAAS_LICENSE_SECRETS": str(tmp_path / "secrets.json"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**env, "WORKERS_URL": pg_schema.app_url}


def _worker(n: int, env: dict[str, str], *, kill_at: str | None = None) -> subprocess.Popen[str]:
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_LICENSE_KILL")}
    run_env.update(env, WORKER_HOST=f"worker-{n}", PYTHONPATH=str(ROOT))
    if kill_at:
        run_env["SAAS_LICENSE_KILL_AT"] = kill_at
    return subprocess.Popen(
        [sys.executable, "-m", "tests.postgres.worker"],
        env=run_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_workers_run_each_profile_once_and_replace_a_killed_one(
    shared: dict[str, str],
) -> None:
    t0 = utcnow()
    key = "workers-key-0123456789"
    app = SandboxApp(small_account(t0), api_keys=[key])
    server = SandboxServer(app).start()
    try:
        ws = Workspace.open(shared["WORKERS_URL"], clock=lambda: t0)
        ws.profiles.add_alias("aha-main", spoke="aha", base_url=server.base_url, api_key=key)
        names = [f"p{i:03d}" for i in range(PROFILES)]
        for name in names:
            ws.profiles.create(name, spoke="aha", alias="aha-main")
            assert ws.profiles.validate(name).download_ok
            ws.profiles.publish(name)
        assert sorted(ws.jobs.due()) == names
        ws.close()

        env = {
            **shared,
            "WORKERS_T0": format_instant(t0),
            "WORKERS_WALL0": repr(time.time()),
            "WORKERS_TZ": ZONE,
        }
        # worker 0 dies (SIGKILL, no clean-up) while evaluating its second profile
        procs = [
            _worker(n, env, kill_at="run.in_evaluate:2" if n == 0 else None) for n in range(WORKERS)
        ]
        outs = [p.communicate(timeout=150) for p in procs]
        assert procs[0].returncode == -9, outs[0][1][-2000:]
        for p, (_, err) in zip(procs[1:], outs[1:], strict=True):
            assert p.returncode == 0, err[-2000:]
        ran_by = collections.Counter(
            json.loads(line)["host"]
            for out, _ in outs
            for line in out.splitlines()
            if json.loads(line)["status"] == "complete"
        )
        statuses = collections.Counter(
            json.loads(line)["status"] for out, _ in outs for line in out.splitlines()
        )
        assert set(statuses) <= {"complete", "taken", "in_progress"}, statuses
        # (worker 0 died inside its round, before printing it: the store has the full count)
        assert len(ran_by) >= 2, f"the work was not shared: {ran_by}"

        ws = Workspace.open(shared["WORKERS_URL"], clock=utcnow)
        try:
            zone = ZoneInfo(ZONE)
            abandoned, finished = [], {}
            for name in names:
                # a daily cycle is complete when its last step (evaluate) is
                cycles = [j for j in ws.jobs.query(name, limit=100) if j.process == "evaluate"]
                complete = [j for j in cycles if j.status is JobStatus.COMPLETE]
                days = collections.Counter(j.started_at.astimezone(zone).date() for j in complete)
                assert list(days.values()) == [1], f"{name}: complete cycles per day {days}"
                abandoned += [(name, j) for j in cycles if j.status is JobStatus.ABANDONED]
                finished[name] = complete[0]
                assert not [j for j in cycles if j.status is JobStatus.RUNNING], name
                assert not ws.jobs.due() or name not in ws.jobs.due()
            # the killed worker's run: abandoned by the worker that took its profile over
            assert len(abandoned) == 1, abandoned
            victim, dead = abandoned[0]
            # replaced only once the dead run's heartbeat expired: 5 s after its last beat, which
            # came at most one heartbeat period (1 s) before it died (another "host": no pid check)
            assert (finished[victim].started_at - dead.started_at).total_seconds() >= 4
            assert ws.store.get_run_lock(victim) is None
            assert ws.audit.verify().ok
        finally:
            ws.close()
    finally:
        server.stop()


def test_a_plan_applied_by_four_processes_at_once_is_applied_once(
    shared: dict[str, str],
) -> None:
    key = "workers-key-0123456789"
    app = SandboxApp(small_account(utcnow()), api_keys=[key])
    puts: collections.Counter[str] = collections.Counter()

    def counting(request: Any) -> Any:
        if request.method == "PUT" and b'"enabled":false' in request.content.replace(b" ", b""):
            puts[request.url.path.rsplit("/", 1)[-1]] += 1
        return app(request)

    server = SandboxServer(app)
    server._server.app = counting  # type: ignore[assignment]  # count the vendor's disables
    server.start()
    try:
        ws = Workspace.open(shared["WORKERS_URL"])
        ws.profiles.add_alias("aha-main", spoke="aha", base_url=server.base_url, api_key=key)
        ws.profiles.create("aha", spoke="aha", alias="aha-main")
        assert ws.profiles.validate("aha").download_ok
        ws.profiles.publish("aha")
        ws.jobs.run("aha")
        plan = ws.plans.create("aha")
        assert plan.items, "the small account has idle seats to reclaim"
        ws.close()

        env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_LICENSE_KILL")}
        env.update(shared, SAAS_LICENSE_WORKSPACE=shared["WORKERS_URL"], PYTHONPATH=str(ROOT))
        procs = [
            subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                [
                    sys.executable,
                    "-c",
                    "from saas_license.cli import main; main()",
                    "reclaim",
                    "aha",
                    "--apply",
                    str(plan.id),
                    "--yes",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        codes = sorted(p.returncode for p in procs)
        assert codes.count(0) == 1, (codes, [e[-500:] for _, e in outs])
        assert all(
            "already" in err or "meanwhile" in err or "running" in err
            for p, (_, err) in zip(procs, outs, strict=True)
            if p.returncode != 0
        ), [e for _, e in outs]
        disabled = {u["id"] for u in app.users() if u.get("enabled") is False}
        assert disabled and set(puts) == disabled
        assert all(n == 1 for n in puts.values()), puts  # no seat reclaimed twice
        ws = Workspace.open(shared["WORKERS_URL"])
        try:
            applied = [e for e in ws.audit.query(profile="aha") if e.action == "plan.applied"]
            assert len(applied) <= 1
            assert ws.audit.verify().ok
        finally:
            ws.close()
    finally:
        server.stop()
