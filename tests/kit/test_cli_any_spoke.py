"""``saas-license sandbox serve --spoke NAME`` serves any spoke's sandbox (here one built with the kit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
#: Start the CLI with one more installed spoke: ``acme``, from tests/kit/acme_plugin.py, registered
#: as an installed distribution registers it (a ``*.dist-info`` with ``entry_points.txt``).
BOOT = "from saas_license.cli import main; main()"


def _installed_acme(site: Path) -> Path:
    info = site / "acme_spoke-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-spoke\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text("[saas_license]\nacme = tests.kit.acme_plugin\n")
    return site


def _cli(tmp: Path, *args: str) -> subprocess.Popen[str]:
    site = _installed_acme(tmp / "site")
    path = os.pathsep.join(filter(None, [str(site), str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-c", BOOT, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_sandbox_serve_serves_another_spokes_kit_sandbox(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "sandbox", "serve", "--spoke", "acme", "--users", "23", "--port", "0")
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("Acme sandbox serving 23 users"), lines
        base = lines[1].split()[-1]
        assert base.startswith("http://127.0.0.1:") and "acme-key" in lines[2]
        with httpx.Client(base_url=base, headers={"X-Api-Key": "acme-key"}) as client:
            body = client.get("/users", params={"offset": 20, "limit": 10}).json()
            denied = client.get("/users", headers={"X-Api-Key": "wrong"})
        assert body["total"] == 23 and len(body["users"]) == 3
        assert denied.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_another_spokes_options_are_refused(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "sandbox", "serve", "--spoke", "acme", "--port", "0", "--api-key", "x")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "--api-key is not an option of spoke 'acme'" in err
