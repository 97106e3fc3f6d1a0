"""cattrs converters: one for the store and wire (tolerant), one for user config (strict)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeVar

import cattrs
from cattrs.preconf.json import make_converter

from ._time import format_instant, parse_instant
from .errors import ConfigError

__all__ = ["config_converter", "converter", "structure_config"]

T = TypeVar("T")


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


#: Store and vendor-facing converter: unknown keys are ignored so stored rows and payloads may grow.
converter = _configure(make_converter())

#: User-config converter: unknown keys are an error, so a typo never silently does nothing.
config_converter = _configure(make_converter(forbid_extra_keys=True))


def structure_config(data: Any, cls: type[T], *, what: str) -> T:
    """Build ``cls`` from user config ``data``; errors name the field and what is wrong."""
    try:
        return config_converter.structure(data, cls)
    except ConfigError:
        raise
    except cattrs.ClassValidationError as exc:
        own = _config_errors(exc)
        if own:  # our validators already named the field and what to do: keep their words
            raise ConfigError(
                "; ".join(e.message for e in own),
                hint=own[0].hint or f"fix the {what} and try again",
            ) from None
        details = "; ".join(cattrs.transform_error(exc, path=what))
        raise ConfigError(details, hint=f"fix the {what} and try again") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc), field=what) from None


def _config_errors(exc: BaseException) -> list[ConfigError]:
    """The ConfigErrors raised by attrs validators inside a cattrs exception group."""
    found: list[ConfigError] = []
    for inner in getattr(exc, "exceptions", ()):
        if isinstance(inner, ConfigError):
            found.append(inner)
        else:
            found.extend(_config_errors(inner))
    return found
