"""From Aha! users to seats: which identifiers a user holds, and the attributes rules can use."""

from __future__ import annotations

import datetime as dt
from typing import Any

from saas_license.spoke import ActivityRecord, KnownIdentifier, SubscriptionRecord, parse_instant

from ._payloads import ADMIN_ROLES, AhaUser, parse_user

__all__ = [
    "IDENTIFIERS",
    "activity_record",
    "administrator_of",
    "attributes_for",
    "identifiers_for",
    "subscription_records",
    "unknown_of",
    "user_seats",
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


#: Distinct attribute sets one listing shares between users (beyond it, users get their own).
SHARED_MAX = 4096


def user_seats(
    data: Any, *, where: str = "user", shared: dict[Any, dict[str, Any]] | None = None
) -> tuple[str, list[SubscriptionRecord]]:
    """A wire user object straight to ``(user id, its seat records)``: the same records as
    ``subscription_records(parse_user(data))``, built directly for the well-formed common case
    (no :class:`AhaUser` in between); any other shape takes that reference path.

    With ``shared`` (one dict per listing) users with equal attributes get the same dict, so
    the core checks and encodes each distinct set once; nothing may change them afterwards.
    """
    plain = _plain_seats(data, shared)
    if plain is not None:
        return plain
    user = parse_user(data, where=where)
    return user.id, subscription_records(user)


#: Every ``unknown`` set the direct reading can give, by bit mask (immutable, so shared).
_UNKNOWN_SETS: tuple[frozenset[str], ...] = tuple(
    frozenset(
        name
        for bit, name in enumerate(
            (ADMINISTRATOR, ENABLED, LAST_ACTIVITY, PRINCIPAL, PAID_SEAT, CREATED)
        )
        if mask >> bit & 1
    )
    for mask in range(64)
)

#: An instant Aha! did not report readably (absent, or not an ISO-8601 text with a zone).
_UNCLEAR: Any = object()


_UTC = dt.timezone.utc
_fromisoformat = dt.datetime.fromisoformat


def _instant(data: dict[str, Any], name: str) -> dt.datetime | None:
    """As ``_Reader.instant``: the instant, None for an explicit null, else :data:`_UNCLEAR`."""
    if name not in data:
        return _UNCLEAR  # type: ignore[no-any-return]
    value = data[name]
    if value is None:
        return None
    if isinstance(value, str):
        if value[-1:] == "Z" and value[:1].isdigit():
            # Aha!'s own form (``2026-11-19T05:46:00.000Z``): exactly what parse_instant does
            # with it (nothing to strip, ``Z`` read as +00:00, already UTC), in a fifth the time
            try:
                parsed = _fromisoformat(value[:-1] + "+00:00")
            except ValueError:  # 3.10 reads fewer forms: parse_instant decides
                parsed = None
            if parsed is not None and parsed.tzinfo is _UTC:
                return parsed
        try:
            return parse_instant(value)
        except ValueError:
            pass
    return _UNCLEAR  # type: ignore[no-any-return]


def _plain_seats(
    data: Any, shared: dict[Any, dict[str, Any]] | None = None
) -> tuple[str, list[SubscriptionRecord]] | None:
    """:func:`user_seats` for a user whose every field the records read is absent, null or of
    its plain JSON type (flags true/false, texts, objects, well-formed roles); None otherwise.

    ``tests/aha/test_user_seats.py`` requires it to agree with the reference path on any payload.
    """
    if type(data) is not dict or "user" in data:
        return None
    get = data.get
    uid = get("id")
    if type(uid) is not str or not uid:
        return None
    enabled = get("enabled")
    if enabled is False:  # a disabled user holds no seat, whatever else the record says
        return uid, []
    paid = get("paid_seat")
    admin = get("administrator")
    if not (
        (enabled is None or enabled is True)
        and (paid is None or type(paid) is bool)
        and (admin is None or type(admin) is bool)
    ):
        return None
    email, name, timezone = get("email"), get("name"), get("timezone")
    if not (
        (email is None or type(email) is str)
        and (name is None or type(name) is str)
        and (timezone is None or type(timezone) is str)
    ):
        return None
    roles = get("administrator_roles")
    any_role = every_role_false = False
    if roles is not None:
        if type(roles) is not dict:
            return None
        for value in roles.values():
            if type(value) is not bool:
                return None
            if value:
                any_role = True
        every_role_false = bool(roles) and not any_role
    idp, group = get("identity_provider"), get("paid_seat_group")
    if not ((idp is None or type(idp) is dict) and (group is None or type(group) is dict)):
        return None
    descriptions: set[str] = set()
    codes: set[int] = set()
    reviewer = False
    product_roles = get("product_roles")
    if product_roles is not None:
        if type(product_roles) is not list:
            return None
        for item in product_roles:
            if type(item) is not dict:
                return None
            role = item.get("role")
            description = item.get("role_description", "")
            product_id, product_name = item.get("product_id"), item.get("product_name")
            if not (
                (role is None or type(role) is int)
                and type(description) is str
                and (product_id is None or type(product_id) is str)
                and (product_name is None or type(product_name) is str)
            ):
                return None
            if description:
                descriptions.add(description)
            if role is not None:
                codes.add(role)
                if role == _REVIEWER_ROLE:
                    reviewer = True
    user_roles = get("user_roles")
    custom: set[str] = set()
    if user_roles is not None:
        if type(user_roles) is not list:
            return None
        for item in user_roles:
            if isinstance(item, dict) and item.get("name"):
                custom.add(str(item.get("name")))
    accessed = _instant(data, "accessed_at")
    created = _instant(data, "created_at")
    roadmaps, develop, teamwork = get("roadmaps_seat"), get("develop_seat"), get("teamwork_seat")
    if not (
        (roadmaps is None or type(roadmaps) is bool)
        and (develop is None or type(develop) is bool)
        and (teamwork is None or type(teamwork) is bool)
    ):
        return None
    # administrator_of, for readable roles
    if any_role or admin is True:
        administrator: bool | None = True
    elif admin is False or every_role_false:
        administrator = False
    else:
        administrator = None
    if paid is False:
        identifiers = [REVIEWER if reviewer else VIEWER]
    else:
        identifiers = []
        if roadmaps:
            identifiers.append(ROADMAPS)
        if develop:
            identifiers.append(DEVELOP)
        if teamwork:
            identifiers.append(TEAMWORK)
        if not identifiers:
            identifiers.append(PAID)
    # unknown_of, as a bit mask of its six names
    mask = 0
    if administrator is None:
        mask |= 1
    if enabled is None:
        mask |= 2
    if accessed is _UNCLEAR:
        mask |= 4
        accessed = None
    if not email:
        mask |= 8
    if paid is None:
        mask |= 16
    if created is None or created is _UNCLEAR:
        mask |= 32
        created = None
    idp_type, idp_name = (None, None) if idp is None else (idp.get("type"), idp.get("name"))
    group_name = None if group is None else group.get("name")
    admin_roles = (None, None, None) if roles is None else tuple(map(roles.get, ADMIN_ROLES))
    role_names = sorted(descriptions) if descriptions else []
    role_codes = sorted(codes) if codes else []
    custom_names = sorted(custom) if custom else []
    key: tuple[Any, ...] | None = None
    attributes: dict[str, Any] | None = None
    if (
        shared is not None
        and (idp_type is None or type(idp_type) is str)
        and (idp_name is None or type(idp_name) is str)
        and (group_name is None or type(group_name) is str)
    ):
        # users alike share one dict: checked, encoded and staged once (values typed above,
        # so equal keys mean equal attributes: no True == 1 confusion)
        key = (
            administrator,
            admin_roles,
            enabled,
            paid,
            tuple(role_names),
            tuple(role_codes),
            tuple(custom_names),
            idp_type,
            idp_name,
            group_name,
            timezone,
        )
        attributes = shared.get(key)
    if attributes is None:
        attributes = {"administrator": administrator}
        attributes.update(zip(ADMIN_ROLES, admin_roles, strict=True))
        attributes.update(
            enabled=enabled,
            paid_seat=paid,
            product_roles=role_names,
            product_role_codes=role_codes,
            custom_roles=custom_names,
            identity_provider=idp_type,
            identity_provider_name=idp_name,
            paid_seat_group=group_name,
            timezone=timezone,
        )
        if key is not None and shared is not None and len(shared) < SHARED_MAX:
            shared[key] = attributes
    frozen = _UNKNOWN_SETS[mask]
    return uid, [
        SubscriptionRecord(
            external_user_id=uid,
            user_principal_name=email or "",
            identifier=identifier,
            display_name=name or "",
            last_activity=accessed,
            external_created=created,
            attributes=attributes,
            unknown=frozen,
        )
        for identifier in identifiers
    ]
