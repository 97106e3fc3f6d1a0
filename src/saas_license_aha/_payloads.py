"""Aha! wire records: tolerant of unknown fields and of one odd field, honest about what was odd.

A user record is read field by field (not in one strict pass): a null ``name``, a missing
``email``, a numeric ``accessed_at`` or a ``paid_seat: null`` must not fail a whole page of
users. Each field that was absent (``missing``) or present in a form we cannot read
(``unreadable``) is recorded on the record, so the mapping can report it as unknown instead
of guessing. Only a record without a usable ``id`` (nothing can be said about it) or a page
that is not a page fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs

from saas_license.spoke import BadPayloadError, parse_instant
from saas_license.spoke import converter as _core

__all__ = [
    "ADMIN_ROLES",
    "AhaAudit",
    "AhaPagination",
    "AhaProductRole",
    "AhaUser",
    "parse_audits_page",
    "parse_bool",
    "parse_user",
    "parse_users_page",
    "read_users_page",
]

T = TypeVar("T")

#: The administrator roles Aha! documents on users (read and ``PUT``).
ADMIN_ROLES = ("administer_account", "administer_billing", "administer_configuration")


@attrs.frozen(kw_only=True)
class AhaProductRole:
    """A user's role in one Aha! workspace (20 owner, 30 contributor, 35 developer, 40 reviewer, 50 viewer)."""

    role: int | None = None
    role_description: str = ""
    product_id: str | None = None
    product_name: str | None = None


@attrs.frozen(kw_only=True)
class AhaUser:
    """The fields of an Aha! account user that license management reads.

    ``None`` means absent, null or unreadable; ``missing`` and ``unreadable`` say which (wire
    field names, e.g. ``"accessed_at"``), so "never accessed" (an explicit null) stays apart
    from "not reported".
    """

    id: str
    email: str | None = None
    name: str | None = None
    enabled: bool | None = None
    paid_seat: bool | None = None
    roadmaps_seat: bool | None = None
    develop_seat: bool | None = None
    teamwork_seat: bool | None = None
    administrator: bool | None = None
    #: Role name → value; a role whose value could not be read maps to None.
    administrator_roles: dict[str, bool | None] | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    accessed_at: dt.datetime | None = None
    product_roles: list[AhaProductRole] = attrs.Factory(list)
    user_roles: list[dict[str, Any]] = attrs.Factory(list)
    identity_provider: dict[str, Any] | None = None
    paid_seat_group: dict[str, Any] | None = None
    timezone: str | None = None
    missing: frozenset[str] = frozenset()
    unreadable: frozenset[str] = frozenset()

    def unclear(self, field: str) -> bool:
        """Whether ``field`` was absent or unreadable."""
        return field in self.missing or field in self.unreadable


@attrs.frozen(kw_only=True)
class AhaPagination:
    """The top-level ``pagination`` object of Aha! list responses."""

    total_records: int = 0
    total_pages: int = 0
    current_page: int = 1


@attrs.frozen(kw_only=True)
class AhaAuditActor:
    """The user who made an audited change (absent for system changes)."""

    id: str
    email: str | None = None


@attrs.frozen(kw_only=True)
class AhaAudit:
    """One audit record: who changed what, when (only writes are audited, never reads)."""

    id: str
    created_at: dt.datetime
    audit_action: str | None = None
    auditable_type: str | None = None
    user: AhaAuditActor | None = None


def parse_bool(value: Any) -> bool:
    """A JSON boolean, or the ``'true'``/``'false'`` strings Aha! documents for some attributes."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"expected true or false, got {value!r}")


def _strict_bool(value: Any, _t: Any) -> bool:
    return parse_bool(value)


def _strict_str(value: Any, _t: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # Aha! ids are numeric strings, but some payloads send numbers
    raise ValueError(f"expected a string, got {value!r}")


def _strict_int(value: Any, _t: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"expected a whole number, got {value!r}")


converter = _core.copy()
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(int, _strict_int)


def _explain(exc: Exception, where: str) -> BadPayloadError:
    if isinstance(exc, cattrs.BaseValidationError):
        detail = "; ".join(cattrs.transform_error(exc, path=where))
    else:
        detail = f"{where}: {exc}"
    return BadPayloadError(
        f"Aha! sent a record we cannot read ({detail})",
        hint="nothing was stored from this run; if the account is fine, report this payload shape",
    )


def _plain_product_role(item: Any) -> AhaProductRole | None:
    """The common, well-formed product role built directly (what the converter would build,
    at a fraction of the cost); None for anything else, which the converter then reads."""
    if type(item) is not dict:
        return None
    role = item.get("role")
    description = item.get("role_description", "")
    product_id = item.get("product_id")
    product_name = item.get("product_name")
    if (
        (role is None or type(role) is int)
        and type(description) is str
        and (product_id is None or type(product_id) is str)
        and (product_name is None or type(product_name) is str)
    ):
        return AhaProductRole(
            role=role,
            role_description=description,
            product_id=product_id,
            product_name=product_name,
        )
    return None


class _Reader:
    """Reads one user object field by field, noting what was absent or unreadable."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.missing: set[str] = set()
        self.unreadable: set[str] = set()

    def _get(self, name: str) -> tuple[bool, Any]:
        if name not in self.data:
            self.missing.add(name)
            return False, None
        return True, self.data[name]

    def text(self, name: str) -> str | None:
        present, value = self._get(name)
        if not present or value is None:
            return None
        try:
            return _strict_str(value, str)
        except ValueError:
            self.unreadable.add(name)
            return None

    def flag(self, name: str) -> bool | None:
        present, value = self._get(name)
        if not present:
            return None
        try:
            return parse_bool(value)
        except ValueError:
            self.unreadable.add(name)  # null counts as unreadable: a flag is true or false
            return None

    def instant(self, name: str) -> dt.datetime | None:
        present, value = self._get(name)
        if not present or value is None:
            return None
        if isinstance(value, str):
            try:
                return parse_instant(value)
            except ValueError:
                pass
        self.unreadable.add(name)
        return None

    def obj(self, name: str) -> dict[str, Any] | None:
        present, value = self._get(name)
        if not present or value is None:
            return None
        if isinstance(value, dict):
            return dict(value)
        self.unreadable.add(name)
        return None

    def roles(self) -> dict[str, bool | None] | None:
        raw = self.obj("administrator_roles")
        if raw is None:
            return None
        out: dict[str, bool | None] = {}
        for key, value in raw.items():
            try:
                out[str(key)] = parse_bool(value)
            except ValueError:
                out[str(key)] = None
                self.unreadable.add("administrator_roles")
        return out

    def product_roles(self) -> list[AhaProductRole]:
        present, value = self._get("product_roles")
        if not present or value is None:
            return []
        if not isinstance(value, list):
            self.unreadable.add("product_roles")
            return []
        out = []
        for item in value:
            role = _plain_product_role(item)
            if role is not None:
                out.append(role)
                continue
            try:
                out.append(converter.structure(item, AhaProductRole))
            except Exception:
                self.unreadable.add("product_roles")
        return out

    def user_roles(self) -> list[dict[str, Any]]:
        present, value = self._get("user_roles")
        if not present or value is None:
            return []
        if not isinstance(value, list):
            self.unreadable.add("user_roles")
            return []
        return [dict(item) for item in value if isinstance(item, dict)]


