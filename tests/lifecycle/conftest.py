"""Lifecycle fixtures: a hand-made Aha! account, a clock the test moves, and a recording spoke."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

import saas_license_aha.plugin as aha_plugin
from saas_license import HttpOptions, Subscription, Workspace, hookimpl
from saas_license._plugins import SpokeRegistry
from saas_license._secrets import SecretStore
from saas_license._store import Store
from saas_license._store._sqlite import SqliteStore
from saas_license._time import format_instant
from saas_license.spoke import CurrentUser, ReclaimResult, SpokeContext, SubscriptionRecord
from saas_license_aha.sandbox import INTEGRATION_USER_ID, SandboxApp

from ..postgres.fixtures import STORES

API_KEY = "lifecycle-key-0123456789"
START = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.timezone.utc)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> dt.datetime:
        self.now += dt.timedelta(**kw)
        return self.now


def aha_user(
    uid: str,
    email: str,
    *,
    accessed_days_ago: float | None,
    now: dt.datetime = START,
    created_days_ago: float = 400,
    admin: bool = False,
    seats: tuple[bool, bool, bool] = (True, False, False),
    enabled: bool = True,
    department: str | None = None,
) -> dict[str, Any]:
    """One Aha! user object in the documented shape."""
    created = now - dt.timedelta(days=created_days_ago)
    accessed = None if accessed_days_ago is None else now - dt.timedelta(days=accessed_days_ago)
    user: dict[str, Any] = {
        "id": uid,
        "name": email.split("@")[0],
        "email": email,
        "timezone": "Etc/UTC",
        "created_at": format_instant(created),
        "updated_at": format_instant(accessed or created),
        "accessed_at": None if accessed is None else format_instant(accessed),
        "product_roles": [],
        "user_roles": [],
        "enabled": enabled,
        "paid_seat": True,
        "roadmaps_seat": seats[0],
        "develop_seat": seats[1],
        "teamwork_seat": seats[2],
        "administrator": admin,
        "administrator_roles": {
            "administer_account": admin,
            "administer_billing": admin,
            "administer_configuration": admin,
        },
        "identity_provider": {"type": "password"},
    }
    if department is not None:
        user["paid_seat_group"] = {"name": department}
    return user


def small_account(now: dt.datetime = START) -> list[dict[str, Any]]:
    """The integration admin, six idle users (two with two seats), one idle admin, one active."""
    return [
        aha_user(INTEGRATION_USER_ID, "svc@acme.test", accessed_days_ago=0, now=now, admin=True),
        aha_user("2001", "ana@acme.test", accessed_days_ago=90, now=now),
        aha_user(
            "2002", "ben@acme.test", accessed_days_ago=120, now=now, seats=(True, True, False)
        ),
        aha_user("2003", "cy@acme.test", accessed_days_ago=200, now=now),
        aha_user("2004", "dee@partner.test", accessed_days_ago=75, now=now),
        aha_user("2005", "eli@acme.test", accessed_days_ago=None, now=now, created_days_ago=300),
        aha_user("2006", "fay@acme.test", accessed_days_ago=65, now=now, seats=(True, False, True)),
        aha_user("2007", "gus@acme.test", accessed_days_ago=150, now=now, admin=True),
        aha_user("2008", "hal@acme.test", accessed_days_ago=3, now=now),
    ]


#: What a first run over ``small_account()`` finds under the default rules, worked out from the
#: users above: 11 paid seats (svc 1, ana 1, ben 2, cy 1, dee 1, eli 1, fay 2, gus 1, hal 1) and
#: 8 candidates, the idle seats of ana, ben (2), cy, dee, eli and fay (2); gus is an
#: administrator and hal and svc are active. 6 of the candidates are Roadmaps seats.
SMALL_ACCOUNT_SEATS = 11
SMALL_ACCOUNT_CANDIDATES = 8
SMALL_ACCOUNT_ROADMAPS_CANDIDATES = 6


class RecordingAha:
    """The Aha! spoke's hooks, with every reclaim/restore call recorded and checked first."""

    def __init__(self) -> None:
        self.reclaims: list[Subscription] = []
        self.restores: list[Subscription] = []
        self.check: Callable[[SpokeContext, Subscription], None] | None = None
        self.extra: list[SubscriptionRecord] = []  # seats the vendor lists beyond Aha!'s own
        self.reads: list[str] = []  # current-user reads (fresh facts, confirmations)
        self.read_fails: Exception | None = None  # make every current-user read raise this
        #: rewrite what the vendor reports (download and current-user reads alike)
        self.transform: Callable[[SubscriptionRecord], SubscriptionRecord] | None = None
        #: users whose reclaim reaches the vendor but whose answer is lost (raises after the PUT)
        self.lose_answers: set[str] = set()
        #: rewrite a whole current-user answer (e.g. a lagging read after a disable)
        self.override: Callable[[CurrentUser], CurrentUser] | None = None
        #: replace the activity hook's answer
        self.activity_override: Callable[[SpokeContext, dt.datetime], Any] | None = None

    @hookimpl
    def saas_license_spoke_info(self) -> Any:
        return aha_plugin.saas_license_spoke_info()

    def _seen(self, record: SubscriptionRecord) -> SubscriptionRecord:
        return record if self.transform is None else self.transform(record)

    @hookimpl
    def saas_license_download_subscriptions(self, context: SpokeContext) -> Any:
        for record in aha_plugin.saas_license_download_subscriptions(context):
            yield self._seen(record)
        yield from self.extra

    @hookimpl
    def saas_license_pull_user_activity(self, context: SpokeContext, since: dt.datetime) -> Any:
        if self.activity_override is not None:
            return self.activity_override(context, since)
        return aha_plugin.saas_license_pull_user_activity(context, since)

    @hookimpl
    def saas_license_reclaim_subscription(
        self, context: SpokeContext, subscription: Subscription
    ) -> ReclaimResult:
        if self.check is not None:
            self.check(context, subscription)
        self.reclaims.append(subscription)
        result = aha_plugin.saas_license_reclaim_subscription(context, subscription)
        if subscription.external_user_id in self.lose_answers:
            raise httpx.ReadTimeout("the answer to the PUT was lost")
        return result

    @hookimpl
    def saas_license_current_user(self, context: SpokeContext, external_user_id: str) -> Any:
        self.reads.append(external_user_id)
        if self.read_fails is not None:
            raise self.read_fails
        current = aha_plugin.saas_license_current_user(context, external_user_id)
        current = attrs.evolve(current, seats=tuple(self._seen(r) for r in current.seats))
        return current if self.override is None else self.override(current)

    @hookimpl
    def saas_license_restore_subscription(
        self, context: SpokeContext, subscription: Subscription
    ) -> ReclaimResult:
        self.restores.append(subscription)
        return aha_plugin.saas_license_restore_subscription(context, subscription)

    @hookimpl
    def saas_license_validate_connection(self, context: SpokeContext) -> Any:
        return aha_plugin.saas_license_validate_connection(context)


