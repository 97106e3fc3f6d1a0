"""``saas-license serve`` on a PostgreSQL workspace: its scheduler runs the due profile, the
pages answer, a second service on another "host" is refused the scheduler, SIGTERM ends it."""

from __future__ import annotations

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
from saas_license._time import utcnow
from saas_license.cli import main
from saas_license_aha.sandbox import SandboxApp, SandboxServer

from ..lifecycle.conftest import small_account
from .fixtures import PgSchema

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(url: str, *args: str) -> int:
    try:
        main(["--workspace", url, *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_serve_on_postgres(
    pg_schema: PgSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("uvicorn")
    key = "serve-key-0123456789"
    url = pg_schema.app_url
    for name, value in {
        "SAAS_LICENSE_POSTGRES_OWNER_URL": pg_schema.owner_url,
        "SAAS_LICENSE_SECRETS": str(tmp_path / "secrets.json"),
        "AHA_KEY": key,
        "SAAS_LICENSE_USER_PASSWORD": "serve test passphrase",
    }.items():
        monkeypatch.setenv(name, value)
    sandbox = SandboxApp(small_account(utcnow()), api_keys=[key])
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
                "--create",
            ),
            ("profile", "create", "aha", "--spoke", "aha", "--alias", "aha-main"),
            ("validate", "aha"),
            ("publish", "aha"),
            ("users", "add", "ops", "--role", "admin"),
        ):
            assert _cli(url, *args) == 0, args
        port = _free_port()
        cmd = [
            sys.executable,
            "-c",
            "from saas_license.cli import main; main()",
            "--workspace",
            url,
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
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, proc.communicate()
                try:
                    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok"
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "serve did not answer"
                    time.sleep(0.1)
            ran = False
            while not ran and time.monotonic() < deadline + 30:
                with Workspace.open(url, create=False) as check:
                    ran = any(
                        j.trigger == "schedule" and j.status.value == "complete"
                        for j in check.jobs.query("aha")
                    )
                time.sleep(0.2)
            assert ran, "the scheduler did not run the due profile"
            page = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=False)
            assert page.status_code == 303
            second = subprocess.run(  # noqa: S603 - our own command line
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
        assert pg_schema.app_url.split(":")[2].split("@")[0] not in out + err  # no password
    with Workspace.open(url, create=False) as after:
        assert after.audit.verify().ok
