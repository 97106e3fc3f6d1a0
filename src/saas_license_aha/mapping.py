"""From Aha! users to seats: which identifiers a user holds, and the attributes rules can use."""

from __future__ import annotations

from typing import Any

from saas_license import ActivityRecord, KnownIdentifier, SubscriptionRecord

from ._payloads import AhaUser

__all__ = ["IDENTIFIERS", "activity_record", "identifiers_for", "subscription_records"]

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


def identifiers_for(user: AhaUser) -> list[str]:
    """The seats a user holds. Disabled users hold none (disabled = not billed)."""
    if not user.enabled:
        return []
    flags = [
        (ROADMAPS, user.roadmaps_seat),
        (DEVELOP, user.develop_seat),
        (TEAMWORK, user.teamwork_seat),
    ]
    held = [ident for ident, on in flags if on]
    if held:
        return held
    if user.paid_seat:
        return [PAID]
    if any(r.role == _REVIEWER_ROLE for r in user.product_roles):
        return [REVIEWER]
    return [VIEWER]


def attributes_for(user: AhaUser) -> dict[str, Any]:
    """What exclusion and reclamation rules may filter on."""
    roles = user.administrator_roles
    return {
        "administrator": user.administrator,
        "administer_account": bool(roles.get("administer_account")),
        "administer_billing": bool(roles.get("administer_billing")),
        "administer_configuration": bool(roles.get("administer_configuration")),
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
    """One record per seat the user holds."""
    attributes = attributes_for(user)
    return [
        SubscriptionRecord(
            external_user_id=user.id,
            user_principal_name=user.email,
            identifier=identifier,
            display_name=user.name,
            last_activity=user.accessed_at,
            external_created=user.created_at,
            attributes=attributes,
        )
        for identifier in identifiers_for(user)
    ]


def activity_record(user: AhaUser) -> ActivityRecord:
    """``accessed_at`` as last activity (None = never accessed)."""
    return ActivityRecord(
        external_user_id=user.id,
        user_principal_name=user.email,
        last_activity=user.accessed_at,
        source="aha.accessed_at",
    )
