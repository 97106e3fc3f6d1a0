"""The finance commands end to end on a workspace filled by a real run against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from saas_license import Workspace
from saas_license.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ws_path(published: Workspace) -> str:
    """A workspace after one daily run of the 120-user sandbox, as a path for the CLI."""
    published.jobs.run("aha")
    assert published.path is not None
    return str(published.path)


def test_entitlements_add_list_edit_retire(
    ws_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ("--workspace", ws_path)
    code, out, err = _run(
        capsys,
        *w,
        "entitlements",
        "add",
        "--model",
        "Aha! Roadmaps",
        "--rights",
        "40",
        "--unit-cost",
        "59.00",
        "--currency",
        "usd",
        "--period",
        "monthly",
        "--start",
        "2020-01-01",
        "--name",
        "RM-1",
    )
    assert code == 0, err
    assert "entitlement 1 added: 40 rights of Aha! Roadmaps at USD 59.00 monthly (in_use)" in out
    code, out, _ = _run(capsys, *w, "entitlements", "list", "--json")
    listed = json.loads(out)
    assert listed["name"] == "entitlements" and listed["as_of"]
    assert listed["rows"][0]["unit_cost"] == "59.00" and listed["rows"][0]["state"] == "in_use"
    code, out, _ = _run(
        capsys, *w, "entitlements", "edit", "1", "--rights", "45", "--end", "2099-12-31"
    )
    assert code == 0 and "purchased_rights" in out
    code, out, _ = _run(capsys, *w, "entitlements", "list", "--csv")
    assert out.splitlines()[0].startswith("id,name,software_model,profile,purchased_rights")
    assert ",45,59.00,USD,monthly,2020-01-01,2099-12-31,in_use," in out
    code, out, _ = _run(capsys, *w, "entitlements", "retire", "1", "--on", "2021-01-01")
    assert code == 0 and "retired from 2021-01-01" in out
    code, out, _ = _run(capsys, *w, "entitlements", "list", "--model", "Aha! Roadmaps")
    assert "retired" in out and "RM-1" in out
    code, out, _ = _run(capsys, *w, "entitlements", "list", "--model", "Aha! Develop", "--json")
    assert json.loads(out)["rows"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--unit-cost", "1.2.3"), "error: --unit-cost: '1.2.3' is not an amount"),
        (
            ("--currency", "dollars"),
            "error: --currency: 'dollars' is not an ISO 4217 currency code",
        ),
        (("--start", "yesterday"), "error: --start: 'yesterday' is not a date"),
        (("--model", "Aha! Nope"), "error: --model: no software model named 'Aha! Nope'"),
        (
            ("--rights", "-3"),
            "error: --rights: -3 is out of range — use a whole number from 0 to 10,000,000",
        ),
    ],
)
def test_bad_options_name_the_option(
    ws_path: str, capsys: pytest.CaptureFixture[str], args: tuple[str, str], message: str
) -> None:
    good = {
        "--model": "Aha! Roadmaps",
        "--rights": "1",
        "--unit-cost": "1",
        "--currency": "USD",
        "--start": "2020-01-01",
    }
    good[args[0]] = args[1]
    flat = [x for kv in good.items() for x in kv]
    code, _, err = _run(capsys, "--workspace", ws_path, "entitlements", "add", *flat)
    assert code == 2 and err.startswith(message), err
    assert "Traceback" not in err


def test_import_reports_lines_and_imports_nothing(
    ws_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "software_model,purchased_rights,unit_cost,currency,start\n"
        "Aha! Roadmaps,10,59,USD,2020-01-01\n"
        "Aha! Roadmaps,10,59.5.5,USD,2020-01-01\n",
        encoding="utf-8",
    )
    code, _, err = _run(capsys, "--workspace", ws_path, "entitlements", "import", str(bad))
    assert code == 2
    assert f"{bad}:3: unit_cost: '59.5.5' is not an amount" in err
    assert "nothing was imported" in err
    code, out, _ = _run(capsys, "--workspace", ws_path, "entitlements", "list", "--json")
    assert json.loads(out)["rows"] == []
    good = tmp_path / "good.csv"
    good.write_text(bad.read_text().replace("59.5.5", "59.50"), encoding="utf-8")
    code, out, _ = _run(capsys, "--workspace", ws_path, "entitlements", "import", str(good))
    assert code == 0 and "imported 2 entitlements" in out


def test_reconcile_outputs(ws_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    w = ("--workspace", ws_path)
    _run(
        capsys,
        *w,
        "entitlements",
        "add",
        "--model",
        "Aha! Roadmaps",
        "--rights",
        "1000",
        "--unit-cost",
        "100",
        "--currency",
        "EUR",
        "--start",
        "2020-01-01",
    )
    code, out, _ = _run(capsys, *w, "reconcile")
    assert code == 0 and "reconciliation as of" in out and "EUR per year" in out
    code, out, _ = _run(capsys, *w, "reconcile", "--json", "--save")
    document = json.loads(out)
    models = {r["software_model"]: r for r in document["tables"]["models"]["rows"]}
    roadmaps = models["Aha! Roadmaps"]
    assert roadmaps["rights_owned"] == 1000 and roadmaps["compliant"] is True
    assert roadmaps["rights_used"] + roadmaps["rights_available"] == 1000
    assert roadmaps["over_licensed_amount"] == f"{roadmaps['rights_available'] * 100}.00"
    code, out, _ = _run(capsys, *w, "reconcile", "--table", "activity", "--csv")
    assert out.splitlines()[0] == (
        "software_model,days_0_30,days_30_60,days_60_90,days_90_plus,never,as_of"
    )
    code, _, err = _run(capsys, *w, "reconcile", "--csv")
    assert code == 2 and err.startswith("error: --table:")
    code, _, err = _run(capsys, *w, "reconcile", "--every", "7")
    assert code == 0 and "not due" in err  # saved a moment ago


def test_report_writes_html_json_and_csv(
    ws_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html, doc, csv_dir = tmp_path / "r.html", tmp_path / "r.json", tmp_path / "tables"
    code, out, err = _run(
        capsys,
        "--workspace",
        ws_path,
        "report",
        "--html",
        str(html),
        "--json",
        str(doc),
        "--csv",
        str(csv_dir),
    )
    assert code == 0, err
    assert out.count("wrote ") == 2 + len(list(csv_dir.glob("*.csv")))
    page = html.read_text(encoding="utf-8")
    for chart in ("utilisation", "activity", "savings", "opportunities"):
        assert f'data-chart="{chart}"' in page
    # self-contained: no scripts, no external stylesheets, images or fonts, no URLs to fetch
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert "url(" not in page
    assert page.count("http") == page.count('xmlns="http://www.w3.org/2000/svg"')
    assert set(json.loads(doc.read_text())["tables"]) == {p.stem for p in csv_dir.glob("*.csv")}
    code, _, err = _run(capsys, "--workspace", ws_path, "report")
    assert code == 2 and err.startswith("error: --html: nothing to write")


def test_reconcile_lists_the_idlest_opportunities_and_writes_every_one(
    ws_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A terminal shows the idlest ``--limit``; --csv, --json and --all page through every one,
    in the order ``ws.finance.opportunities`` pages them."""
    w = ("--workspace", ws_path)
    with Workspace.open(ws_path) as ws:
        every = list(ws.finance.iter_opportunities(page_size=4))
        counted = ws.finance.reconcile(opportunity_limit=2)
        assert ws.finance.opportunities(limit=2) == list(counted.opportunities)
    total = counted.opportunity_count
    assert total == len(every) > 5  # the sandbox's idle users have open candidates
    ids = [str(o.candidate_id) for o in every]
    code, out, _ = _run(capsys, *w, "reconcile", "--table", "opportunities", "--limit", "3")
    assert code == 0 and f"… and {total - 3:,} more of {total:,}" in out
    shown = [line.split()[0] for line in out.splitlines()[3:6]]
    assert shown == ids[:3]
    code, out, _ = _run(capsys, *w, "reconcile", "--table", "opportunities", "--csv")
    lines = out.splitlines()
    assert lines[0].startswith("candidate_id,profile,software_model") and len(lines) == total + 1
    assert [line.split(",")[0] for line in lines[1:]] == ids
    code, out, _ = _run(capsys, *w, "reconcile", "--table", "opportunities", "--json")
    document = json.loads(out)
    assert document["name"] == "opportunities" and document["as_of"]
    assert [str(r["candidate_id"]) for r in document["rows"]] == ids
    code, out, _ = _run(capsys, *w, "reconcile", "--table", "opportunities", "--all")
    assert code == 0 and sum(line.split()[0] in ids for line in out.splitlines()[3:]) == total
    code, out, _ = _run(capsys, *w, "reconcile")
    assert f"open candidates on counted seats: {total}" in out


