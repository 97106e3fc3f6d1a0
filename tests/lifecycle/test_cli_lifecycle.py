"""The lifecycle from the command line, against the Aha! sandbox served on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from saas_license._jobs import RunLock
from saas_license._store._sqlite import SqliteStore
from saas_license._time import utcnow
from saas_license.cli import main
from saas_license_aha.sandbox import SandboxApp, SandboxServer

from .conftest import SMALL_ACCOUNT_ROADMAPS_CANDIDATES, small_account

KEY = "cli-lifecycle-key-42"


def _cli(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(["--workspace", str(ws), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[Path, SandboxApp]]:
    """A published profile ``aha`` in a workspace file, talking HTTP to a local sandbox."""
    app = SandboxApp(small_account(utcnow()), api_keys=[KEY])
    ws = tmp_path / "ws.db"
    monkeypatch.setenv("AHA_KEY", KEY)
    with SandboxServer(app) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        for args in (
            [
                *("alias", "add", "aha-main", "--spoke", "aha"),
                *("--url", server.base_url, "--api-key-env", "AHA_KEY"),
            ],
            ["profile", "create", "aha", "--spoke", "aha", "--alias", "aha-main"],
            ["validate", "aha"],
            ["publish", "aha"],
        ):
            code, _, err = _cli(capsys, ws, *args)
            assert code == 0, err
        yield ws, app


def test_cron_runs_what_is_due_and_read_commands_speak_json(
    served: tuple[Path, SandboxApp], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = served
    code, out, _ = _cli(capsys, ws, "jobs", "--scheduled", "--json")
    assert code == 0 and json.loads(out)["due"] == ["aha"]
    code, out, _ = _cli(capsys, ws, "run", "--due", "--json")
    (run,) = json.loads(out)["runs"]
    assert code == 0 and run["status"] == "complete" and run["report"]["candidates_created"] == 8
    code, out, _ = _cli(capsys, ws, "run", "--due")
    assert code == 0 and "nothing is due" in out
    code, out, _ = _cli(capsys, ws, "jobs", "--json")
    jobs = json.loads(out)["jobs"]
    assert {j["process"] for j in jobs} == {"download", "activity", "evaluate"}
    assert {j["trigger"] for j in jobs} == {"schedule"}
    code, out, _ = _cli(capsys, ws, "candidates", "--json")
    data = json.loads(out)
    assert len(data["candidates"]) == 8 and data["savings"]["open_candidates"] == 8
    code, out, _ = _cli(capsys, ws, "models", "--json")
    models = {m["name"]: m["subscriptions"] for m in json.loads(out)["software_models"]}
    assert models["Aha! Roadmaps"] == 9
    code, out, _ = _cli(capsys, ws, "rules", "--json")
    assert {r["software_model"] for r in json.loads(out)["reclamation_rules"]} == {
        "Aha! Roadmaps",
        "Aha! Develop",
        "Aha! Teamwork",
    }
    code, out, _ = _cli(capsys, ws, "audit", "--json", "--action", "profile.")
    actions = [e["action"] for e in json.loads(out)["audit"]]
    assert actions == ["profile.created", "profile.validated", "profile.published"]
    code, _, err = _cli(capsys, ws, "run")
    assert code == 2 and "exactly one" in err


def test_rules_plan_apply_cap_undo(
    served: tuple[Path, SandboxApp],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws, app = served
    assert _cli(capsys, ws, "run", "aha")[0] == 0
    code, out, _ = _cli(
        capsys, ws, "rules", "exclude", "--domain", "partner.test", "--effect", "reclaim"
    )
    assert code == 0 and "exclusion rule 1 added" in out
    code, _, err = _cli(capsys, ws, "rules", "set", "Aha! Roadmaps", "--inactivity-days", "0")
    assert code == 2 and "reclamation_rule.inactivity_days" in err and "Traceback" not in err
    code, out, _ = _cli(capsys, ws, "reclaim", "aha", "--json")
    plan = json.loads(out)
    assert code == 0 and plan["id"] and plan["dry_run"] is True
    planned_users = {i["subscription"]["user_principal_name"] for i in plan["items"]}
    assert "dee@partner.test" not in planned_users and len(planned_users) == 5
    assert all(u["enabled"] for u in app.users())  # planning changed nothing
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, _, err = _cli(capsys, ws, "reclaim", "aha", "--apply", plan["id"], "--cap", "2")
    assert code == 130 and all(u["enabled"] for u in app.users())  # declined at the prompt
    code, out, _ = _cli(
        capsys, ws, "reclaim", "aha", "--apply", plan["id"], "--cap", "2", "--yes", "--json"
    )
    report = json.loads(out)
    reclaimed = [o for o in report["outcomes"] if o["outcome"] == "reclaimed"]
    assert code == 0 and 1 <= len(reclaimed) <= 2
    assert sum(not u["enabled"] for u in app.users()) == len(
        {o["user_principal_name"] for o in reclaimed}
    )
    code, _, err = _cli(capsys, ws, "reclaim", "aha", "--apply", plan["id"], "--yes")
    assert code == 1 and "already applied" in err
    cid = reclaimed[0]["candidate_id"]
    code, out, _ = _cli(capsys, ws, "undo", str(cid), "--yes")
    assert code == 0 and "success" in out
    assert all(
        u["enabled"] for u in app.users() if u["email"] == reclaimed[0]["user_principal_name"]
    )
    code, out, _ = _cli(capsys, ws, "candidates", "show", str(cid), "--json")
    history = [e["action"] for e in json.loads(out)["history"]]
    assert history == [
        "candidate.created",
        "candidate.start",
        "candidate.reclaimed",
        "candidate.undone",
    ]
    code, out, _ = _cli(capsys, ws, "audit", "--action", "vendor.")
    assert "vendor.reclaim.requested" in out and "vendor.restore.success" in out
    code, out, _ = _cli(capsys, ws, "reclaim", "aha")
    assert "seats to reclaim" in out and "apply it" in out and "--apply" in out


def test_candidate_actions_and_outbox(
    served: tuple[Path, SandboxApp], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = served
    assert _cli(capsys, ws, "run", "aha")[0] == 0
    code, _, _ = _cli(
        capsys, ws, "rules", "set", "Aha! Roadmaps", "--notify", "--days-before-auto-reclaim", "3"
    )
    assert code == 0
    # answer links need the service's address; a "keep" needs an approver to go to
    assert _cli(capsys, ws, "settings", "set", "public_url", "https://licenses.acme.test")[0] == 0
    assert _cli(capsys, ws, "approvers", "set", "Software managers", "sam@acme.test")[0] == 0
    code, out, _ = _cli(capsys, ws, "reclaim", "aha", "--json")
    plan = json.loads(out)
    notices = [i for i in plan["items"] if i["kind"] == "notify"]
    assert len(notices) == SMALL_ACCOUNT_ROADMAPS_CANDIDATES  # one per idle Roadmaps seat
    code, out, _ = _cli(capsys, ws, "reclaim", "aha", "--apply", plan["id"], "--yes")
    assert code == 0 and "notified" in out
    code, out, _ = _cli(capsys, ws, "outbox", "--json")
    pending = json.loads(out)["notifications"]
    assert len(pending) == SMALL_ACCOUNT_ROADMAPS_CANDIDATES and {n["status"] for n in pending} == {
        "pending"
    }
    cid = pending[0]["candidate_ids"][0]
    code, out, _ = _cli(capsys, ws, "candidates", "keep", str(cid), "--by", "ana@acme.test")
    assert code == 0 and "awaiting_approval" in out
    code, out, _ = _cli(capsys, ws, "candidates", "decline", str(cid), "999")
    assert code == 1 and "closed_canceled" in out  # the good id is done; the bad one is reported
    code, out, _ = _cli(capsys, ws, "candidates", "--state", "closed_canceled", "--json")
    (canceled,) = json.loads(out)["candidates"]
    assert canceled["id"] == cid and canceled["keep_until"]
    code, out, _ = _cli(capsys, ws, "audit", "--candidate", str(cid), "--json")
    assert [e["actor"] for e in json.loads(out)["audit"]][-2] == "ana@acme.test"


def test_profile_edit_delete_and_the_lock(
    served: tuple[Path, SandboxApp], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = served
    store = SqliteStore(ws)
    now = utcnow()
    store.acquire_run_lock(
        RunLock(
            profile="aha",
            owner="another-run",
            host=socket.gethostname(),
            pid=os.getpid(),
            acquired_at=now,
            expires_at=now + dt.timedelta(hours=1),
        ),
        now=now,
    )
    code, _, err = _cli(capsys, ws, "run", "aha")
    assert code == 75 and "already running" in err
    code, out, err = _cli(capsys, ws, "run", "--all")
    # a skipped busy profile is never a silent success: named on stderr, exit 75
    assert code == 75 and "another run is in progress" in out
    assert "busy: skipped aha" in err
    code, out, _ = _cli(capsys, ws, "jobs", "unlock", "aha")
    assert code == 0 and "removed" in out
    store.close()
    assert _cli(capsys, ws, "run", "aha")[0] == 0
    code, out, _ = _cli(capsys, ws, "profile", "edit", "aha", "--no-activity")
    assert code == 0 and "back to draft" in out
    code, _, err = _cli(capsys, ws, "run", "aha")
    assert code == 1 and "only published profiles run" in err
    code, out, _ = _cli(capsys, ws, "profile", "show", "aha", "--json")
    assert json.loads(out)["profile"]["status"] == "draft"
    code, out, _ = _cli(capsys, ws, "profile", "delete", "aha", "--yes")
    assert code == 0 and "8 open candidates closed as skipped" in out
    code, out, _ = _cli(capsys, ws, "candidates", "--all", "--json")
    assert {c["state"] for c in json.loads(out)["candidates"]} == {"closed_skipped"}


def test_jobs_shows_quarantined_records_and_reconcile_stands_alone(
    served: tuple[Path, SandboxApp], capsys: pytest.CaptureFixture[str]
) -> None:
    """A vendor record the core cannot trust is shown by ``jobs``; ``--reconcile`` reports."""
    ws, app = served
    user = app.user("2003")
    user["accessed_at"] = "2999-01-01T00:00:00Z"  # in the future: quarantined, seat untouched
    app.set_user(user)
    code, out, err = _cli(capsys, ws, "run", "aha")
    assert code == 0, err
    assert "1 spoke record(s) quarantined" in out
    code, out, _ = _cli(capsys, ws, "jobs", "--profile", "aha")
    assert code == 0
    assert "quarantined spoke records" in out and "last_activity" in out and "2003" in out
    code, out, _ = _cli(capsys, ws, "jobs", "--profile", "aha", "--json")
    (q,) = json.loads(out)["quarantined"]
    assert (q["spoke"], q["external_user_id"], q["field"]) == ("aha", "2003", "last_activity")
    code, out, err = _cli(capsys, ws, "reclaim", "aha", "--reconcile")
    assert code == 0, err
    assert "0 abandoned job(s), 0 reclaim(s) of unknown outcome" in out
    code, _, err = _cli(capsys, ws, "reclaim", "aha", "--reconcile", "--apply", "x")
    assert code == 2 and "--reconcile stands alone" in err
