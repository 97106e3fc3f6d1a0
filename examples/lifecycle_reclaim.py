"""The reclamation lifecycle end to end, from Python, against the in-process Aha! sandbox.

Rules → daily run → plan (dry run) → apply with a cap → a user keeps a seat, the approver
decides → the deadline passes → undo a reclaim → the audit trail and the savings.

Run: python examples/lifecycle_reclaim.py  (no network; the clock is simulated)
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

from saas_license import CandidateState, HttpOptions, UnitPrice, Workspace
from saas_license_aha.sandbox import SandboxApp


class Clock:
    """A simulated clock, so days can pass in a second."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


class PriceList:
    """A tiny price book (normally entitlements provide it)."""

    def unit_price(self, software_model: str, *, at: dt.datetime) -> UnitPrice | None:
        prices = {"Aha! Roadmaps": "149.00", "Aha! Develop": "59.00", "Aha! Teamwork": "9.00"}
        amount = prices.get(software_model)
        return UnitPrice(amount=Decimal(amount), currency="USD") if amount else None


clock = Clock()
sandbox = SandboxApp(user_count=150, api_keys=["example-key"])
# rate_limit=False: the in-process sandbox needs no pacing (keep the default for a real account)
http = HttpOptions(transport=sandbox.transport(), rate_limit=False)

with (
    tempfile.TemporaryDirectory() as tmp,
    Workspace.open(Path(tmp) / "ws.db", http=http, clock=clock) as ws,
):
    ws.prices = PriceList()
    ws.profiles.add_alias(
        "aha-main", spoke="aha", base_url="https://acme.aha.io", api_key="example-key"
    )
    ws.profiles.create("aha", spoke="aha", alias="aha-main")
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")
    # Notices carry answer links to the service; a "keep" goes to the Software managers group.
    ws.settings.set("public_url", "https://licenses.example.com")
    ws.approvals.set_group("Software managers", ["it-manager@example.com"])

    # Rules: SAML users are never reclaimed (but still cost money); Roadmaps users are asked first.
    ws.rules.add_exclusion(
        kind="attribute", attribute="identity_provider", value="saml", effect="reclaim"
    )
    ws.jobs.run("aha")  # creates the default reclamation rules (60 days) for the paid models
    ws.rules.set_reclamation("Aha! Roadmaps", notify_user=True, days_before_auto_reclaim=5)
    print("due after the first run:", ws.jobs.due() or "nothing")

    plan = ws.plans.create("aha")
    print(
        f"plan {plan.id}: reclaim {len(plan.reclaims)} seats, notify first for {len(plan.notices)}"
        f", {len(plan.held)} held; potential savings {plan.savings_by_currency}"
    )
    report = ws.plans.apply(plan.id or "", cap=10)  # never more than 10 seats in one go
    print("applied:", report.counts)

    waiting = ws.candidates.query("aha", states={CandidateState.AWAITING_USER})
    keeper, quitter = waiting[0], waiting[1]
    ws.candidates.keep(
        keeper.id or 0, actor=keeper.user_principal_name, note="I use it every quarter"
    )
    ws.candidates.decline(
        keeper.id or 0, actor="it-manager@example.com"
    )  # kept; no new ask for 30 days
    ws.candidates.forego(quitter.id or 0, actor=quitter.user_principal_name)

    clock.now += dt.timedelta(days=6)  # the others did not answer in time
    ws.jobs.run("aha")
    second = ws.plans.apply(ws.plans.create("aha").id or "", cap=25)
    print("after the deadline:", second.counts)

    reclaimed = next(c for c in ws.candidates.query("aha") if c.reclaimed)
    undo = ws.plans.undo(reclaimed.id or 0, actor="it-manager@example.com")
    print(f"undo for {reclaimed.user_principal_name}: {undo.status.value}")

    for entry in ws.candidates.history(reclaimed.id or 0):
        before = (entry.before or {}).get("state", "-")
        print(f"  {entry.action:22} {before:>20} -> {(entry.after or {}).get('state')}")
    savings = ws.finance.savings("aha")
    print(f"potential savings {savings.potential}, actual savings {savings.actual}")
    assert savings.reclaimed_seats > 0
