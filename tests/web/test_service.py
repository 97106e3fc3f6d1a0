"""The service: the scheduler catches up after downtime without running a missed day twice,
one scheduler per workspace, and ``saas-license serve`` as a real process on a real port
(scheduler and pages together, a second instance refused, SIGTERM ends it cleanly)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from saas_license import Workspace
from saas_license._service import Scheduler, SchedulerBusyError
from saas_license._time import utcnow
from saas_license.cli import main
from saas_license_aha.sandbox import SandboxApp, SandboxServer

from ..lifecycle.conftest import small_account


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_after_downtime_each_profile_runs_once_not_once_per_missed_day(
    published: Workspace, now: dt.datetime
) -> None:
    clock = Clock(now)
    ws = Workspace.open(published.path, create=False, http=published.http, clock=clock)
    try:
        scheduler = Scheduler(ws)
        first = scheduler.tick()
        assert first.jobs is not None and [(r.profile, r.status) for r in first.jobs.runs] == [
            ("aha", "complete")
        ]
        assert scheduler.tick().jobs.runs == ()  # type: ignore[union-attr]  # not due again
        runs_before = {j.run_id for j in ws.jobs.query("aha", limit=1000)}
        clock.now = now + dt.timedelta(days=5, hours=3)  # the service was down for five days
        caught_up = scheduler.tick()
        assert [r.status for r in caught_up.jobs.runs] == ["complete"]  # type: ignore[union-attr]
        assert scheduler.tick().jobs.runs == ()  # type: ignore[union-attr]
        runs = {j.run_id for j in ws.jobs.query("aha", limit=1000)} - runs_before
        assert len(runs) == 1  # one run for the five missed days
        for job in ws.jobs.schedules("aha"):
            assert clock.now < job.next_run_at <= clock.now + job.interval
        assert ws.store.get_meta("service.last_tick") == clock.now.strftime("%Y-%m-%d %H:%M UTC")
    finally:
        ws.close()


def test_one_scheduler_per_workspace(published: Workspace) -> None:
    path = published.path
    first, second = Workspace.open(path, create=False), Workspace.open(path, create=False)
    try:
        with (
            Scheduler(first).hold(),
            pytest.raises(
                SchedulerBusyError, match="the scheduler of this workspace is already running"
            ),
            Scheduler(second).hold(),
        ):
            pass  # pragma: no cover - never reached
        with Scheduler(second).hold():  # free again once the first stopped
            pass
    finally:
        first.close()
        second.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(ws: Path, *args: str) -> int:
    try:
        main(["--workspace", str(ws), *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _wait_for(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.communicate()}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def test_serve_runs_the_scheduler_and_the_pages_and_stops_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "serve-key-0123456789"
    sandbox = SandboxApp(small_account(utcnow()), api_keys=[key])
    ws = tmp_path / "ws.db"
    monkeypatch.setenv("AHA_KEY", key)
    monkeypatch.setenv("SAAS_LICENSE_USER_PASSWORD", "serve test passphrase")
    with SandboxServer(sandbox) as server:
        for args in (
            (
                "alias",
                "add",
                "aha-main",
                "--spoke",
                "aha",
                "--url",
                server.base_url,
                "--api-key-env",
                "AHA_KEY",
            ),
            ("profile", "create", "aha", "--spoke", "aha", "--alias", "aha-main"),
            ("validate", "aha"),
            ("publish", "aha"),
            ("users", "add", "ops", "--role", "admin"),
        ):
            assert _cli(ws, *args) == 0, args
        port = _free_port()
        cmd = [
            sys.executable,
            "-c",
            "from saas_license.cli import main; main()",
            "--workspace",
            str(ws),
            "serve",
            "--port",
            str(port),
            "--tick",
            "1",
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(  # noqa: S603 - our own command line
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            assert _wait_for(f"http://127.0.0.1:{port}/healthz", proc).text == "ok"
            # the scheduler ran the due profile against the sandbox on its own
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with Workspace.open(ws, create=False) as check:
                    if any(
                        j.trigger == "schedule" and j.status.value == "complete"
                        for j in check.jobs.query("aha")
                    ):
                        break
                time.sleep(0.2)
            else:
                proc.send_signal(signal.SIGTERM)
                raise AssertionError(
                    f"the scheduler did not run the due profile: {proc.communicate()}"
                )
            page = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"].startswith("/signin")
            # a second service on the same workspace refuses to start its scheduler
            second = subprocess.run(  # noqa: S603
                [*cmd[:-4], "--port", str(_free_port())],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
            )
            assert second.returncode == 75, second
            assert "the scheduler of this workspace is already running" in second.stderr
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopped" in out
        # the service lock is released
        with Workspace.open(ws, create=False) as after, Scheduler(after).hold():
            pass
