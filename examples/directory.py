"""The user directory end to end, offline: load a CSV of people, see who is unresolved, exclude
contractors, propose leavers first, route a "keep" to the manager, and show back the cost per
department (the worked example of docs/directory.md).

Run: python examples/directory.py  (no network; the in-process Aha! sandbox, a fixed clock)
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from saas_license import HttpOptions, Workspace
from saas_license_aha.sandbox import INTEGRATION_USER_ID, SandboxApp

NOW = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.timezone.utc)


def stamp(days_ago: float) -> str:
    return (NOW - dt.timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def aha_user(
    uid: str,
    email: str,
    idle_days: float | None,
    *,
    admin: bool = False,
    develop: bool = False,
    teamwork: bool = False,
) -> dict[str, Any]:
    """One Aha! user in the documented shape: a Roadmaps seat, maybe Develop and Teamwork."""
    return {
        "id": uid,
        "name": email.split("@")[0],
        "email": email,
        "created_at": stamp(400),
        "updated_at": stamp(idle_days or 400),
        "accessed_at": None if idle_days is None else stamp(idle_days),
        "enabled": True,
        "paid_seat": True,
        "roadmaps_seat": True,
        "develop_seat": develop,
        "teamwork_seat": teamwork,
        "administrator": admin,
        "administrator_roles": {
            "administer_account": admin,
            "administer_billing": admin,
            "administer_configuration": admin,
        },
        "identity_provider": {"type": "password"},
    }


ACCOUNT = [
    aha_user(INTEGRATION_USER_ID, "svc@acme.test", 0, admin=True),
    aha_user("2001", "ana@acme.test", 90),
    aha_user("2002", "ben@acme.test", 120, develop=True),
    aha_user("2003", "cy@acme.test", 200),
    aha_user("2004", "dee@partner.test", 75),
    aha_user("2005", "eli@acme.test", None),
    aha_user("2006", "fay@acme.test", 65, teamwork=True),
    aha_user("2007", "gus@acme.test", 150, admin=True),
    aha_user("2008", "hal@acme.test", 3),
]

PEOPLE = """email,aliases,name,manager_email,department,cost_center,employment_status
svc@acme.test,,Service,,IT,CC-900,active
ana@acme.test,,Ana,boss@acme.test,Sales,CC-100,active
benjamin@acme.test,ben@acme.test,Ben,boss@acme.test,Sales,CC-100,leaver
cy@acme.test,,Cy,outside-boss@other.test,Engineering,CC-200,contractor
fay@acme.test,,Fay,,Engineering,CC-200,active
gus@acme.test,,Gus,boss@acme.test,IT,CC-900,active
hal@acme.test,,Hal,,Sales,CC-100,active
boss@acme.test,,The Boss,,Sales,CC-100,active
"""

sandbox = SandboxApp(ACCOUNT, api_keys=["example-key"], anchor=NOW)
http = HttpOptions(transport=sandbox.transport(), rate_limit=False)

with (
    tempfile.TemporaryDirectory() as tmp,
    Workspace.open(Path(tmp) / "ws.db", http=http, clock=lambda: NOW) as ws,
):
    ws.profiles.add_alias(
        "aha-main", spoke="aha", base_url="https://acme.aha.io", api_key="example-key"
    )
    ws.profiles.create("aha", spoke="aha", alias="aha-main")
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")
    ws.settings.set("public_url", "https://licenses.example.com")
    ws.approvals.set_group("Software managers", ["sam@acme.test"])

    # 1. The directory: a snapshot of people, by e-mail and aliases (any case).
    people = Path(tmp) / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    loaded = ws.directory.load(people)
    print(f"loaded {loaded.people} people ({loaded.addresses} addresses)")

    # 2. Rules on directory facts: contractors are never reclaimed nor counted in cost.
    ws.rules.add_exclusion(
        kind="attribute", attribute="directory.employment_status", value="contractor"
    )
    ws.jobs.run("aha")  # download, evaluate: the seats meet the directory
    res = ws.directory.resolution()
    print(f"{res.resolved_seats} of {res.seats} seats resolved to a person")
    print("not in the directory:", ", ".join(u.address for u in res.unresolved))
    assert [u.address for u in res.unresolved] == ["dee@partner.test", "eli@acme.test"]
    first = sorted(ws.candidates.query("aha"), key=lambda c: c.id or 0)
    open_users = [c.user_principal_name for c in first if c.is_open]
    print("proposed, leavers first:", ", ".join(open_users))
    assert open_users[:2] == ["ben@acme.test", "ben@acme.test"]
    assert "cy@acme.test" not in open_users

    # 3. Approvers: a "keep" goes to the manager from the directory.
    ws.rules.set_reclamation("Aha! Roadmaps", notify_user=True)
    ana = next(c for c in first if c.is_open and c.user_principal_name == "ana@acme.test")
    route = ws.approvals.route(ana.id or 0)
    print(f"ana's keep goes to {route.label} ({route.source.value if route.source else '-'})")
    assert route.recipients == ("boss@acme.test",)

    # 4. Showback: cost and idle seats per department; unknown users are their own row.
    for model, cost in (("Aha! Roadmaps", 100), ("Aha! Develop", 50), ("Aha! Teamwork", 10)):
        ws.finance.add_entitlement(
            model, purchased_rights=20, unit_cost=cost, currency="USD", start="2026-01-01"
        )
    print("\nshowback by department (USD per year):")
    for row in ws.finance.showback("department").rows:
        print(
            f"  {row.group:<20} people {row.people}  seats {row.seats}  idle {row.idle_seats}"
            f"  excluded {row.excluded_seats}  cost {row.cost}  idle cost {row.idle_cost}"
        )
    sales = ws.finance.showback("department").row("Sales")
    assert sales is not None and (sales.seats, str(sales.cost)) == (4, "350.00")
    html = ws.finance.report_html()
    assert "Showback by cost centre" in html
