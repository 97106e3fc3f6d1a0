"""What a daily ``saas-license run`` imports: nothing it does not use (start-up is a good part of
a small account's run, see docs/performance.md), so these stay out of its process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from saas_license_aha.sandbox import SandboxApp

from .conftest import API_KEY

#: Packages a dry-run daily cycle never needs: the web console, reports, reconciliation, CSV
#: imports, the PostgreSQL store, SMTP (no SMTP settings), OAuth2 (an API key), importlib's
#: distribution metadata (entry points are read directly) and httpx's own CLI (pygments); the
#: workspace's parts a run does not touch (finance, directory, answers, rules, plans) and
#: what they import (a directory's CSV checks, savings, rule impact), and the vendor calls of
#: a reclaim (a run only plans).
NOT_FOR_A_RUN = (
    "saas_license.web",
    "saas_license.reports",
    "saas_license._finance.reconciliation",
    "saas_license._finance.csv_import",
    "saas_license._finance.savings",
    "saas_license._workspace.finance",
    "saas_license._workspace.directory",
    "saas_license._workspace.answers",
    "saas_license._workspace.rules",
    "saas_license._workspace.plans",
    "saas_license._directory.resolution",
    "saas_license._directory.index",
    "saas_license._csvrows",
    "saas_license._rule_impact",
    "saas_license._reclaim.apply",
    "saas_license._reclaim.recheck",
    "csv",
    "saas_license._store._postgres",
    "saas_license.email._smtp",
    "saas_license.http._loopback",
    "smtplib",
    "jinja2",
    "starlette",
    "uvicorn",
    "psycopg",
    "oauthlib",
    "http.server",
    "importlib.metadata",
    "pygments",
    "pandas",
)

#: Runs the console entry point, then names on stderr the listed modules it imported.
WRAPPER = (
    "import atexit, sys\n"
    "watch = sys.argv.pop(1).split(',')\n"
    "atexit.register(lambda: print('IMPORTED:' + ','.join(m for m in watch if m in sys.modules),"
    " file=sys.stderr))\n"
    "from saas_license.cli import main\n"
    "sys.argv[0] = 'saas-license'\n"
    "main()\n"
)


@pytest.fixture
def served() -> Iterator[str]:
    app = SandboxApp(user_count=300, api_keys=[API_KEY], seed=3)
    with app.serve() as server:
        yield server.base_url


def _cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AHA_TEST_KEY": API_KEY, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    return subprocess.run(  # noqa: S603 - our interpreter, our CLI
        [sys.executable, "-c", WRAPPER, ",".join(NOT_FOR_A_RUN), f"--workspace={ws}", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_daily_run_imports_nothing_it_does_not_use(tmp_path: Path, served: str) -> None:
    ws = tmp_path / "ws.db"
    for step in (
        ["alias", "add", "a", "--spoke=aha", f"--url={served}", "--api-key-env=AHA_TEST_KEY"],
        ["profile", "create", "p", "--spoke=aha", "--alias=a"],
        ["validate", "p"],
        ["publish", "p"],
    ):
        done = _cli(ws, *step)
        assert done.returncode == 0, done.stderr
    run = _cli(ws, "run", "p")
    assert run.returncode == 0, run.stderr
    assert "download  complete" in run.stdout and "plan:" in run.stdout
    imported = run.stderr.strip().splitlines()[-1]
    assert imported == "IMPORTED:", f"a daily run imported {imported.split(':', 1)[1]}"
