"""What the CLI does around bad input: tracebacks only with -vv, exit codes from the error tree,
big changes confirmed, long lists summarised, vendor text neutralised, workspaces not invented."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result

from saas_license import RunInProgressError, Workspace
from saas_license.cli import _cmd_rules, cli, exit_code_for
from saas_license.cli._output import echo_table, safe

from .conftest import dump

RM = "Aha! Roadmaps"


def _invoke(ws: Path, *args: str, input: str = "") -> Result:
    return CliRunner().invoke(cli, ["--workspace", str(ws), *args], input=input)


def test_an_unexpected_exception_is_one_line_and_minus_vv_shows_the_traceback(
    ws_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Workspace, "candidates", boom)
    quiet = _invoke(ws_path, "candidates")
    assert quiet.exit_code == 1
    assert quiet.stderr.splitlines() == [
        "error: unexpected RuntimeError: boom — run again with -vv for the traceback and report it"
    ]
    loud = CliRunner().invoke(cli, ["-vv", "--workspace", str(ws_path), "candidates"])
    assert loud.exit_code == 1 and "Traceback (most recent call last)" in loud.stderr
    assert loud.stderr.rstrip().splitlines()[-1].startswith("error: unexpected RuntimeError")


def test_exit_codes_come_from_the_error_tree(
    ws_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*_a: object, **_k: object) -> None:
        raise RunInProgressError("profile aha is running", hint="try again later")

    monkeypatch.setattr(Workspace, "plan", busy)
    result = _invoke(ws_path, "reclaim", "aha")
    assert result.exit_code == 75 and result.stderr.startswith("error: profile aha is running")
    assert exit_code_for(FileNotFoundError(2, "No such file or directory", "x")) == 2
    assert exit_code_for(KeyError("x")) == 1


def test_a_corrupted_workspace_is_one_line(ws_path: Path) -> None:
    con = sqlite3.connect(ws_path)
    con.execute("DROP TABLE candidates")
    con.commit()
    con.close()
    for args in (("candidates", "--json"), ("reconcile",)):
        result = _invoke(ws_path, *args)
        assert result.exit_code == 1, result.output
        assert len(result.stderr.splitlines()) == 1 and "no such table" in result.stderr


def test_a_file_that_is_not_a_workspace_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("shopping list\n")
    result = _invoke(notes, "rules")
    assert result.exit_code == 1 and "is not a database" in result.stderr
    assert notes.read_text() == "shopping list\n"


def test_creating_commands_and_create_make_a_workspace(tmp_path: Path) -> None:
    fresh = tmp_path / "new" / "w.db"
    assert _invoke(fresh, "rules").exit_code == 2 and not fresh.exists()
    assert _invoke(fresh, "--create", "rules").exit_code == 0 and fresh.exists()
    other = tmp_path / "other.db"
    result = CliRunner().invoke(cli, ["rules", "--workspace", str(other), "--create"])
    assert result.exit_code == 0 and other.exists()
    made = tmp_path / "alias.db"
    result = _invoke(
        made, "alias", "add", "local", "--spoke", "aha", "--url", "http://127.0.0.1:8080"
    )
    assert result.exit_code == 0, result.output  # loopback http is allowed, and alias add creates


def test_spokes_needs_no_workspace(tmp_path: Path) -> None:
    nowhere = tmp_path / "none.db"
    result = _invoke(nowhere, "spokes")
    assert result.exit_code == 0 and "aha.audits (true or false" in result.stdout
    assert not nowhere.exists()


def test_a_big_rule_change_is_shown_and_confirmed(
    ws_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dump(ws_path)
    monkeypatch.setattr(_cmd_rules, "_interactive", lambda: True)
    declined = _invoke(ws_path, "rules", "set", RM, "--inactivity-days", "1", input="n\n")
    assert declined.exit_code != 0 and "seats would become candidates" in declined.stderr
    assert dump(ws_path) == before
    accepted = _invoke(ws_path, "rules", "set", RM, "--inactivity-days", "1", input="y\n")
    assert accepted.exit_code == 0 and "seats would become candidates" in accepted.stderr
    assert "Exclusion rules" not in accepted.stdout  # rules set shows the rule it set
    monkeypatch.setattr(_cmd_rules, "_interactive", lambda: False)
    free = "Aha! Reviewer & Viewer (free)"
    forced = _invoke(ws_path, "rules", "set", free, "--inactivity-days", "30", "--yes")
    assert forced.exit_code == 0 and "is a free model" in forced.stderr


def test_long_lists_are_summarised_on_a_terminal_and_complete_in_json(ws_path: Path) -> None:
    everything = json.loads(_invoke(ws_path, "candidates", "--json").stdout)["candidates"]
    assert len(everything) > 10
    short = _invoke(ws_path, "candidates", "--limit", "5")
    assert short.exit_code == 0
    assert f"… and {len(everything) - 5} more of {len(everything)}" in short.stdout
    assert len(short.stdout.splitlines()) < 12
    full = _invoke(ws_path, "candidates", "--limit", "0")
    assert all(c["user_principal_name"] in full.stdout for c in everything)
    plan = _invoke(ws_path, "reclaim", "aha", "--limit", "3")
    assert plan.exit_code == 0 and "more of" in plan.stdout
    assert len(plan.stdout.splitlines()) < 20
    every_row = _invoke(ws_path, "reclaim", "aha", "--all")
    assert len(every_row.stdout.splitlines()) > len(plan.stdout.splitlines())


def test_vendor_text_cannot_drive_the_terminal(
    ws_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = Workspace.candidates

    def hostile(self: Workspace, *a: object, **k: object) -> list[object]:
        found = real(self, *a, **k)  # type: ignore[arg-type]
        return [attrs.evolve(found[0], user_principal_name="evil\x1b[2J\x1b]0;pwned\x07@x.test")]

    monkeypatch.setattr(Workspace, "candidates", hostile)
    result = _invoke(ws_path, "candidates")
    assert "\x1b" not in result.stdout and "\\x1b[2J" in result.stdout
    assert "\x1b" not in json.dumps(json.loads(_invoke(ws_path, "candidates", "--json").stdout))
    assert safe("Zoë 日本 o'neil") == "Zoë 日本 o'neil"
    assert safe("a\u202eb\rc") == "a\\u202eb\\x0dc"
    echo_table(["name"], [["x\x9by"]])
    assert "\\x9b" in capsys.readouterr().out


def test_profile_options_round_trip(ws_path: Path) -> None:
    assert _invoke(ws_path, "profile", "edit", "aha", "--option", "aha.audits=true").exit_code == 0
    with Workspace.open(ws_path, create=False) as ws:
        assert ws.profile("aha").options == {"aha.audits": True}
    assert _invoke(ws_path, "profile", "edit", "aha", "--option", "aha.audits=").exit_code == 0
    with Workspace.open(ws_path, create=False) as ws:
        assert ws.profile("aha").options == {}


def test_entitlement_import_reports_progress(ws_path: Path, tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    csv.write_text(
        "software_model,purchased_rights,unit_cost,currency,start\n"
        + "".join(f"{RM},{i % 50 + 1},59.00,USD,2026-01-01\n" for i in range(2500)),
        encoding="utf-8",
    )
    seen: list[int] = []
    with Workspace.open(ws_path, create=False) as ws:
        saved = ws.import_entitlements(csv, progress=seen.append)
    assert len(saved) == 2500 and seen == [999, 1999]
