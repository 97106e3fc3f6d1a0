"""A PostgreSQL URL nobody answers at: one line, exit 1, the password never shown (no server
needed: nothing listens on the port)."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from saas_license.cli import cli


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = f"postgresql://app:hunter2-secret@127.0.0.1:{_closed_port()}/licenses"
    done = CliRunner().invoke(cli, ["--workspace", url, "rules"])
    assert done.exit_code == 1
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: cannot connect to the workspace database"
    )
    assert "hunter2-secret" not in done.output and "app:***@127.0.0.1" in done.output


def test_the_url_survives_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SAAS_LICENSE_WORKSPACE", f"postgresql://app@127.0.0.1:{_closed_port()}/licenses"
    )
    done = CliRunner().invoke(cli, ["rules"])
    assert done.exit_code == 1 and "postgresql://app@127.0.0.1:" in done.output  # "//" kept
