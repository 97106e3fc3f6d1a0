"""Aha! wire records: tolerant of unknown fields, strict about the ones we rely on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import cattrs

from saas_license._convert import converter as _core
from saas_license.errors import BadPayloadError

__all__ = [
    "AhaAudit",
    "AhaPagination",
    "AhaProductRole",
    "AhaUser",
    "parse_audits_page",
    "parse_user",
    "parse_users_page",
]


@attrs.frozen(kw_only=True)
class AhaProductRole:
    """A user's role in one Aha! workspace (20 owner, 30 contributor, 35 developer, 40 reviewer, 50 viewer)."""

    role: int | None = None
    role_description: str = ""
    product_id: str | None = None
    product_name: str | None = None


@attrs.frozen(kw_only=True)
class AhaUser:
    """The fields of an Aha! account user that license management reads."""

    id: str
    email: str
    name: str = ""
    enabled: bool = True
    paid_seat: bool = False
    roadmaps_seat: bool | None = None
    develop_seat: bool | None = None
    teamwork_seat: bool | None = None
    administrator: bool = False
    administrator_roles: dict[str, bool] = attrs.Factory(dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    accessed_at: dt.datetime | None = None
    product_roles: list[AhaProductRole] = attrs.Factory(list)
    user_roles: list[dict[str, Any]] = attrs.Factory(list)
    identity_provider: dict[str, Any] | None = None
    paid_seat_group: dict[str, Any] | None = None
    timezone: str | None = None


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


def _strict_bool(value: Any, _t: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"expected true or false, got {value!r}")


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


def parse_user(data: Any, *, where: str = "user") -> AhaUser:
    """One user object (GET is wrapped in ``user``, PUT is not: both are accepted)."""
    if isinstance(data, dict) and isinstance(data.get("user"), dict):
        data = data["user"]
    if not isinstance(data, dict):
        raise BadPayloadError(
            f"Aha! sent {type(data).__name__} where a user object was expected ({where})"
        )
    try:
        return converter.structure(data, AhaUser)
    except Exception as exc:
        raise _explain(exc, where) from None


def parse_users_page(data: Any, *, page: int) -> tuple[list[AhaUser], AhaPagination]:
    """One page of ``GET /api/v1/users``: the ``users`` array and the top-level ``pagination``."""
    if not isinstance(data, dict) or not isinstance(data.get("users"), list):
        raise BadPayloadError(
            f"Aha! users page {page} has no 'users' list",
            hint="check that the base URL is the account URL (https://<account>.aha.io)",
        )
    users = [parse_user(u, where=f"users page {page}[{i}]") for i, u in enumerate(data["users"])]
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