def parse_user(data: Any, *, where: str = "user") -> AhaUser:
    """One user object (GET is wrapped in ``user``, PUT is not: both are accepted).

    Odd fields are recorded (``missing``/``unreadable``), never fatal; only a record that is
    not an object or has no usable ``id`` raises :class:`BadPayloadError`.
    """
    if isinstance(data, dict) and isinstance(data.get("user"), dict):
        data = data["user"]
    if not isinstance(data, dict):
        raise BadPayloadError(
            f"Aha! sent {type(data).__name__} where a user object was expected ({where})"
        )
    raw_id = data.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id) == "":
        raise _explain(ValueError(f"a user without a usable id ({raw_id!r})"), f"{where}.id")
    r = _Reader(data)
    return AhaUser(
        id=str(raw_id),
        email=r.text("email"),
        name=r.text("name"),
        enabled=r.flag("enabled"),
        paid_seat=r.flag("paid_seat"),
        roadmaps_seat=r.flag("roadmaps_seat"),
        develop_seat=r.flag("develop_seat"),
        teamwork_seat=r.flag("teamwork_seat"),
        administrator=r.flag("administrator"),
        administrator_roles=r.roles(),
        created_at=r.instant("created_at"),
        updated_at=r.instant("updated_at"),
        accessed_at=r.instant("accessed_at"),
        product_roles=r.product_roles(),
        user_roles=r.user_roles(),
        identity_provider=r.obj("identity_provider"),
        paid_seat_group=r.obj("paid_seat_group"),
        timezone=r.text("timezone"),
        missing=frozenset(r.missing),
        unreadable=frozenset(r.unreadable),
    )


def parse_users_page(data: Any, *, page: int) -> tuple[list[AhaUser], AhaPagination]:
    """One page of ``GET /api/v1/users``: the ``users`` array and the top-level ``pagination``."""
    return read_users_page(data, page=page, read=parse_user)


def read_users_page(
    data: Any, *, page: int, read: Callable[..., T]
) -> tuple[list[T], AhaPagination]:
    """One page of ``GET /api/v1/users``, each user object read by ``read(obj, where=…)``
    (:func:`parse_user`, or the mapping's direct reading into seats)."""
    if not isinstance(data, dict) or not isinstance(data.get("users"), list):
        raise BadPayloadError(
            f"Aha! users page {page} has no 'users' list",
            hint="check that the base URL is the account URL (https://<account>.aha.io)",
        )
    users = [read(u, where=f"users page {page}[{i}]") for i, u in enumerate(data["users"])]
    return users, _pagination(data, len(users), page, "users")


def _pagination(data: dict[str, Any], count: int, page: int, what: str) -> AhaPagination:
    raw = data.get("pagination")
    if raw is None:
        return AhaPagination(total_records=count, total_pages=1, current_page=page)
    try:
        return converter.structure(raw, AhaPagination)
    except Exception as exc:
        raise _explain(exc, f"{what} page {page}.pagination") from None


def parse_audits_page(data: Any, *, page: int) -> tuple[list[AhaAudit], AhaPagination]:
    """One page of ``GET /api/v1/audits``: the ``audits`` array and the top-level ``pagination``."""
    if not isinstance(data, dict) or not isinstance(data.get("audits"), list):
        raise BadPayloadError(
            f"Aha! audits page {page} has no 'audits' list",
            hint="check that the base URL is the account URL (https://<account>.aha.io)",
        )
    audits = []
    for i, raw in enumerate(data["audits"]):
        try:
            audits.append(converter.structure(raw, AhaAudit))
        except Exception as exc:
            raise _explain(exc, f"audits page {page}[{i}]") from None
    return audits, _pagination(data, len(audits), page, "audits")