class Harness:
    """A published Aha! profile ``aha`` on an in-memory store, a sandbox and a movable clock."""

    def __init__(
        self,
        users: list[dict[str, Any]] | None = None,
        *,
        clock: Clock | None = None,
        store: Store | None = None,
    ):
        self.clock = clock or Clock()
        self.sandbox = SandboxApp(users or small_account(self.clock.now), api_keys=[API_KEY])
        self.spoke = RecordingAha()
        registry = SpokeRegistry(load_entry_points=False)
        registry.register(self.spoke, name="aha")
        self._tmp = tempfile.TemporaryDirectory(prefix="saas-license-test-")
        self.ws = Workspace(
            store if store is not None else SqliteStore(":memory:"),
            secrets=SecretStore(Path(self._tmp.name) / "secrets.json"),
            spokes=registry,
            http=HttpOptions(transport=self.sandbox.transport(), rate_limit=False),
            clock=self.clock,
        )
        self.ws.profiles.add_alias(
            "aha-main", spoke="aha", base_url="https://acme.aha.io", api_key=API_KEY
        )
        self.ws.profiles.create("aha", spoke="aha", alias="aha-main")
        assert self.ws.profiles.validate("aha").download_ok
        self.ws.profiles.publish("aha")
        # answerable notices need the service's address; "keep" requests need an approver
        self.ws.settings.set("public_url", "https://licenses.acme.test")
        self.ws.approvals.set_group("Software managers", ["sam-team@acme.test"])

    def close(self) -> None:
        self.ws.close()
        self._tmp.cleanup()

    def set_vendor(self, uid: str, **fields: Any) -> None:
        user = self.sandbox.user(uid)
        user.update(fields)
        self.sandbox.set_user(user)

    def touch(self, uid: str) -> None:
        """The user logs in now."""
        self.set_vendor(uid, accessed_at=format_instant(self.clock.now))


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """The lifecycle tests with a ``harness`` run on both stores."""
    return str(request.param)


@pytest.fixture
def harness(new_store: Callable[[], Store]) -> Iterator[Harness]:
    h = Harness(store=new_store())
    yield h
    h.close()
