"""Turn any failed vendor response (JSON in several shapes, HTML, empty) into the core error tree."""

from __future__ import annotations

import json
from typing import Any

import httpx

from .._errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    VendorError,
)
from ._retry import parse_retry_after
from ._transport import retry_record, safe_url

__all__ = ["error_from_response", "extract_error_message"]

_MAX_MESSAGE = 300


def extract_error_message(body: bytes, content_type: str = "") -> str | None:
    """Best human message in an error body: ``error``, ``message``, ``errors[]`` or ``{field: [msgs]}``.

    Returns None for empty, HTML or unreadable bodies.
    """
    if not body.strip():
        return None
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    parts: list[str] = []
    if isinstance(data, dict):
        for key in ("error", "message", "error_description"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                parts.append(value.strip())
            elif isinstance(value, dict) and isinstance(value.get("message"), str):
                parts.append(value["message"].strip())
        errors = data.get("errors")
        if isinstance(errors, list):
            for item in errors:
                if isinstance(item, str):
                    parts.append(item)
                elif isinstance(item, dict) and isinstance(item.get("message"), str):
                    parts.append(item["message"])
        elif isinstance(errors, dict):
            for field, msgs in errors.items():
                msgs = msgs if isinstance(msgs, list) else [msgs]
                parts.extend(f"{field} {m}" for m in msgs if isinstance(m, str))
    elif isinstance(data, str) and data.strip():
        parts.append(data.strip())
    if not parts:
        return None
    text = "; ".join(dict.fromkeys(parts))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def error_from_response(response: httpx.Response, *, vendor: str = "the vendor") -> VendorError:
    """The core error for a non-2xx ``response``, with a message that says what to do."""
    status = response.status_code
    request = response.request
    url = safe_url(request.url)
    where = f"{request.method} {url}"
    detail = extract_error_message(response.content, response.headers.get("content-type", ""))
    record = retry_record(response)
    if record is not None:
        where += record.describe()
    said = f": {detail}" if detail else ""
    kw: dict[str, Any] = {"status_code": status, "url": url}
    if status == 401:
        return AuthenticationError(
            f"{vendor} rejected the credentials (401) on {where}{said}",
            hint="check the API key or re-authorize this profile (CLI `connect PROFILE`, "
            "Python `ws.profiles.connect_api_key` or `ws.profiles.oauth_begin`)",
            **kw,
        )
    if status == 403:
        return PermissionDeniedError(
            f"{vendor} refused {where} (403){said}",
            hint="the integration user needs the vendor role the spoke lists for this process "
            "(CLI `spokes`, Python `ws.spokes.get(name).info().permissions`)",
            **kw,
        )
    if status == 404:
        return NotFoundError(
            f"{vendor} has no such resource (404): {where}{said}",
            hint="check the account URL; a 404 can also mean the token cannot see the record",
            **kw,
        )
    if status == 429:
        return RateLimitedError(
            f"{vendor} rate limit exceeded (429) on {where}{said}",
            hint="wait and run again; lower concurrency if it keeps happening",
            retry_after=parse_retry_after(response.headers, body=response.content),
            **kw,
        )
    if status >= 500:
        return ServerError(
            f"{vendor} failed on its side ({status}) on {where}{said}",
            hint="this is usually temporary: run again later",
            **kw,
        )
    return VendorError(
        f"{vendor} answered {status} to {where}{said}",
        hint="check the request parameters and the profile's configuration",
        **kw,
    )
