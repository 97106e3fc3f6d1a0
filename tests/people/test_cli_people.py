"""The CLI's settings, approvers and auto-reclaim commands: checked values, one-line errors,
secrets read from the environment only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from saas_license._secrets import SecretStore

from ..lifecycle.test_cli_lifecycle import _cli, served  # noqa: F401 - the fixture


def test_settings_approvers_and_auto_reclaim(
    served: tuple[Path, object],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws, _ = served
    code, _, err = _cli(capsys, ws, "settings", "set", "public_url", "http://licenses.example.com")
    assert code == 2 and "public_url" in err and "unencrypted" in err
    assert (
        _cli(capsys, ws, "settings", "set", "public_url", "https://licenses.example.com/")[0] == 0
    )
    code, out, _ = _cli(capsys, ws, "settings", "--json")
    assert json.loads(out) == {"public_url": "https://licenses.example.com"}
    monkeypatch.setenv("MY_SMTP_PASSWORD", "s3cret-smtp-password")
    code, out, _ = _cli(capsys, ws, "settings", "smtp-password", "--from-env", "MY_SMTP_PASSWORD")
    assert code == 0 and "s3cret" not in out
    secrets = SecretStore(str(ws) + ".secrets.json")
    stored = secrets.get("smtp/password")
    assert stored is not None and stored.reveal() == "s3cret-smtp-password"
    code, _, err = _cli(capsys, ws, "approvers", "set", "Software managers", "not-an-address")
    assert code == 2 and "e-mail address" in err
    assert _cli(capsys, ws, "approvers", "set", "Software managers", "sam@acme.test")[0] == 0
    code, out, _ = _cli(capsys, ws, "approvers", "--json")
    assert json.loads(out) == {"groups": {"Software managers": ["sam@acme.test"]}}
    code, out, _ = _cli(capsys, ws, "auto-reclaim", "aha")
    assert code == 0 and "automatic reclaim is off" in out
    code, out, _ = _cli(capsys, ws, "auto-reclaim", "aha", "--on", "--max-per-run", "3")
    assert code == 0 and "at most 3 seats a run" in out
    code, _, err = _cli(capsys, ws, "auto-reclaim", "aha", "--max-per-day", "0")
    assert code == 2 and "auto_reclaim.max_per_day" in err
    code, out, _ = _cli(capsys, ws, "validate", "aha")
    assert "automatic reclaim is on" in out
