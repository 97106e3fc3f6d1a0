"""Exclusion rules (keep seats out of cost and/or reclamation) and reclamation rules (when a seat is idle)."""

from __future__ import annotations

import enum
import fnmatch
import importlib
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import attrs

from ._candidates.states import Route
from ._convert import converter, describe_value, structure_config
from ._errors import ConfigError

__all__ = [
    "ExclusionEffect",
    "ExclusionKind",
    "ExclusionRule",
    "ReclamationRule",
    "RuleSet",
    "exclusion_effects",
    "first_exclusion",
    "load_rule_set",
    "structure_rule",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)


class SeatLike(Protocol):
    """What a rule needs to see of a seat: a record from a spoke or a stored subscription."""

    @property
    def user_principal_name(self) -> str: ...
    @property
    def identifier(self) -> str: ...
    @property
    def attributes(self) -> dict[str, Any]: ...


class ExclusionKind(str, enum.Enum):
    """What an exclusion rule matches on."""

    USER = "user"  # user principal name, exact or glob pattern (``svc-*@corp.com``)
    DOMAIN = "domain"  # the part after '@' of the user principal name
    IDENTIFIER = "identifier"  # the subscription identifier, per profile type
    ATTRIBUTE = "attribute"  # any subscription attribute (group, department, administrator…)


class ExclusionEffect(str, enum.Enum):
    """What an exclusion keeps a seat out of."""

    COST = "cost"
    RECLAIM = "reclaim"
    BOTH = "both"

    @property
    def excludes_cost(self) -> bool:
        """True when the matched seat is not counted in license cost."""
        return self in (ExclusionEffect.COST, ExclusionEffect.BOTH)

    @property
    def excludes_reclaim(self) -> bool:
        """True when the matched seat is never proposed for reclaim."""
        return self in (ExclusionEffect.RECLAIM, ExclusionEffect.BOTH)


def _enum(cls: type[E], field: str) -> Callable[[object], E]:
    """A converter to ``cls`` that refuses anything else with the allowed values named."""

    def convert(value: object) -> E:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(
                f"{describe_value(value)} is not allowed",
                field=field,
                hint="use one of " + ", ".join(str(m.value) for m in cls),
            ) from None

    return convert


def _kind(value: object) -> ExclusionKind:
    return _enum(ExclusionKind, "exclusion_rule.kind")(value)


def _effect(value: object) -> ExclusionEffect:
    return _enum(ExclusionEffect, "exclusion_rule.effect")(value)


