"""RFC 8288 ``Link`` headers: where the next page of a next-link listing is."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["next_link", "parse_link_header"]

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_PARAM = re.compile(r";\s*([A-Za-z0-9!#$&+.^_`|~-]+)\s*=\s*(\"[^\"]*\"|[^;,\s]+)")


def parse_link_header(value: str) -> dict[str, str]:
    """The URLs of a ``Link`` header by relation type, e.g. ``{"next": "https://…?page=3"}``.

    Relation types are lower-cased; a link with several (``rel="next last"``) is listed under
    each; the first link of a relation wins. Malformed parts are skipped, never raised on.
    """
    links: dict[str, str] = {}
    for match in _LINK.finditer(value):
        url, params = match.group(1).strip(), match.group(2)
        for name, raw in _PARAM.findall(params):
            if name.lower() != "rel":
                continue
            for rel in raw.strip('"').lower().split():
                links.setdefault(rel, url)
    return links


def next_link(headers: Mapping[str, str]) -> str | None:
    """The ``rel="next"`` URL of a response's ``Link`` header (None: this is the last page)."""
    value = headers.get("link") or headers.get("Link")
    if not value:
        return None
    return parse_link_header(value).get("next")
