"""Write screenshots of the web console to docs/img/ (a script, not a test: a clean clone stays clean).

    python scripts/screenshots.py [--out docs/img]

Builds a demo workspace on the bundled Aha! sandbox (in-process, fixed clock), serves the
console on a free port with uvicorn, and lets headless Chromium (/usr/bin/chromium, driven by
Playwright; nothing is downloaded) sign in and photograph each page.
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from saas_license import HttpOptions, Workspace
from saas_license.web import Users, create_app
from saas_license_aha.sandbox import SandboxApp

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
KEY = "screenshots-key-0123456789"
PASSWORD = "screenshots passphrase"  # noqa: S105 - a throwaway demo user
NAMES = (
    "answer-page.png",
    "console-signin.png",
    "console-overview.png",
    "console-profiles.png",
    "console-candidates.png",
    "console-audit.png",
    "console-entitlements.png",
    "console-plan.png",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_workspace(folder: Path) -> Workspace:
    """A published Aha! profile after one run, entitlements, notices out, one user answered."""
    sandbox = SandboxApp(user_count=120, api_keys=[KEY], seed=11, anchor=NOW)
    ws = Workspace.open(
        folder / "demo.db",
        http=HttpOptions(transport=sandbox.transport(), rate_limit=False),
        clock=lambda: NOW,
    )
    ws.profiles.add_alias("aha-main", spoke="aha", base_url="https://acme.aha.io", api_key=KEY)
    ws.profiles.create("aha", spoke="aha", alias="aha-main")
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")
    ws.jobs.run("aha")
    for model, rights, cost in (("Aha! Roadmaps", 60, "59"), ("Aha! Develop", 20, "39")):
        ws.finance.add_entitlement(
            model,
            purchased_rights=rights,
            unit_cost=cost,
            currency="USD",
            period="monthly",
            start="2026-01-01",
        )
    ws.settings.set("public_url", "http://127.0.0.1:8000")
    for model in (m for m in ws.subscriptions.models() if m.paid):
        ws.rules.set_reclamation(
            model.name, notify_user=True, days_before_auto_reclaim=5, approver="it@example.com"
        )
    ws.plans.apply(ws.plans.create("aha").id or "")
    for notice in ws.outbox.query()[1:5]:  # four people answered "release it"
        for cid in notice.candidate_ids:
            ws.candidates.forego(cid, actor=notice.recipient)
    Users(ws).add("ops@example.com", role="admin", password=PASSWORD)
    return ws


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "img"
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ws = demo_workspace(Path(tmp))
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(ws), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        notice = ws.outbox.query()[0]
        link = next(ln for ln in notice.body.splitlines() if "choice=keep" in ln).split()[-1]
        link = link.replace("http://127.0.0.1:8000", base)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium, args=FLAGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(link)
                page.screenshot(path=str(args.out / "answer-page.png"))
                page.goto(base + "/signin")
                page.screenshot(path=str(args.out / "console-signin.png"))
                page.fill("input[name=name]", "ops@example.com")
                page.fill("input[name=password]", PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_selector("text=Overview")
                for path, name in (
                    ("/", "console-overview.png"),
                    ("/profiles", "console-profiles.png"),
                    ("/candidates", "console-candidates.png"),
                    ("/audit", "console-audit.png"),
                    ("/entitlements", "console-entitlements.png"),
                ):
                    page.goto(base + path)
                    page.screenshot(path=str(args.out / name), full_page=path == "/")
                page.goto(base + "/plans")
                page.get_by_role("button", name="Make a plan").click()
                page.wait_for_selector("text=What applying does")
                page.screenshot(path=str(args.out / "console-plan.png"))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            ws.close()
    for name in NAMES:
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
