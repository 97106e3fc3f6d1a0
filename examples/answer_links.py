"""Notices people answer by link, e-mailed (dry run: .eml files), and automatic reclaim.

Rules ask Roadmaps users first → the scheduler's tick sends the notices (each a .eml file here)
→ one user answers "release" through the link in their e-mail → the deadline passes → the next
tick reclaims the decided seats by itself, capped, as actor "scheduler".

Run: python examples/answer_links.py  (no network; the clock is simulated; nothing is sent)
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import tempfile
from pathlib import Path

from saas_license import HttpOptions, Workspace
from saas_license_aha.sandbox import SandboxApp


class Clock:
    """A simulated clock, so days can pass in a second."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


clock = Clock()
sandbox = SandboxApp(user_count=60, api_keys=["example-key"])
http = HttpOptions(transport=sandbox.transport(), rate_limit=False)

with (
    tempfile.TemporaryDirectory() as tmp,
    Workspace.open(Path(tmp) / "ws.db", http=http, clock=clock) as ws,
):
    outbox_dir = Path(tmp) / "mail"
    outbox_dir.mkdir()
    ws.profiles.add_alias(
        "aha-main", spoke="aha", base_url="https://acme.aha.io", api_key="example-key"
    )
    ws.profiles.create("aha", spoke="aha", alias="aha-main")
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")

    # Where people open their links, who approves a "keep", and e-mail as .eml files (dry run).
    ws.settings.set("public_url", "https://licenses.example.com")
    ws.approvals.set_group("Software managers", ["sam-team@example.com"])
    ws.settings.set("smtp.sender", "licenses@example.com")
    ws.settings.set("smtp.dry_run_dir", str(outbox_dir))

    ws.jobs.run("aha")
    already = {u["id"] for u in sandbox.users() if not u["enabled"]}
    ws.rules.set_reclamation("Aha! Roadmaps", notify_user=True, days_before_auto_reclaim=5)
    ws.jobs.set_auto_reclaim("aha", enabled=True, max_per_run=5, max_per_day=20)
    print(ws.jobs.preview_auto_reclaim("aha").describe())

    tick = ws.jobs.tick()  # sends the notices (nothing is decided yet)
    print("tick 1:", tick.summary())
    mails = sorted(outbox_dir.glob("*.eml"))
    print(f"{len(mails)} e-mails written, e.g. {mails[0].name}")

    # A person opens their e-mail and clicks "Release it".
    msg = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    link = re.search(r"https://\S+/answer/(\S+?)\?choice=release", body.get_content())
    assert link is not None
    token = link.group(1)
    view = ws.answers.open(token)  # what the answer page shows (changes nothing)
    print(f"{view.recipient} sees: {view.consequence}")
    outcome = ws.answers.submit(token, "release")
    print("answered:", outcome.message)

    clock.now += dt.timedelta(days=5, minutes=1)  # nobody else answers in time
    for n in (2, 3):
        tick = ws.jobs.tick()
        print(f"tick {n}:", tick.summary())
    disabled = [u for u in sandbox.users() if not u["enabled"] and u["id"] not in already]
    actors = {a.actor for a in ws.plans.actions("aha")}
    print(f"the vendor disabled {len(disabled)} more users, all by {sorted(actors)}")
    assert 0 < len(disabled) <= 10 and actors == {"scheduler"}
