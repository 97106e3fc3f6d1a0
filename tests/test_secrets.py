"""Secrets never leak: reprs, files, the database, CLI output and logs."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from saas_license import Secret, Workspace
from saas_license._secrets import SecretStore
from saas_license.http import BearerAuth

from .conftest import API_KEY


def test_secret_hides_its_value() -> None:
    s = Secret("hunter2-abc")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in f"{s}"
    assert s.reveal() == "hunter2-abc"
    assert "hunter2" not in repr(BearerAuth(s))
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(s)


def test_secret_file_is_owner_only(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "s.json")
    store.set("alias/a/api_key", Secret("v1"))
    mode = stat.S_IMODE(os.stat(tmp_path / "s.json").st_mode)
    assert mode == 0o600
    assert store.get("alias/a/api_key") == Secret("v1")
    assert list(store.names()) == ["alias/a/api_key"]


_WRITER = """
import sys
from saas_license._secrets import Secret, SecretStore
store = SecretStore(sys.argv[1])
for i in range(40):
    store.set(f"alias/{sys.argv[2]}-{i}/api_key", Secret(f"v{i}"))
store.delete(f"alias/{sys.argv[2]}-0/api_key")
"""


def test_concurrent_writers_never_lose_each_others_secrets(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"w{n}"])  # noqa: S603 - fixed argv
        for n in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    names = set(SecretStore(path).names())
    assert names == {f"alias/w{n}-{i}/api_key" for n in range(4) for i in range(1, 40)}
    assert stat.S_IMODE(os.stat(path.with_name("secrets.json.write-lock")).st_mode) == 0o600


def test_api_key_never_reaches_db_reprs_or_logs(
    published: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    report = published.jobs.run("aha")
    assert published.path is not None
    raw = b"".join(
        p.read_bytes() for p in published.path.parent.glob("ws.db*") if "secrets" not in p.name
    )
    assert API_KEY.encode() not in raw
    for text in (
        repr(published.profiles.context("aha")),
        repr(report),
        caplog.text,
        repr(published.audit.query()),
    ):
        assert API_KEY not in text


def test_an_in_memory_workspace_removes_its_scratch_directory_on_close() -> None:
    """``Workspace.open(":memory:")`` keeps its secrets in a scratch directory; closing removes it."""
    from saas_license import Workspace

    ws = Workspace.open(":memory:")
    folder = ws.secrets.path.parent
    assert folder.is_dir()
    ws.close()
    assert not folder.exists()