def test_reconcile_lists_the_first_unlicensed_seats_and_writes_every_one(
    ws_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A terminal shows the first ``--limit`` unlicensed seats; --csv, --json and --all page
    through every one, in the order ``ws.finance.unlicensed`` pages them."""
    w = ("--workspace", ws_path)
    with Workspace.open(ws_path) as ws:
        every = list(ws.finance.iter_unlicensed(page_size=4))
        counted = ws.finance.reconcile(unlicensed_limit=2)
        assert ws.finance.unlicensed(limit=2) == list(counted.unlicensed)
        assert ws.finance.unlicensed(limit=3, after=every[1]) == every[2:5]
    total = counted.unlicensed_count
    assert total == len(every) > 5  # no entitlement yet: every counted seat is unlicensed
    ids = [str(u.subscription_id) for u in every]
    code, out, _ = _run(capsys, *w, "reconcile", "--table", "unlicensed", "--limit", "3")
    assert code == 0 and f"… and {total - 3:,} more of {total:,}" in out
    shown = [line.split()[0] for line in out.splitlines()[3:6]]
    assert shown == ids[:3]
    code, out, _ = _run(capsys, *w, "reconcile", "--table", "unlicensed", "--csv")
    lines = out.splitlines()
    assert lines[0].startswith("subscription_id,profile,software_model") and len(lines) == total + 1
    assert [line.split(",")[0] for line in lines[1:]] == ids
    code, out, _ = _run(capsys, *w, "reconcile", "--table", "unlicensed", "--all", "--json")
    document = json.loads(out)
    assert document["name"] == "unlicensed" and document["as_of"]
    assert [str(r["subscription_id"]) for r in document["rows"]] == ids
    code, out, _ = _run(capsys, *w, "reconcile", "--table", "unlicensed", "--all")
    assert code == 0 and sum(line.split()[0] in ids for line in out.splitlines()[3:]) == total
    code, out, _ = _run(capsys, *w, "reconcile", "--json")
    document = json.loads(out)
    assert document["unlicensed_count"] == total
    assert len(document["tables"]["unlicensed"]["rows"]) == min(total, 100)
    code, out, _ = _run(capsys, *w, "reconcile")
    assert f"unlicensed seats: {total};" in out
    with Workspace.open(ws_path) as ws:  # a saved reconciliation flags every one, listed or not
        ws.finance.reconcile(save=True, unlicensed_limit=1)
        flagged = {r.subscription.id for r in ws.subscriptions.rows() if r.unlicensed}
    assert flagged == {u.subscription_id for u in every}
