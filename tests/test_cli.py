"""The CLI: the demo end to end over real HTTP on 127.0.0.1, sandbox serve, and error reporting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from saas_license.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


#: The demo's clock is pinned (``SAAS_LICENSE_NOW``), so its account and verdicts are exact.
PINNED = "2026-06-01T12:00:00Z"


def test_demo_json_is_stable_across_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAAS_LICENSE_NOW", PINNED)
    ws = str(tmp_path / "demo.db")
    code, out, _ = _run(capsys, "--workspace", ws, "demo", "--users", "300", "--json")
    assert code == 0
    first = json.loads(out)
    assert {"subscriptions", "candidates", "workspace"} <= set(first)
    assert first["workspace"] == str(Path(ws).resolve())
    assert first["subscriptions"]["total"] == 345
    assert first["verdicts"] == {
        "active": 146,
        "administrator": 15,
        "idle": 103,
        "new_account_grace": 13,
        "no_rule": 68,
    }
    assert first["candidates"]["open"] == first["plan"]["seats"] == 103
    assert first["plan"]["dry_run"] is True
    code, out, _ = _run(capsys, "--workspace", ws, "demo", "--users", "300", "--json")
    second = json.loads(out)
    assert second["subscriptions"] == first["subscriptions"]
    assert second["candidates"]["open"] == first["candidates"]["open"]
    assert second["candidates"]["created_this_run"] == 0


def test_demo_text_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAAS_LICENSE_WORKSPACE", str(tmp_path / "env.db"))
    code, out, _ = _run(capsys, "demo", "--users", "200")
    assert code == 0
    assert "Subscriptions per software model" in out and "Aha! Roadmaps" in out
    assert "dry run — nothing was changed" in out
    assert str(tmp_path / "env.db") in out
    code, out, _ = _run(capsys, "candidates", "--json")
    assert code == 0 and json.loads(out)["candidates"]
    code, out, _ = _run(capsys, "jobs", "--json")
    assert {j["process"] for j in json.loads(out)["jobs"]} == {"download", "activity", "evaluate"}


def test_a_bad_pinned_clock_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAAS_LICENSE_NOW", "2026-06-01 12:00")  # no zone: not an instant
    code, out, err = _run(capsys, "--workspace", str(tmp_path / "w.db"), "demo", "--users", "50")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: SAAS_LICENSE_NOW: '2026-06-01 12:00' is not an ISO-8601 instant with a time zone"
        " — use e.g. 2026-11-30T00:00:00Z, or unset it for the real clock"
    ]
    assert not (tmp_path / "w.db").exists()


def test_errors_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "w.db")
    code, _, err = _run(capsys, "--workspace", ws, "--create", "validate", "nope")
    assert code == 2 and err.startswith("error: profile: no profile named 'nope'")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "validate", "nope", "--workspace", ws)  # after the subcommand
    assert code == 2 and err.startswith("error: profile: no profile named 'nope'")


def test_sandbox_serve_is_usable_by_any_http_client(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from saas_license.cli import main; main()",
            "sandbox",
            "serve",
            "--users",
            "250",
            "--port",
            "0",
            "--api-key",
            "k3y",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        base = next(line.split()[-1] for line in lines if line.startswith("base URL"))
        assert base.startswith("http://127.0.0.1:")
        assert "k3y" in "".join(lines)
        ids: set[str] = set()
        page = 1
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer k3y"}) as client:
            while True:
                body = client.get("/api/v1/users", params={"page": page, "per_page": 100}).json()
                ids.update(u["id"] for u in body["users"])
                if page >= body["pagination"]["total_pages"]:
                    break
                page += 1
            assert (
                client.get("/api/v1/me", headers={"Authorization": "Bearer wrong"}).status_code
                == 401
            )
        assert len(ids) == 250
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_restores_its_profile_if_someone_edited_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAAS_LICENSE_NOW", PINNED)
    ws = str(tmp_path / "demo.db")
    assert _run(capsys, "--workspace", ws, "demo", "--users", "150", "--json")[0] == 0
    code, _, _ = _run(capsys, "--workspace", ws, "profile", "edit", "aha-demo", "--no-activity")
    assert code == 0
    code, out, _ = _run(capsys, "--workspace", ws, "demo", "--users", "150", "--json")
    assert code == 0
    summary = json.loads(out)
    assert [j["process"] for j in summary["jobs"]] == ["download", "activity", "evaluate"]
    assert summary["plan"]["reclaim"] == summary["candidates"]["open"] == 51


def test_main_gives_one_line_and_the_documented_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "w.db")
    code, _, err = _run(capsys, "--workspace", ws, "--create", "rules", "set")
    assert code == 2 and err.splitlines() == [
        "error: Missing argument 'SOFTWARE_MODEL'. — see `saas-license rules set --help`"
    ]
    code, _, err = _run(capsys, "--workspace", str(tmp_path / "typo.db"), "rules")
    assert code == 2 and err.startswith("error: workspace: no workspace at ")
    assert not (tmp_path / "typo.db").exists()
    assert not Path(ws).exists()  # refused before anything was opened
    code, out, _ = _run(capsys, "--workspace", ws, "--create", "rules")
    assert code == 0 and "Reclamation rules" in out and Path(ws).exists()


def test_a_reader_that_goes_away_ends_the_output_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`saas-license candidates --all | head -1`: no 'Broken pipe' error, exit 0."""
    monkeypatch.setenv("SAAS_LICENSE_NOW", PINNED)
    ws = str(tmp_path / "demo.db")
    assert _run(capsys, "--workspace", ws, "demo", "--users", "3000", "--json")[0] == 0
    proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [
            *(sys.executable, "-c", "from saas_license.cli import main; main()"),
            *("--workspace", ws, "candidates", "--all"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().split()[:2] == [b"id", b"profile"]
    proc.stdout.close()  # the reader goes away with more than a pipe's buffer still to come
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""
