"""Connection aliases: list/show/delete (library and CLI) and child aliases that inherit."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import saas_license_aha.plugin as aha_plugin
from saas_license import ConfigError, HttpOptions, Workspace
from saas_license._plugins import SpokeRegistry
from saas_license._secrets import SecretStore
from saas_license._store._sqlite import SqliteStore
from saas_license.cli import main
from saas_license_aha.sandbox import SandboxApp

from ..conftest import API_KEY


@pytest.fixture
def two_spokes(sandbox: SandboxApp, now: object) -> Iterator[Workspace]:
    """A workspace with the Aha! spoke installed under two names, ``aha`` and ``aha2``."""
    registry = SpokeRegistry(load_entry_points=False)
    registry.register(aha_plugin, name="aha")
    copy = type("AhaCopy", (), {})()
    for hook in (n for n in dir(aha_plugin) if n.startswith("saas_license_")):
        setattr(copy, hook, getattr(aha_plugin, hook))
    registry.register(copy, name="aha2")
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(
            SqliteStore(":memory:"),
            secrets=SecretStore(Path(tmp) / "secrets.json"),
            spokes=registry,
            http=HttpOptions(transport=sandbox.transport(), rate_limit=False),
        )
        yield ws
        ws.close()


def test_a_child_inherits_url_and_credentials_and_can_run(workspace: Workspace) -> None:
    ws = workspace
    ws.profiles.add_alias("parent", spoke="aha", base_url="https://acme.aha.io", api_key=API_KEY)
    child = ws.profiles.add_alias("child", parent="parent")  # spoke, URL and key inherited
    assert child.spoke == "aha" and child.base_url == "" and child.inherits_url
    ctx = ws.profiles.context(ws.profiles.create("p", spoke="aha", alias="child"))
    assert ctx.alias.base_url == "https://acme.aha.io"
    assert ctx.credentials["api_key"].reveal() == API_KEY
    assert ws.profiles.validate("p").download_ok  # the inherited key really works
    d = ws.profiles.describe_alias("child")
    assert d.base_url == "https://acme.aha.io" and d.url_from == "parent"
    assert [(c.kind, c.alias, c.inherited) for c in d.credentials] == [("api_key", "parent", True)]
    assert API_KEY not in repr(d)
    # the inheritance is live: the parent moves, the child follows
    ws.profiles.add_alias("parent", spoke="aha", base_url="https://moved.aha.io")
    assert ws.profiles.context("p").alias.base_url == "https://moved.aha.io"
    assert ws.profiles.context("p").credentials["api_key"].reveal() == API_KEY


def test_a_child_overrides_url_and_credentials(workspace: Workspace) -> None:
    ws = workspace
    ws.profiles.add_alias("parent", spoke="aha", base_url="https://acme.aha.io", api_key="wrong")
    ws.profiles.add_alias(
        "child", parent="parent", base_url="https://other.aha.io/", api_key=API_KEY
    )
    ctx = ws.profiles.context(ws.profiles.create("p", spoke="aha", alias="child"))
    assert ctx.alias.base_url == "https://other.aha.io"
    assert ctx.credentials["api_key"].reveal() == API_KEY
    d = ws.profiles.describe_alias("child")
    assert d.url_from == "child" and [c.inherited for c in d.credentials] == [False]
    assert ws.profiles.describe_alias("parent").children == ("child",)


def test_a_childs_spoke_must_match_its_parents(two_spokes: Workspace) -> None:
    ws = two_spokes
    ws.profiles.add_alias("parent", spoke="aha", base_url="https://acme.aha.io")
    with pytest.raises(ConfigError) as err:
        ws.profiles.add_alias("child", spoke="aha2", parent="parent")
    assert err.value.field == "alias.spoke"
    assert "'aha2'" in str(err.value) and "parent 'parent'" in str(err.value)
    assert ws.store.get_alias("child") is None
    ws.profiles.add_alias("child", spoke="aha", parent="parent")
    with pytest.raises(ConfigError) as err:  # one level only
        ws.profiles.add_alias("grandchild", parent="child")
    assert err.value.field == "alias.parent" and "'parent'" in (err.value.hint or "")
    with pytest.raises(ConfigError) as err:
        ws.profiles.add_alias("orphan", spoke="aha")  # no URL and no parent to inherit from
    assert err.value.field == "alias.base_url"
    with pytest.raises(ConfigError) as err:
        ws.profiles.add_alias("x", parent="nope")
    assert err.value.field == "alias.parent" and "parent" in str(err.value)


def test_delete_refuses_an_alias_in_use_and_removes_its_secrets(workspace: Workspace) -> None:
    ws = workspace
    ws.profiles.add_alias("a", spoke="aha", base_url="https://acme.aha.io", api_key=API_KEY)
    ws.profiles.add_alias("kid", parent="a")
    ws.profiles.create("p1", spoke="aha", alias="a")
    ws.profiles.create("p2", spoke="aha", alias="a")
    with pytest.raises(ConfigError, match=r"used by profile\(s\) p1, p2"):
        ws.profiles.delete_alias("a")
    ws.profiles.delete("p1")
    ws.profiles.delete("p2")
    with pytest.raises(ConfigError, match=r"parent of child alias\(es\) kid"):
        ws.profiles.delete_alias("a")
    assert ws.store.get_alias("a") is not None and "alias/a/api_key" in set(ws.secrets.names())
    ws.profiles.delete_alias("kid")
    ws.profiles.delete_alias("a", actor="tester")
    assert [a.name for a in ws.profiles.aliases()] == []
    assert not [k for k in ws.secrets.names() if k.startswith("alias/a/")]
    (entry,) = ws.audit.query(action="alias.deleted", entity_id="a")
    assert entry.actor == "tester"


def _cli(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(["--workspace", str(ws), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_alias_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "w.db"
    monkeypatch.setenv("KEY", "s3cret-value-123")
    code, _, err = _cli(
        capsys,
        ws,
        "alias",
        "add",
        "main",
        "--spoke",
        "aha",
        "--url",
        "https://acme.aha.io",
        "--api-key-env",
        "KEY",
    )
    assert code == 0, err
    code, _, err = _cli(capsys, ws, "alias", "add", "kid", "--parent", "main")
    assert code == 0, err
    code, _, err = _cli(capsys, ws, "alias", "add", "lone", "--spoke", "aha")
    assert code == 2 and "--url" in err
    code, _, err = _cli(capsys, ws, "profile", "create", "p", "--spoke", "aha", "--alias", "kid")
    assert code == 0, err
    code, out, _ = _cli(capsys, ws, "alias", "list")
    assert code == 0 and "s3cret" not in out
    line = next(x for x in out.splitlines() if x.strip().startswith("kid"))
    assert "https://acme.aha.io (inherited)" in line and "api_key (from main)" in line
    assert line.rstrip().endswith("p")
    code, out, _ = _cli(capsys, ws, "alias", "show", "kid")
    assert code == 0 and "s3cret" not in out
    assert "url: https://acme.aha.io (inherited from main)" in out
    assert "credential api_key: set (inherited from main; secrets file" in out
    assert "used by profiles: p" in out
    code, out, _ = _cli(capsys, ws, "alias", "show", "main", "--json")
    data = json.loads(out)["alias"]
    assert data["children"] == ["kid"] and data["credentials_set"] is True
    assert "s3cret" not in out
    code, _, err = _cli(capsys, ws, "alias", "delete", "kid")  # refused without asking
    assert code == 2 and err.strip() == (
        "error: alias: alias 'kid' is used by profile(s) p — delete those profiles first "
        "(or keep the alias)"
    )
    code, _, err = _cli(capsys, ws, "alias", "show", "nope")
    assert code == 2 and "no connection alias named 'nope' (aliases: kid, main)" in err
    assert _cli(capsys, ws, "profile", "delete", "p", "--yes")[0] == 0
    code, out, err = _cli(capsys, ws, "alias", "delete", "kid", "--yes")
    assert code == 0 and "alias kid deleted" in out, err
    code, out, _ = _cli(capsys, ws, "alias", "list", "--json")
    assert [a["name"] for a in json.loads(out)["aliases"]] == ["main"]
