"""cattrs converters: one for the store and wire (tolerant), one for user config (strict).

The strict one never coerces: a boolean must be a boolean (``"false"`` is refused, not true),
a whole number must be an integer (``true``, ``90.5`` and ``1e400`` are refused, not 1, 90 and
"unknown error"), a text must be a text, and unknown keys are errors. Every refusal is one
:class:`ConfigError` naming the path of the field (``reclamation[0].inactivity_days``), the
value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, ForbiddenExtraKeysError, IterableValidationNote
from cattrs.preconf.json import make_converter

from ._time import format_instant, parse_instant
from .errors import ConfigError

__all__ = ["config_converter", "converter", "describe_value", "structure_config"]

T = TypeVar("T")


def describe_value(value: Any) -> str:
    """A short, JSON-like rendering of a bad value for an error message (``true``, ``'x'``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "an infinite number (out of range)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _configure(conv: cattrs.Converter) -> cattrs.Converter:
    conv.register_unstructure_hook(dt.datetime, format_instant)
    conv.register_structure_hook(
        dt.datetime, lambda v, _t: v if isinstance(v, dt.datetime) else parse_instant(v)
    )
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(
        Decimal, lambda v, _t: v if isinstance(v, Decimal) else Decimal(str(v))
    )
    return conv


def _strict_bool(value: Any, _t: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(
        f"{describe_value(value)} is not a boolean",
        hint="use true or false (a JSON/TOML boolean, not a string or a number)",
    )


def _strict_int(value: Any, _t: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConfigError(
        f"{describe_value(value)} is not a whole number", hint="use a whole number such as 90"
    )


def _strict_float(value: Any, _t: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number):
            return number
    raise ConfigError(f"{describe_value(value)} is not a finite number", hint="use e.g. 0.5")


def _strict_str(value: Any, _t: Any) -> str:
    if isinstance(value, str):
        return value
    raise ConfigError(f"{describe_value(value)} is not a text", hint='quote it, e.g. "value"')


def _strict_decimal(value: Any, _t: Any) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = Decimal("NaN")
    else:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ConfigError(
            f"{describe_value(value)} is not an exact amount",
            hint="use digits with a '.' for cents, as a string: \"1200.50\"",
        )
    return number


def _strict(conv: cattrs.Converter) -> cattrs.Converter:
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(Decimal, _strict_decimal)
    return conv


#: Store and vendor-facing converter: unknown keys are ignored so stored rows and payloads may grow.
converter = _configure(make_converter())

#: User-config converter: unknown keys are an error and nothing is coerced, so a typo or a
#: quoted ``"false"`` never silently does something else.
config_converter = _strict(_configure(make_converter(forbid_extra_keys=True)))


def structure_config(data: Any, cls: type[T], *, what: str) -> T:
    """Build ``cls`` from user config ``data``; the error names the first bad field (its path
    under ``what``), its value and what is allowed, in one line."""
    try:
        return config_converter.structure(data, cls)
    except ConfigError as exc:
        raise _located(exc, what) from None
    except cattrs.BaseValidationError as exc:
        problems = [_describe(path, leaf, what) for path, leaf in _leaves(exc, "")]
        first = problems[0] if problems else ConfigError(str(exc), field=what)
        if len(problems) > 1:
            more = f" (and {len(problems) - 1} more problem(s))"
            first = ConfigError(
                first.message.removeprefix(f"{first.field}: ") + more,
                field=first.field,
                hint=first.hint,
            )
        raise first from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc), field=what) from None


def _located(exc: ConfigError, what: str, path: str = "") -> ConfigError:
    """``exc`` re-worded under ``what`` + ``path`` (keeping a validator's own attribute name)."""
    message = exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message
    field = _join(what, path)
    if exc.field:
        attr = exc.field.rsplit(".", 1)[-1]
        if not path.endswith(f".{attr}"):
            field = f"{field}.{attr}"
    return ConfigError(message, field=field, hint=exc.hint)


def _step(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return f".{note.name}"
        if isinstance(note, IterableValidationNote):
            return f"[{note.index}]"
    return ""


def _leaves(exc: BaseException, path: str) -> Iterator[tuple[str, BaseException]]:
    """Every leaf exception of a cattrs exception group, with the data path that led to it."""
    for inner in getattr(exc, "exceptions", ()):
        where = path + _step(inner)
        if isinstance(inner, cattrs.BaseValidationError):
            yield from _leaves(inner, where)
        else:
            yield where, inner


def _describe(path: str, leaf: BaseException, what: str) -> ConfigError:
    if isinstance(leaf, ConfigError):
        return _located(leaf, what, path)
    if isinstance(leaf, ForbiddenExtraKeysError):
        allowed = [a.name for a in attrs.fields(leaf.cl) if a.name != "id"]
        return ConfigError(
            f"unknown key(s) {', '.join(sorted(leaf.extra_fields))}",
            field=_join(what, path),
            hint="allowed: " + ", ".join(allowed),
        )
    if isinstance(leaf, KeyError):
        return ConfigError("is required", field=_join(what, path))
    if isinstance(leaf, AttributeError) and ("'keys'" in str(leaf) or "'items'" in str(leaf)):
        return ConfigError(
            "is not an object", field=_join(what, path), hint="use an object of keys and values"
        )
    return ConfigError(str(leaf), field=_join(what, path))


def _join(what: str, path: str) -> str:
    """``rules`` + ``.reclamation[0]``; a file label (``rules.json:``) is followed by a space."""
    if what.endswith(":"):
        return f"{what} {path.lstrip('.')}" if path else what[:-1]
    return what + path
