"""Fewer cyclic garbage collections while a step allocates many short-lived objects.

A download decodes and reads hundreds of thousands of small JSON objects. With the
interpreter's default threshold (a young collection every 700 new containers), the pages in
flight survive young collections and keep triggering full ones, each of which walks every
object the process holds: ~13% of a 200,000-user listing's CPU. A larger young threshold keeps
the collector working (reference cycles, e.g. finished HTTP responses, are still collected
every :data:`YOUNG_THRESHOLD` allocations) without the repeated full walks.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["YOUNG_THRESHOLD", "fewer_collections"]

#: New containers between two young collections while a bulk step runs (default: 700).
YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None
_ours: tuple[int, int, int] | None = None


@contextlib.contextmanager
def fewer_collections(young: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Raise the young generation's threshold to ``young`` for the block, then restore it.

    Nested or concurrent blocks (two downloads in two threads) share one raise; the last to
    leave restores the threshold, unless the application changed it meanwhile (theirs wins).
    A collector switched off (threshold 0), or already less eager, is left as it is.
    """
    global _depth, _saved, _ours
    with _lock:
        if _depth == 0:
            current = gc.get_threshold()
            if 0 < current[0] < young:
                _saved = current
                _ours = (young, *current[1:])
                gc.set_threshold(*_ours)
            else:
                _saved = _ours = None
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                if gc.get_threshold() == _ours:
                    gc.set_threshold(*_saved)
                _saved = _ours = None
