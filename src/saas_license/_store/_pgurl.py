"""PostgreSQL workspace URLs: recognising them, and showing them without their password.

Imports nothing heavy, so the CLI and :meth:`Workspace.open` can tell a URL from a file path
without loading the database driver.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["SCHEMES", "is_postgres_url", "redact", "repair", "split_password"]

#: The URL schemes of a PostgreSQL workspace (libpq's two spellings).
SCHEMES = ("postgresql", "postgres")

_SCHEME = re.compile(r"^(postgresql|postgres):(/*)(.*)$", re.IGNORECASE | re.DOTALL)
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)([^@/?#]*)@", re.IGNORECASE)


def is_postgres_url(text: str) -> bool:
    """True for ``postgresql://…`` and ``postgres://…`` (also when a path ate one slash)."""
    return _SCHEME.match(text) is not None


def repair(text: str) -> str:
    """``postgresql:/host/db`` (a :class:`~pathlib.Path` collapses ``//``) back to ``postgresql://host/db``."""
    match = _SCHEME.match(text)
    if match is None or len(match.group(2)) >= 2:
        return text
    return f"{match.group(1)}://{match.group(3)}"


def redact(text: str) -> str:
    """``text`` with the password of any URL in it (and a ``password=`` parameter) masked."""
    out = re.sub(
        r"([a-z][a-z0-9+.-]*://[^:@/\s]*):[^@/\s]*@", r"\1:***@", text, flags=re.IGNORECASE
    )
    return re.sub(r"(password=)[^&\s]*", r"\1***", out, flags=re.IGNORECASE)


def split_password(url: str) -> tuple[str, str | None]:
    """The URL without its password, and the password (None when it carries none)."""
    parts = urlsplit(url)
    password = None if parts.password is None else unquote(parts.password)
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k.lower() != "password"]
    for k, v in query:
        if k.lower() == "password":
            password = v
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment)), password
