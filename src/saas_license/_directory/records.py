"""The person record a directory yields."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from .._errors import ConfigError

__all__ = ["EMPLOYMENT_STATUSES", "Person", "normalise_email"]

#: Employment statuses rules commonly use; others are allowed (lower-cased) for local vocabularies.
EMPLOYMENT_STATUSES = ("active", "contractor", "leaver", "on_leave")


def normalise_email(value: str) -> str:
    """The key an address is looked up by: trimmed and case-folded (``Ann@Corp.COM`` = ``ann@corp.com``)."""
    return value.strip().casefold()


def _email(field: str) -> Callable[[object, object, str], None]:
    def check(_inst: object, _attr: object, value: str) -> None:
        text = value.strip()
        if not text or "@" not in text or len(text.split(maxsplit=1)) != 1:
            raise ConfigError(
                f"{value!r} is not an e-mail address", field=field, hint="write it as name@domain"
            )

    return check


def _emails(_inst: object, _attr: object, values: tuple[str, ...]) -> None:
    for value in values:
        _email("person.aliases")(_inst, _attr, value)


def _optional_email(inst: object, attr: object, value: str | None) -> None:
    if value is not None:
        _email("person.manager_email")(inst, attr, value)


def _strip(value: str) -> str:
    return value.strip()


def _strip_all(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(a.strip() for a in values)


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None


def _status(value: str | None) -> str | None:
    text = _blank_to_none(value)
    return text.casefold().replace(" ", "_").replace("-", "_") if text else None


@attrs.frozen(kw_only=True)
class Person:
    """One person of the organisation, as the directory knows them.

    ``email`` and ``aliases`` are what vendors report (matched case-insensitively);
    ``manager_email`` routes approvals; ``department``, ``cost_center`` and
    ``employment_status`` (lower-cased, e.g. ``active``, ``contractor``, ``leaver``) feed
    exclusion rules and the showback breakdown.
    """

    email: str = attrs.field(converter=_strip, validator=_email("person.email"))
    aliases: tuple[str, ...] = attrs.field(default=(), converter=_strip_all, validator=_emails)
    name: str = ""
    manager_email: str | None = attrs.field(
        default=None, converter=_blank_to_none, validator=_optional_email
    )
    department: str | None = attrs.field(default=None, converter=_blank_to_none)
    cost_center: str | None = attrs.field(default=None, converter=_blank_to_none)
    employment_status: str | None = attrs.field(default=None, converter=_status)

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address this person is known by, normalised: the e-mail first, then aliases."""
        every = (normalise_email(self.email), *(normalise_email(a) for a in self.aliases))
        return tuple(dict.fromkeys(every))

    def facts(self) -> dict[str, str]:
        """The person's facts as ``directory.*`` attributes, the names rules and reports use."""
        pairs = {
            "directory.email": self.email,
            "directory.name": self.name,
            "directory.manager_email": self.manager_email,
            "directory.department": self.department,
            "directory.cost_center": self.cost_center,
            "directory.employment_status": self.employment_status,
        }
        return {k: v for k, v in pairs.items() if v}
