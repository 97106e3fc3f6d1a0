"""Console users: scrypt hashes at the real cost, names and passwords checked, every change
audited, and the ``users`` commands (password from a prompt or the environment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from saas_license import ConfigError, Workspace
from saas_license.cli import cli, main
from saas_license.web import Role, Users
from saas_license.web._users import hash_password, verify_password


def test_hashes_are_salted_scrypt_at_the_real_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real cost, not the tests' cheap one
    first, second = hash_password("a long passphrase"), hash_password("a long passphrase")
    assert first != second  # salted
    assert first.startswith("scrypt$32768$8$1$")
    assert verify_password("a long passphrase", first)
    assert not verify_password("a long passphrasE", first)
    assert not verify_password("a long passphrase", "md5$whatever")


def test_users_are_checked_and_every_change_is_audited(workspace: Workspace) -> None:
    users = Users(workspace)
    users.add("ana@example.com", role="approver", password="twelve chars!", actor="ops")
    assert users.check("ana@example.com", "twelve chars!") is not None
    assert users.check("ana@example.com", "wrong") is None
    with pytest.raises(ConfigError, match="too short"):
        users.add("bob", role="viewer", password="short")
    with pytest.raises(ConfigError, match="not a role"):
        users.add("bob", role="root", password="long enough pass")
    with pytest.raises(ConfigError, match="not a usable user name"):
        users.add("<script>", role="viewer", password="long enough pass")
    with pytest.raises(ConfigError, match="exists already"):
        users.add("ana@example.com", role="viewer", password="long enough pass")
    users.add("sso-only", role=Role.VIEWER, password=None)
    assert users.check("sso-only", "") is None  # no password: only through the proxy header
    users.set_role("ana@example.com", Role.ADMIN)
    users.remove("sso-only")
    assert [(u.name, u.role) for u in users.all()] == [("ana@example.com", Role.ADMIN)]
    actions = [(e.action, e.actor) for e in workspace.audit.query(action="web.")]
    assert actions == [
        ("web.user_added", "ops"),
        ("web.user_added", "user"),
        ("web.user_role", "user"),
        ("web.user_removed", "user"),
    ]
    text = json.dumps([e.after for e in workspace.audit.query(action="web.")])
    assert "scrypt" not in text  # no hash in the audit log


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_users_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = str(tmp_path / "ws.db")
    Workspace.open(ws).close()
    monkeypatch.setenv("SAAS_LICENSE_USER_PASSWORD", "from the environment")
    assert _cli(capsys, "--workspace", ws, "users", "add", "ops", "--role", "admin")[0] == 0
    monkeypatch.delenv("SAAS_LICENSE_USER_PASSWORD")
    typed = CliRunner().invoke(
        cli,
        ["--workspace", ws, "users", "add", "eve", "--role", "viewer"],
        input="typed passphrase\ntyped passphrase\n",
    )
    assert typed.exit_code == 0 and "added eve (viewer)" in typed.output, typed.output
    assert "typed passphrase" not in typed.output  # the prompt hides what is typed
    assert _cli(capsys, "--workspace", ws, "users", "role", "eve", "approver")[0] == 0
    code, out, _ = _cli(capsys, "--workspace", ws, "users", "--json")
    assert json.loads(out)["users"] == [
        {"name": "eve", "role": "approver"},
        {"name": "ops", "role": "admin"},
    ]
    with Workspace.open(ws, create=False) as opened:
        assert Users(opened).check("ops", "from the environment") is not None
        assert Users(opened).check("eve", "typed passphrase") is not None
    monkeypatch.setenv("SAAS_LICENSE_USER_PASSWORD", "short")
    code, _, err = _cli(capsys, "--workspace", ws, "users", "password", "eve")
    assert code == 2 and "error: password: the password is too short" in err
    code, _, err = _cli(capsys, "--workspace", ws, "users", "remove", "nobody")
    assert code == 2 and "no console user called 'nobody'" in err
    assert _cli(capsys, "--workspace", ws, "users", "remove", "eve")[0] == 0
