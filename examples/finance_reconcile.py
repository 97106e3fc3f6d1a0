"""Entitlements, reconciliation and the HTML report, end to end against the in-process sandbox.

Run: python examples/finance_reconcile.py  (no network; everything lives in a temp directory)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from saas_license import CsvImportError, HttpOptions, Workspace
from saas_license.reports import render_html, write_csv, write_json
from saas_license_aha.sandbox import SandboxApp

sandbox = SandboxApp(user_count=400, api_keys=["example-key"], seed=5)
http = HttpOptions(transport=sandbox.transport(), rate_limit=False)

with tempfile.TemporaryDirectory() as tmp, Workspace.open(Path(tmp) / "ws.db", http=http) as ws:
    ws.profiles.add_alias(
        "aha-main", spoke="aha", base_url="https://acme.aha.io", api_key="example-key"
    )
    ws.profiles.create("aha", spoke="aha", alias="aha-main")
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")
    ws.jobs.run("aha")  # download, activity, evaluate: seats, software models and candidates

    # What was bought, from a CSV (all rows or none; bad rows are named by line).
    contracts = Path(tmp) / "entitlements.csv"
    contracts.write_text(
        "software_model,purchased_rights,unit_cost,currency,period,start,end,name\n"
        "Aha! Roadmaps,200,59.00,USD,monthly,2025-01-01,,RM-2025\n"
        "Aha! Develop,40,708.00,USD,annually,2025-01-01,2027-12-31,DEV-2025\n",
        encoding="utf-8",
    )
    print(f"imported {len(ws.finance.import_entitlements(contracts))} entitlements")
    broken = Path(tmp) / "broken.csv"
    broken.write_text(contracts.read_text().replace("59.00", "59,00,00"), encoding="utf-8")
    try:
        ws.finance.import_entitlements(broken)
    except CsvImportError as exc:
        print(f"refused {broken.name}: {exc.problems[0]}")

    result = ws.finance.reconcile(save=True)
    print(f"\nreconciliation as of {result.as_of:%Y-%m-%d %H:%M} UTC")
    for row in result.models:
        status = "compliant" if row.compliant else f"short {row.rights_needed}"
        print(
            f"  {row.software_model:16} owned {row.rights_owned:4}  used {row.rights_used:4}  "
            f"{status:12} true-up {row.true_up_cost}  potential savings {row.potential_savings}"
        )
    for currency, sums in result.totals().items():
        print(f"  {currency}: {', '.join(f'{k} {v}' for k, v in sums.items())}")
    print(f"  unlicensed seats: {result.unlicensed_count}; unmapped: {len(result.unmapped)}")
    print(
        f"  a seat of Aha! Roadmaps costs {ws.prices.unit_price('Aha! Roadmaps', at=result.as_of)}"
    )

    # Reclaim opportunities: every open candidate is counted, the idlest are listed, and the
    # rest are read a page at a time (memory does not follow the number of candidates).
    top = ws.finance.reconcile(opportunity_limit=3)
    print(f"  open candidates on counted seats: {top.opportunity_count}; the idlest 3:")
    for opp in top.opportunities:
        idle = "never active" if opp.days_inactive is None else f"{opp.days_inactive} days idle"
        print(f"    {opp.user_principal_name} ({opp.software_model}): {idle}, saves {opp.savings}")
    if top.opportunities:
        rest = ws.finance.opportunities(limit=1000, after=top.opportunities[-1])
        print(f"  the next page holds {len(rest)} more")

    # Unlicensed seats likewise: counted, the first listed (by model and profile, newest
    # first), the rest paged; a saved reconciliation flags every one of them in SQL.
    few = ws.finance.reconcile(unlicensed_limit=2)
    print(f"  unlicensed seats: {few.unlicensed_count}; the first {len(few.unlicensed)}:")
    for seat in few.unlicensed:
        print(
            f"    {seat.user_principal_name} ({seat.software_model}, {seat.profile}): {seat.reason}"
        )
    if few.unlicensed:
        more = sum(1 for _ in ws.finance.iter_unlicensed(after=few.unlicensed[-1]))
        print(f"  and {more} more, read a page at a time")

    # Tiers: products and license metrics; allocations count before company-wide rights.
    roadmaps = next(e for e in ws.finance.entitlements() if e.software_model == "Aha! Roadmaps")
    ws.finance.allocate(roadmaps.id or 0, 30, users=["*@example.com"])  # a group of users
    result = ws.finance.reconcile(save=True)
    for product in result.products:
        print(f"  product {product.product}: {', '.join(product.software_models)}")
    for m in result.metrics:
        print(
            f"  {m.software_model:16} {m.metric.value}: allocated in use {m.allocated_in_use}, "
            f"not allocated in use {m.not_allocated_in_use}, needed {m.rights_needed}"
        )
    # Remediation options keep their status between saved reconciliations; act on one.
    for option in ws.finance.remediation.options():
        print(f"  remediation {option.key}: {option.status.value} ({option.note})")
        if option.action.value == "remove_unlicensed":
            done = ws.finance.remediation.create_candidates(option.key)
            print(f"    -> {done.status.value}: {done.note} (candidates only; nothing reclaimed)")

    report = Path(tmp) / "report.html"
    report.write_text(render_html(result), encoding="utf-8")
    write_json(result, Path(tmp) / "report.json")
    tables = write_csv(result, Path(tmp) / "tables")
    print(f"\nreport: {report.stat().st_size:,} bytes of HTML, {len(tables)} CSV tables")
    assert result.models and report.stat().st_size > 10_000
