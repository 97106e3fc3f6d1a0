"""A notifier plugin: reclaim notices as chat messages through an incoming webhook.

Notifiers are plugins, not spokes. This one posts Slack-style JSON (``{"text": ...}``) to a webhook
URL. Every notification is first kept in the workspace outbox; a notifier returns True when it
delivered, so nothing is lost when it is down. Package it for real with an entry point::

    [project.entry-points."saas_license.notifiers"]
    chat = "my_package.notifier:ChatWebhookNotifier"   # an object with saas_license_notify

Run: python examples/notifier_webhook.py  (no network: the webhook and Aha! are in-process fakes)
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx

from saas_license import HttpOptions, Notification, Workspace, hookimpl
from saas_license_aha.sandbox import SandboxApp


class ChatWebhookNotifier:
    """Posts each notification to a chat channel; the recipient is mentioned by address."""

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(timeout=10, transport=transport)
        self._url = url  # a webhook URL is a secret: never log or print it

    def __repr__(self) -> str:
        return "ChatWebhookNotifier(url='********')"

    @hookimpl
    def saas_license_notify(self, notification: Notification) -> bool:
        text = f"*{notification.subject}* (for {notification.recipient})\n{notification.body}"
        response = self._client.post(self._url, json={"text": text})
        response.raise_for_status()  # raising is recorded in the outbox; the message stays
        return True


# -- a fake chat service, so the example runs offline -------------------------------------------
received: list[dict[str, str]] = []


def fake_chat(request: httpx.Request) -> httpx.Response:
    received.append(json.loads(request.content))
    return httpx.Response(200, text="ok")


sandbox = SandboxApp(user_count=80, api_keys=["example-key"])
http = HttpOptions(transport=sandbox.transport())

with tempfile.TemporaryDirectory() as tmp, Workspace.open(Path(tmp) / "ws.db", http=http) as ws:
    ws.outbox.notifiers.register(
        ChatWebhookNotifier(
            "https://chat.example/hooks/T000/B000/XXXX", transport=httpx.MockTransport(fake_chat)
        ),
        name="chat",
    )
    ws.profiles.add_alias(
        "aha-main", spoke="aha", base_url="https://acme.aha.io", api_key="example-key"
    )
    ws.profiles.create("aha", spoke="aha", alias="aha-main")
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")
    ws.settings.set("public_url", "https://licenses.example.com")  # notices carry answer links
    ws.jobs.run("aha")
    for model in ("Aha! Roadmaps", "Aha! Develop", "Aha! Teamwork"):
        ws.rules.set_reclamation(model, notify_user=True, days_before_auto_reclaim=7)
    plan = ws.plans.create("aha")  # every item is a notice: nobody loses a seat without being asked
    report = ws.plans.apply(plan.id or "", cap=0)  # cap 0: no vendor change at all, notices only
    print(f"plan {plan.id}: {report.counts}")
    print(f"chat messages posted: {len(received)}")
    print(received[0]["text"].splitlines()[0])
    outbox = ws.outbox.query()
    print(
        f"outbox: {len(outbox)} notifications, delivered via {sorted({n.channel for n in outbox})}"
    )
    assert received and all(n.status.value == "delivered" for n in outbox)
