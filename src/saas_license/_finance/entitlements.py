"""Entitlements: the rights bought for a software model, what they cost, and when they are in force.

An entitlement's state follows its dates (draft before ``start``, in use until ``end``, retired
after it or from ``retired_on``). Money is :class:`~decimal.Decimal` from input to output; a
float unit cost is refused rather than silently rounded.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import attrs

from .._errors import ConfigError
from .pricing import UnitPrice

__all__ = [
    "AMOUNT_FORMAT",
    "CURRENCIES",
    "ENTITLEMENT_COLUMNS",
    "MAX_RIGHTS",
    "MAX_UNIT_COST",
    "Entitlement",
    "EntitlementChecker",
    "EntitlementPriceBook",
    "EntitlementState",
    "SubscriptionPeriod",
    "annual_unit_cost",
    "average_annual_price",
    "check_currency",
    "entitlements_in_use",
    "local_date",
    "parse_date",
    "parse_money",
    "quantize_money",
]

CENT = Decimal("0.01")

#: Columns of the entitlements table (``ws.finance.entitlements_table``, ``entitlements list``).
ENTITLEMENT_COLUMNS = (
    "id",
    "name",
    "software_model",
    "profile",
    "purchased_rights",
    "unit_cost",
    "currency",
    "period",
    "start",
    "end",
    "state",
    "retired_on",
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")

#: Active ISO 4217 currency codes (the standard library has no list). Precious metals, fund
#: units and test codes (XAU, XDR, XTS, XXX…) are left out: nobody buys seats in them.
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD
    XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""
CURRENCIES = frozenset(_ISO_4217.split())

#: The largest number of rights one entitlement may hold, and the largest unit cost: anything
#: above is a typo (``1e23`` rights), not a contract.
MAX_RIGHTS = 10_000_000
MAX_UNIT_COST = Decimal("1000000000")

#: The one accepted amount format: digits, ``.`` before the decimals, ``,`` only between
#: groups of three digits (``1200.50``, ``1,200.50``).
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
AMOUNT_FORMAT = (
    "digits with '.' before the decimals, ',' only between thousands (1200.50 or 1,200.50)"
)


class EntitlementState(str, enum.Enum):
    """Where an entitlement is in its life, derived from its dates."""

    DRAFT = "draft"  # bought but not started yet
    IN_USE = "in_use"  # rights count as owned
    RETIRED = "retired"  # ended or retired by hand: no rights owned


class SubscriptionPeriod(str, enum.Enum):
    """What one ``unit_cost`` pays for: one month, quarter or year of a seat, or the whole term."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"
    TERM = "term"  # the unit cost covers start..end; needs an end date

    @property
    def per_year(self) -> int | None:
        """How many periods make a year (None for a whole-term price)."""
        return {"monthly": 12, "quarterly": 4, "annually": 1}.get(self.value)


def quantize_money(value: Decimal) -> Decimal:
    """Round an amount to cents, half up, as invoices do."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_money(value: object, *, field: str) -> Decimal:
    """A non-negative, finite Decimal up to :data:`MAX_UNIT_COST` from a Decimal, int or string
    in the one documented format (:data:`AMOUNT_FORMAT`); floats and ``1.200,50`` are refused."""
    if isinstance(value, (bool, float)):
        raise ConfigError(
            f"{value!r} is a float; money must be exact",
            field=field,
            hint="pass a string such as '12.50' or a decimal.Decimal",
        )
    if isinstance(value, Decimal):
        amount = Decimal(format(value, "f")) if value.is_finite() else value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _AMOUNT.match(text):
            raise ConfigError(
                f"{value!r} is not an amount in the accepted format",
                field=field,
                hint=f"write {AMOUNT_FORMAT}",
            )
        amount = Decimal(text.replace(",", ""))
    else:
        raise ConfigError(f"{value!r} is not an amount", field=field, hint=f"write {AMOUNT_FORMAT}")
    if not amount.is_finite() or amount < 0 or amount > MAX_UNIT_COST:
        raise ConfigError(
            f"{value!r} is out of range",
            field=field,
            hint=f"use an amount from 0 to {MAX_UNIT_COST:,}",
        )
    return amount


def parse_date(value: object, *, field: str) -> dt.date:
    """A calendar date from a ``date`` or an ISO ``YYYY-MM-DD`` string (datetimes are refused)."""
    if isinstance(value, dt.datetime):
        raise ConfigError(
            f"{value!r} is a timestamp; give a calendar date", field=field, hint="e.g. 2026-01-31"
        )
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(
        f"{value!r} is not a date", field=field, hint="use YYYY-MM-DD, e.g. 2026-01-31"
    )


def local_date(at: dt.datetime, timezone: str) -> dt.date:
    """The calendar day ``at`` falls on in the organisation's time zone."""
    if at.tzinfo is None:
        raise ValueError("refusing a naive datetime; attach a time zone")
    return at.astimezone(ZoneInfo(timezone)).date()


