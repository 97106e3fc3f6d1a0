"""Seeded synthetic Aha! accounts: realistic mixes of seats, admins, idle and never-seen users."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator
from typing import Any

from saas_license.spoke import UTC, format_instant, parse_instant

__all__ = ["INTEGRATION_USER_ID", "generate_audits", "generate_users", "iter_users"]

INTEGRATION_USER_ID = "1000000001"
_FIRST = [
    "ada",
    "ben",
    "cho",
    "dev",
    "eva",
    "finn",
    "gia",
    "hal",
    "ivy",
    "jon",
    "kai",
    "lea",
    "max",
    "noa",
    "oli",
    "pia",
    "quin",
    "ria",
    "sam",
    "tao",
    "uma",
    "vic",
    "wen",
    "xia",
    "yan",
    "zoe",
]
_LAST = [
    "smith",
    "ng",
    "garcia",
    "khan",
    "muller",
    "rossi",
    "sato",
    "kim",
    "silva",
    "novak",
    "berg",
    "lopez",
    "ito",
    "ward",
    "park",
    "hale",
    "dunn",
    "roy",
    "cole",
    "shah",
]
_PRODUCTS = [
    ("131414752", "Roadmap"),
    ("517761884", "Platform"),
    ("600000003", "Mobile"),
    ("600000004", "Growth"),
]
_ROLES = {20: "Owner", 30: "Contributor", 35: "Developer", 40: "Reviewer", 50: "Viewer"}


def _user(
    uid: str,
    email: str,
    name: str,
    *,
    created: dt.datetime,
    accessed: dt.datetime | None,
    enabled: bool = True,
    admin: bool = False,
    seats: tuple[bool, bool, bool] = (True, False, False),
    paid: bool = True,
    roles: list[dict[str, Any]] | None = None,
    idp: str = "password",
) -> dict[str, Any]:
    return {
        "id": uid,
        "name": name,
        "email": email,
        "timezone": "Etc/UTC",
        "created_at": format_instant(created),
        "updated_at": format_instant(max(created, accessed or created)),
        "accessed_at": format_instant(accessed) if accessed else None,
        "product_roles": roles or [],
        "user_roles": [],
        "enabled": enabled,
        "paid_seat": paid,
        "roadmaps_seat": seats[0],
        "develop_seat": seats[1],
        "teamwork_seat": seats[2],
        "administrator": admin,
        "administrator_roles": {
            "administer_account": admin,
            "administer_billing": admin,
            "administer_configuration": admin,
        },
        "identity_provider": {"type": idp},
    }


def generate_users(
    count: int, *, seed: int = 7, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """``count`` Aha! user objects; the first is the integration's own administrator.

    Dates are whole days before ``today`` (default: the current UTC date), so every run on the
    same day yields the same account. Mix: ~5% administrators, ~8% disabled, ~20% free
    reviewers/viewers, ~12% of paid users never accessed, the rest spread over the last year.
    """
    return list(iter_users(count, seed=seed, today=today))


def iter_users(
    count: int, *, seed: int = 7, today: dt.date | None = None, first_id: int = 1_000_000_001
) -> Iterator[dict[str, Any]]:
    """The users of :func:`generate_users`, one at a time (large accounts without the big list)."""
    if count < 1:
        raise ValueError("a sandbox account needs at least one user")
    rng = random.Random(seed)
    day = today or dt.datetime.now(UTC).date()
    anchor = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)

    def days_ago(days: int) -> dt.datetime:
        return anchor - dt.timedelta(days=days, seconds=rng.randrange(0, 86_400))

    if first_id == int(INTEGRATION_USER_ID):
        yield _user(
            INTEGRATION_USER_ID,
            "saas-license@example.com",
            "SaaS License Integration",
            created=days_ago(400),
            accessed=days_ago(0),
            admin=True,
        )
        start = 1
    else:
        start = 0
    for n in range(start, count):
        uid = str(first_id + n)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email = f"{first}.{last}.{first_id + n - 1_000_000_001}@example.com"
        name = f"{first.title()} {last.title()}"
        roll = rng.random()
        new_account = rng.random() < 0.05
        created = days_ago(rng.randrange(0, 20) if new_account else rng.randrange(30, 900))
        age = (anchor - created).days
        activity_roll = rng.random()
        if activity_roll < 0.12:
            accessed = None
        elif activity_roll < 0.60:
            accessed = days_ago(min(age, rng.randrange(0, 30)))
        elif activity_roll < 0.72:
            accessed = days_ago(min(age, rng.randrange(30, 60)))
        elif activity_roll < 0.82:
            accessed = days_ago(min(age, rng.randrange(60, 90)))
        else:
            accessed = days_ago(min(age, rng.randrange(90, 365)))
        pid, pname = rng.choice(_PRODUCTS)
        if roll < 0.05:  # administrators
            yield (
                _user(
                    uid,
                    email,
                    name,
                    created=created,
                    accessed=accessed,
                    admin=True,
                    roles=[
                        {
                            "role": 20,
                            "role_description": "Owner",
                            "product_id": pid,
                            "product_name": pname,
                        }
                    ],
                )
            )
            continue
        if roll < 0.13:  # disabled: as in Aha!'s examples they keep paid_seat, yet hold no seat
            yield (
                _user(
                    uid,
                    email,
                    name,
                    created=created,
                    accessed=accessed,
                    enabled=False,
                )
            )
            continue
        if roll < 0.33:  # free reviewers / viewers
            role = rng.choice([40, 50])
            yield (
                _user(
                    uid,
                    email,
                    name,
                    created=created,
                    accessed=accessed,
                    paid=False,
                    seats=(False, False, False),
                    roles=[
                        {
                            "role": role,
                            "role_description": _ROLES[role],
                            "product_id": pid,
                            "product_name": pname,
                        }
                    ],
                )
            )
            continue
        seats = (rng.random() < 0.80, rng.random() < 0.25, rng.random() < 0.15)
        if not any(seats):
            seats = (True, False, False)
        role = rng.choice([20, 30, 30, 35])
        yield (
            _user(
                uid,
                email,
                name,
                created=created,
                accessed=accessed,
                seats=seats,
                idp=rng.choice(["password", "password", "saml"]),
                roles=[
                    {
                        "role": role,
                        "role_description": _ROLES[role],
                        "product_id": pid,
                        "product_name": pname,
                    }
                ],
            )
        )


_AUDITABLE = ("feature", "idea", "release", "epic", "requirement", "note")


def generate_audits(
    users: Iterable[dict[str, Any]], *, seed: int = 7, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Audit records (writes) for an account, newest first, within Aha!'s 12-month window.

    Most active users wrote something on or before their last access; a few users write through
    integrations without ever opening Aha! (``accessed_at`` null or old, recent audits): for them
    the audits are the only sign of life.
    """
    rng = random.Random(seed * 7919 + 1)
    anchor = now or dt.datetime.now(UTC)
    oldest = anchor - dt.timedelta(days=365)
    audits: list[dict[str, Any]] = []
    next_id = 6_776_757_454_436_000_000
    for user in users:
        if not user.get("enabled", True):
            continue
        try:  # a test may have stored an odd accessed_at: treat it as never accessed
            accessed = parse_instant(user["accessed_at"]) if user.get("accessed_at") else None
        except (TypeError, ValueError, AttributeError):
            accessed = None
        times: list[dt.datetime] = []
        stale = accessed is None or (anchor - accessed) > dt.timedelta(days=90)
        if stale and rng.random() < 0.04:  # writes through an integration, no UI access
            times = [anchor - dt.timedelta(seconds=rng.randrange(3600, 20 * 86_400))]
        elif accessed is not None and rng.random() < 0.6:
            last = accessed
            times = [
                last - dt.timedelta(seconds=rng.randrange(0, 30 * 86_400))
                for _ in range(rng.randrange(1, 4))
            ]
        for when in times:
            if when < oldest:
                continue
            kind = rng.choice(_AUDITABLE)
            next_id += rng.randrange(1, 1000)
            actor = {
                "id": user["id"],
                "name": user.get("name") or "",
                "email": user.get("email") or "",
                "created_at": user.get("created_at") or format_instant(oldest),
                "updated_at": user.get("updated_at") or format_instant(oldest),
            }
            auditable_id = rng.randrange(1_000_000_000, 2_000_000_000)
            audits.append(  # the shape of Aha!'s published audit example
                {
                    "id": str(next_id),
                    "audit_action": rng.choice(["create", "update", "update", "destroy"]),
                    "created_at": format_instant(when),
                    "interesting": True,
                    "user": actor,
                    "contributors": [{"user": actor}],
                    "auditable_type": kind,
                    "auditable_id": auditable_id,
                    "associated_type": "release",
                    "associated_id": rng.randrange(100_000_000, 1_000_000_000),
                    "description": f"updated {kind}",
                    "auditable_url": f"https://sandbox.aha.io/{kind}s/{auditable_id}",
                    "changes": [{"field_name": "Name", "value": "old &rarr; new"}],
                }
            )
    audits.sort(key=lambda a: a["created_at"], reverse=True)
    return audits