def _non_empty(field: str):  # type: ignore[no-untyped-def]
    def check(_inst: object, _attr: object, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError("must not be empty", field=field)

    return check


@attrs.frozen(kw_only=True)
class ExclusionRule:
    """A rule that keeps matching seats out of cost, reclamation, or both.

    User, domain and attribute rules apply to every profile; identifier rules apply to the
    ``profile_type`` they name (or to all types when it is None). Matching is case-insensitive
    for principal names and domains, exact for identifiers.
    """

    kind: ExclusionKind = attrs.field(converter=_kind)
    value: str = attrs.field(validator=_non_empty("exclusion_rule.value"))
    attribute: str | None = None
    profile_type: str | None = None
    effect: ExclusionEffect = attrs.field(default=ExclusionEffect.BOTH, converter=_effect)
    active: bool = True
    description: str = ""
    id: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind is ExclusionKind.ATTRIBUTE and not self.attribute:
            raise ConfigError(
                "an attribute rule needs the attribute to match",
                field="exclusion_rule.attribute",
                hint="e.g. attribute='department', value='Executive'",
            )

    def matches(self, seat: SeatLike, profile_type: str | None = None) -> bool:
        """Whether this rule (if active) covers ``seat`` within a profile of ``profile_type``."""
        if not self.active:
            return False
        if self.kind is ExclusionKind.USER:
            return fnmatch.fnmatchcase(seat.user_principal_name.lower(), self.value.lower())
        if self.kind is ExclusionKind.DOMAIN:
            domain = seat.user_principal_name.rpartition("@")[2].lower()
            want = self.value.lower().lstrip("@")
            return domain == want or domain.endswith("." + want)
        if self.kind is ExclusionKind.IDENTIFIER:
            same_type = self.profile_type is None or self.profile_type == profile_type
            return same_type and seat.identifier == self.value
        got = seat.attributes.get(self.attribute or "")
        if isinstance(got, (list, tuple)):
            return any(str(item).lower() == self.value.lower() for item in got)
        if isinstance(got, bool):
            return str(got).lower() == self.value.lower()
        return got is not None and str(got).lower() == self.value.lower()


def first_exclusion(
    rules: Sequence[ExclusionRule],
    seat: SeatLike,
    profile_type: str | None,
    *,
    reclaim: bool,
) -> ExclusionRule | None:
    """The first active rule that excludes ``seat`` from reclaim (``reclaim=True``) or from cost."""
    for rule in rules:
        wanted = rule.effect.excludes_reclaim if reclaim else rule.effect.excludes_cost
        if wanted and rule.matches(seat, profile_type):
            return rule
    return None


def exclusion_effects(
    rules: Iterable[ExclusionRule], seat: SeatLike, profile_type: str | None
) -> frozenset[str]:
    """What the active rules keep ``seat`` out of: a subset of ``{"cost", "reclaim"}``.

    The answer depends only on the *set* of rules: order and repetition never change it.
    """
    out: set[str] = set()
    for rule in rules:
        if rule.matches(seat, profile_type):
            if rule.effect.excludes_cost:
                out.add("cost")
            if rule.effect.excludes_reclaim:
                out.add("reclaim")
    return frozenset(out)


def _days(field: str, low: int, high: int):  # type: ignore[no-untyped-def]
    def check(_inst: object, _attr: object, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(
                f"{describe_value(value)} is not a whole number of days",
                field=field,
                hint=f"use whole days from {low} to {high}",
            )
        if not low <= value <= high:
            raise ConfigError(
                f"{value!r} is out of range",
                field=field,
                hint=f"use whole days from {low} to {high}",
            )

    return check


@attrs.frozen(kw_only=True)
class ReclamationRule:
    """When a seat of one software model counts as idle, and how it is taken back.

    ``filter`` narrows the rule to seats whose attributes equal the given values. With
    ``notify_user`` the user is asked first and has ``days_before_auto_reclaim`` days to answer;
    a "keep" goes to ``approver`` (else the seat's manager, else ``approver_group``, else the
    profile's group) unless ``keep_requires_approval`` is off, and a kept seat is
    not proposed again for ``cooldown_days``. Seats created or assigned less than
    ``new_account_grace_days`` ago are never proposed.
    """

    software_model: str = attrs.field(validator=_non_empty("reclamation_rule.software_model"))
    inactivity_days: int = attrs.field(
        default=60, validator=_days("reclamation_rule.inactivity_days", 1, 3650)
    )
    new_account_grace_days: int = attrs.field(
        default=30, validator=_days("reclamation_rule.new_account_grace_days", 0, 3650)
    )
    notify_user: bool = False
    days_before_auto_reclaim: int = attrs.field(
        default=7, validator=_days("reclamation_rule.days_before_auto_reclaim", 0, 365)
    )
    cooldown_days: int = attrs.field(
        default=30, validator=_days("reclamation_rule.cooldown_days", 0, 3650)
    )
    create_candidates: bool = True
    filter: dict[str, Any] = attrs.Factory(dict)
    active: bool = True
    id: int | None = None
    keep_requires_approval: bool = True
    approver: str | None = None
    #: The approver group when neither ``approver`` nor the seat's manager is set (None: the
    #: profile's group, by default "Software managers").
    approver_group: str | None = None
    remind_days_before: int = attrs.field(
        default=1, validator=_days("reclamation_rule.remind_days_before", 0, 365)
    )

    @property
    def route(self) -> Route:
        """The settings that steer a candidate of this rule through the state machine."""
        return Route(
            notify_user=self.notify_user,
            days_before_auto_reclaim=self.days_before_auto_reclaim,
            keep_requires_approval=self.keep_requires_approval,
        )

    def applies_to(self, seat: SeatLike) -> bool:
        """Whether the rule's filter matches ``seat`` (an empty filter matches everything)."""
        for key, want in self.filter.items():
            got = seat.attributes.get(key)
            if isinstance(got, (list, tuple)):
                if want not in got:
                    return False
            elif got != want:
                return False
        return True


def structure_rule(data: Any, cls: type[T], *, what: str) -> T:
    """Build a rule (or :class:`RuleSet`) from user config; unknown keys and bad values are errors
    that name the field."""
    return structure_config(data, cls, what=what)


@attrs.frozen(kw_only=True)
class RuleSet:
    """Exclusion and reclamation rules as one document, for import and export (JSON or TOML)."""

    exclusions: list[ExclusionRule] = attrs.Factory(list)
    reclamation: list[ReclamationRule] = attrs.Factory(list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict without store ids, loadable again with :func:`load_rule_set`."""
        out: dict[str, Any] = converter.unstructure(self)
        for section in ("exclusions", "reclamation"):
            for item in out[section]:
                item.pop("id", None)
        return out


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def load_rule_set(source: str | Path | dict[str, Any]) -> RuleSet:
    """Read a rule set from a dict, a ``.json`` file or a ``.toml`` file (strictly: see
    :func:`~saas_license._convert.structure_config`); errors name the file and the field."""
    if isinstance(source, dict):
        return structure_rule(source, RuleSet, what="rules")
    path = Path(source)
    label = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", field="rules file") from None
    try:
        if b"\x00" in raw:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL byte")
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is not a text file (binary data)",
            field="rules file",
            hint="give a UTF-8 JSON or TOML rules file (as exported by CLI `rules export`, Python `ws.rules.export()`)",
        ) from None
    if path.suffix.lower() == ".toml":
        # tomllib is in the standard library from 3.11; tomli is the same parser for 3.10.
        tomllib = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
        try:
            data = tomllib.loads(text)
        except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
            raise ConfigError(f"{path} is not valid TOML: {exc}", field="rules file") from None
    else:
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:  # JSONDecodeError, NaN/Infinity, a number too long to read
            raise ConfigError(f"{path} is not valid JSON: {exc}", field="rules file") from None
    if not isinstance(data, dict):
        raise ConfigError(
            "a rules file holds an object with 'exclusions' and/or 'reclamation' lists",
            field="rules file",
        )
    return structure_rule(data, RuleSet, what=f"{label}:")