def _money(value: object) -> Decimal:
    return parse_money(value, field="entitlement.unit_cost")


def _end(value: object) -> dt.date | None:
    return None if value is None or value == "" else parse_date(value, field="entitlement.end")


def _retired_on(value: object) -> dt.date | None:
    if value is None or value == "":
        return None
    return parse_date(value, field="entitlement.retired_on")


def _start(value: object) -> dt.date:
    return parse_date(value, field="entitlement.start")


def _currency(value: object) -> str:
    text = str(value).strip().upper() if isinstance(value, str) else ""
    if not _CURRENCY.match(text) or text not in CURRENCIES:
        raise ConfigError(
            f"{value!r} is not an ISO 4217 currency code",
            field="entitlement.currency",
            hint="use an active code such as USD, EUR, GBP, JPY",
        )
    return text


def _period(value: object) -> SubscriptionPeriod:
    if isinstance(value, SubscriptionPeriod):
        return value
    try:
        return SubscriptionPeriod(str(value).strip().lower() if isinstance(value, str) else value)
    except ValueError:
        raise ConfigError(
            f"{value!r} is not a subscription period",
            field="entitlement.period",
            hint="use " + ", ".join(p.value for p in SubscriptionPeriod),
        ) from None


def _rights(value: object) -> int:
    shown = value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        shown = value.strip()
        value = int(shown) if len(shown) <= 18 else MAX_RIGHTS + 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"{value!r} is not a whole number of rights",
            field="entitlement.purchased_rights",
            hint=f"use a whole number from 0 to {MAX_RIGHTS:,}",
        )
    if not 0 <= value <= MAX_RIGHTS:
        raise ConfigError(
            f"{shown} is out of range",
            field="entitlement.purchased_rights",
            hint=f"use a whole number from 0 to {MAX_RIGHTS:,}",
        )
    return value


