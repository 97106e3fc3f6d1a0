"""From Aha! users to seats: which identifiers a user holds, and the attributes rules can use."""

from __future__ import annotations

from typing import Any

from saas_license.spoke import ActivityRecord, KnownIdentifier, SubscriptionRecord

from ._payloads import ADMIN_ROLES, AhaUser

__all__ = [
    "IDENTIFIERS",
    "activity_record",
    "administrator_of",
    "attributes_for",
    "identifiers_for",
    "subscription_records",
    "unknown_of",
]

PUBLISHER = "Aha! Labs"
ROADMAPS = "aha.roadmaps"
DEVELOP = "aha.develop"
TEAMWORK = "aha.teamwork"
PAID = "aha.paid"
REVIEWER = "aha.reviewer"
VIEWER = "aha.viewer"

#: Identifiers this spoke emits and the software models they map to.
IDENTIFIERS: tuple[KnownIdentifier, ...] = (
    KnownIdentifier(
        identifier=ROADMAPS,
        software_model="Aha! Roadmaps",
        publisher=PUBLISHER,
        description="paid seat in Aha! Roadmaps (roadmaps_seat)",
    ),
    KnownIdentifier(
        identifier=DEVELOP,
        software_model="Aha! Develop",
        publisher=PUBLISHER,
        description="paid seat in Aha! Develop (develop_seat)",
    ),
    KnownIdentifier(
        identifier=TEAMWORK,
        software_model="Aha! Teamwork",
        publisher=PUBLISHER,
        description="paid Whiteboards/Knowledge seat (teamwork_seat)",
    ),
    KnownIdentifier(
        identifier=PAID,
        software_model="Aha! Roadmaps",
        publisher=PUBLISHER,
        description="paid seat on accounts that report only paid_seat (older API)",
    ),
    KnownIdentifier(
        identifier=REVIEWER,
        software_model="Aha! Reviewer & Viewer (free)",
        publisher=PUBLISHER,
        paid=False,
        description="free reviewer (Enterprise plans)",
    ),
    KnownIdentifier(
        identifier=VIEWER,
        software_model="Aha! Reviewer & Viewer (free)",
        publisher=PUBLISHER,
        paid=False,
        description="free viewer (Enterprise plans)",
    ),
)

_REVIEWER_ROLE = 40

#: Fields of a record that may be unknown (``SubscriptionRecord.unknown``), core vocabulary.
ADMINISTRATOR = "administrator"
ENABLED = "enabled"
LAST_ACTIVITY = "last_activity"
PRINCIPAL = "user_principal_name"
PAID_SEAT = "paid_seat"
CREATED = "external_created"


def administrator_of(user: AhaUser) -> bool | None:
    """Whether the user holds any administrator role; None when Aha! did not say readably.

    Any true role in ``administrator_roles`` (or ``administrator: true``) makes an
    administrator. "Not an administrator" needs a readable answer: the flag as a boolean, or
    every role readable and false. An unreadable role that is not outweighed by a true one
    leaves the answer unknown, whatever the flag says (fail safe).
    """
    roles = user.administrator_roles
    if roles and any(v is True for v in roles.values()):
        return True
    if user.administrator is True:
        return True
    if "administrator_roles" in user.unreadable:
        return None
    if user.administrator is False:
        return False
    if roles is not None and all(v is False for v in roles.values()) and roles:
        return False
    return None


def enabled_of(user: AhaUser) -> bool | None:
    """``enabled`` when Aha! sent it as a boolean (or the documented string form), else None."""
    return user.enabled


def unknown_of(user: AhaUser) -> frozenset[str]:
    """What the record cannot be trusted on, in the core's vocabulary."""
    out = set()
    if administrator_of(user) is None:
        out.add(ADMINISTRATOR)
    if user.enabled is None:
        out.add(ENABLED)
    if user.unclear("accessed_at"):  # an explicit null is "never accessed", not unknown
        out.add(LAST_ACTIVITY)
    if not user.email:
        out.add(PRINCIPAL)
    if user.paid_seat is None:
        out.add(PAID_SEAT)
    if user.created_at is None:  # new accounts get their grace from it
        out.add(CREATED)
    return frozenset(out)


def identifiers_for(user: AhaUser) -> list[str]:
    """The seats a user holds; ``paid_seat`` is the arbiter of paid.

    Disabled users hold none (Aha!'s examples keep ``paid_seat: true`` on disabled users, but
    a disabled user is not billed). Paid users hold one seat per product flag
    (``roadmaps_seat``, ``develop_seat``, ``teamwork_seat``), or ``aha.paid`` when the payload
    has no flags (older API). ``paid_seat: false`` is a free reviewer/viewer whatever the product
    flags say. An unknown ``enabled`` still yields the seats (so the core holds and protects
    them); an unknown ``paid_seat`` yields them as paid, marked unknown.
    """
    if user.enabled is False:
        return []
    if user.paid_seat is False:
        if any(r.role == _REVIEWER_ROLE for r in user.product_roles):
            return [REVIEWER]
        return [VIEWER]
    flags = [
        (ROADMAPS, user.roadmaps_seat),
        (DEVELOP, user.develop_seat),
        (TEAMWORK, user.teamwork_seat),
    ]
    held = [ident for ident, on in flags if on]
    return held or [PAID]


def attributes_for(user: AhaUser) -> dict[str, Any]:
    """What exclusion and reclamation rules may filter on (None = not reported readably)."""
    roles = user.administrator_roles
    return {
        "administrator": administrator_of(user),
        **{role: (None if roles is None else roles.get(role)) for role in ADMIN_ROLES},
        "enabled": user.enabled,
        "paid_seat": user.paid_seat,
        "product_roles": sorted(
            {r.role_description for r in user.product_roles if r.role_description}
        ),
        "product_role_codes": sorted({r.role for r in user.product_roles if r.role is not None}),
        "custom_roles": sorted(
            {str(r.get("name")) for r in user.user_roles if isinstance(r, dict) and r.get("name")}
        ),
        "identity_provider": (user.identity_provider or {}).get("type"),
        "identity_provider_name": (user.identity_provider or {}).get("name"),
        "paid_seat_group": (user.paid_seat_group or {}).get("name"),
        "timezone": user.timezone,
    }


def subscription_records(user: AhaUser) -> list[SubscriptionRecord]:
    """One record per seat the user holds, with what could not be trusted in ``unknown``."""
    attributes = attributes_for(user)
    unknown = unknown_of(user)
    return [
        SubscriptionRecord(
            external_user_id=user.id,
            user_principal_name=user.email or "",
            identifier=identifier,
            display_name=user.name or "",
            last_activity=user.accessed_at,
            external_created=user.created_at,
            attributes=attributes,
            unknown=unknown,
        )
        for identifier in identifiers_for(user)
    ]


def activity_record(user: AhaUser) -> ActivityRecord | None:
    """``accessed_at`` as last activity (``last_activity=None`` = never accessed); None when Aha!
    did not report ``accessed_at`` readably (unknown is not "never")."""
    if user.unclear("accessed_at"):
        return None
    return ActivityRecord(
        external_user_id=user.id,
        user_principal_name=user.email,
        last_activity=user.accessed_at,
        source="aha.accessed_at",
    )
