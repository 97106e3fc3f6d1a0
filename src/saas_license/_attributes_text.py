"""A seat's attributes as the canonical JSON text they are checked and stored as, encoded once.

The boundary check must prove a record's attributes are JSON, and the store writes them as
sorted, compact JSON: one encoding serves both. :func:`checked_text` encodes (refusing NaN and
infinities) and remembers the text for that very dict (held, so its identity cannot be reused);
:func:`known_text` hands it back. Seats of one user usually share one dict, so a download
encodes each user's attributes once. The memo is per thread and bounded.
"""

from __future__ import annotations

import json
import threading
from typing import Any

__all__ = ["MEMO_SIZE", "checked_text", "known_text"]

#: Dicts remembered per thread: more than a staged batch holds, so staging finds them all.
MEMO_SIZE = 8192

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)
_local = threading.local()


def _memo() -> dict[int, tuple[dict[str, Any], str]]:
    memo: dict[int, tuple[dict[str, Any], str]] | None = getattr(_local, "memo", None)
    if memo is None:
        memo = _local.memo = {}
    return memo


def checked_text(attributes: dict[str, Any]) -> str:
    """``attributes`` as sorted, compact JSON; raises ``TypeError``/``ValueError`` if they are
    not plain JSON (NaN and infinities included). Remembered for :func:`known_text`."""
    memo = _memo()
    entry = memo.get(id(attributes))
    if entry is not None and entry[0] is attributes:
        return entry[1]
    text = _CANONICAL.encode(attributes)
    memo[id(attributes)] = (attributes, text)
    if len(memo) > MEMO_SIZE:
        del memo[next(iter(memo))]
    return text


def known_text(attributes: Any) -> str | None:
    """The text :func:`checked_text` produced for this very dict (in this thread), else None."""
    entry = _memo().get(id(attributes))
    if entry is not None and entry[0] is attributes:
        return entry[1]
    return None