def _software_model(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("must not be empty", field="entitlement.software_model")
    return value.strip()


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@attrs.frozen(kw_only=True)
class Entitlement:
    """Rights bought for one software model: how many, at what unit cost, for which dates.

    ``profile`` None means the rights cover the model in every profile (a company-wide
    contract); a profile name scopes them to that vendor account only.
    """

    software_model: str = attrs.field(converter=_software_model)
    purchased_rights: int = attrs.field(converter=_rights)
    unit_cost: Decimal = attrs.field(converter=_money)
    currency: str = attrs.field(converter=_currency)
    start: dt.date = attrs.field(converter=_start)
    end: dt.date | None = attrs.field(default=None, converter=_end)
    period: SubscriptionPeriod = attrs.field(default=SubscriptionPeriod.ANNUALLY, converter=_period)
    profile: str | None = attrs.field(default=None, converter=_optional_text)
    name: str = ""
    retired_on: dt.date | None = attrs.field(default=None, converter=_retired_on)
    id: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ConfigError(
                f"end {self.end} is before start {self.start}",
                field="entitlement.end",
                hint="the end date is the last day the rights are in force",
            )
        if self.period is SubscriptionPeriod.TERM and self.end is None:
            raise ConfigError(
                "a whole-term price needs an end date",
                field="entitlement.end",
                hint="give --end, or use a monthly/quarterly/annual period",
            )

    @property
    def label(self) -> str:
        """A human name: the given one, else model and start date."""
        return self.name or f"{self.software_model} from {self.start.isoformat()}"

    def state_on(self, day: dt.date) -> EntitlementState:
        """The state on a calendar day: draft before start, retired after end or retirement."""
        if self.retired_on is not None and day >= self.retired_on:
            return EntitlementState.RETIRED
        if day < self.start:
            return EntitlementState.DRAFT
        if self.end is not None and day > self.end:
            return EntitlementState.RETIRED
        return EntitlementState.IN_USE

    def state_at(self, at: dt.datetime, timezone: str = "UTC") -> EntitlementState:
        """The state at an instant, counted on the calendar of ``timezone``."""
        return self.state_on(local_date(at, timezone))

    @property
    def annual_unit_cost(self) -> Decimal:
        """What one right costs per year (exact; not rounded)."""
        return annual_unit_cost(self)

    @property
    def total_cost(self) -> Decimal:
        """Purchased rights times unit cost, per subscription period, in cents."""
        return quantize_money(self.unit_cost * self.purchased_rights)

    def to_row(self, *, at: dt.datetime, timezone: str) -> dict[str, Any]:
        """A flat row for tables and exports (state as of ``at``)."""
        return {
            "id": self.id,
            "name": self.name,
            "software_model": self.software_model,
            "profile": self.profile or "",
            "purchased_rights": self.purchased_rights,
            "unit_cost": self.unit_cost,
            "currency": self.currency,
            "period": self.period.value,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else "",
            "state": self.state_at(at, timezone).value,
            "retired_on": self.retired_on.isoformat() if self.retired_on else "",
        }


def annual_unit_cost(ent: Entitlement) -> Decimal:
    """One right's cost per year: period price times periods per year, or a term price spread per day."""
    per_year = ent.period.per_year
    if per_year is not None:
        return ent.unit_cost * per_year
    assert ent.end is not None  # enforced at construction
    days = (ent.end - ent.start).days + 1
    return ent.unit_cost * 365 / days


def average_annual_price(entitlements: Iterable[Entitlement]) -> Decimal | None:
    """The average price per right per year, weighted by rights (None when no right is priced)."""
    rights = 0
    total = Decimal(0)
    for ent in entitlements:
        rights += ent.purchased_rights
        total += annual_unit_cost(ent) * ent.purchased_rights
    if rights == 0:
        return None
    return total / rights


class _EntitlementSource(Protocol):
    def list_entitlements(self, software_model: str | None = None) -> list[Entitlement]: ...


class EntitlementPriceBook:
    """The workspace price book: a seat of a model costs the rights-weighted average annual
    unit cost of the model's entitlements in use at that moment (None when none is)."""

    def __init__(self, source: _EntitlementSource, *, timezone: str = "UTC") -> None:
        self.source = source
        self.timezone = timezone

    def __repr__(self) -> str:
        return f"EntitlementPriceBook(timezone={self.timezone!r})"

    def unit_price(self, software_model: str, *, at: dt.datetime) -> UnitPrice | None:
        """The unit price per year in force at ``at``, rounded to cents."""
        in_force = entitlements_in_use(
            self.source.list_entitlements(software_model), at, self.timezone
        )
        price = average_annual_price(in_force)
        if price is None:
            return None
        return UnitPrice(
            amount=quantize_money(price), currency=in_force[0].currency, period="annually"
        )


def entitlements_in_use(
    entitlements: Iterable[Entitlement], at: dt.datetime, timezone: str
) -> list[Entitlement]:
    """The entitlements whose rights count at ``at``."""
    day = local_date(at, timezone)
    return [e for e in entitlements if e.state_on(day) is EntitlementState.IN_USE]


def check_currency(ent: Entitlement, others: Sequence[Entitlement]) -> None:
    """Refuse a second currency for one software model: its figures could not be summed."""
    for other in others:
        if (
            other.software_model == ent.software_model
            and other is not ent
            and (ent.id is None or other.id != ent.id)
            and other.retired_on is None
            and other.currency != ent.currency
        ):
            raise ConfigError(
                f"{ent.software_model!r} is already bought in {other.currency}, not {ent.currency}",
                field="entitlement.currency",
                hint="record every entitlement of one software model in one currency",
            )


class EntitlementChecker:
    """Checks a stream of new entitlements against what is stored, in constant time per row.

    The same refusals as ``check_entitlement`` — unknown model, unknown profile, a second
    currency for one model (counting stored entitlements and the rows accepted before) — from
    sets and one map built once, so importing 100,000 rows stays linear.
    """

    def __init__(
        self,
        *,
        models: Iterable[str],
        profiles: Iterable[str],
        existing: Iterable[Entitlement],
    ) -> None:
        self.models = frozenset(models)
        self.profiles = frozenset(profiles)
        self.currencies: dict[str, str] = {}
        for ent in existing:
            if ent.retired_on is None:
                self.currencies.setdefault(ent.software_model, ent.currency)

    def __call__(self, ent: Entitlement, _earlier: object = None) -> None:
        """Refuse ``ent`` with a :class:`ConfigError`, or remember its currency."""
        if ent.software_model not in self.models:
            raise ConfigError(
                f"no software model named {ent.software_model!r}",
                field="entitlement.software_model",
                hint="known models: "
                + (", ".join(sorted(self.models)) or "none yet; run a profile first"),
            )
        if ent.profile is not None and ent.profile not in self.profiles:
            raise ConfigError(
                f"no profile named {ent.profile!r}",
                field="entitlement.profile",
                hint="leave the profile empty for rights that cover every profile",
            )
        have = self.currencies.setdefault(ent.software_model, ent.currency)
        if have != ent.currency:
            raise ConfigError(
                f"{ent.software_model!r} is already bought in {have}, not {ent.currency}",
                field="entitlement.currency",
                hint="record every entitlement of one software model in one currency",
            )
