"""Kill points for the fault suite: a named place where a test may have the process SIGKILLed.

``SAAS_LICENSE_KILL_AT=NAME`` (or ``NAME:N`` for the N-th time the point is reached, from 1)
makes :func:`kill_point` kill the current process without any clean-up, exactly as a crash or an
OOM kill would. Unset (always, outside the fault suite), a kill point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["kill_point"]

_hits: dict[str, int] = {}


def kill_point(name: str) -> None:
    """SIGKILL this process here if ``SAAS_LICENSE_KILL_AT`` names this point (and count)."""
    wanted = os.environ.get("SAAS_LICENSE_KILL_AT")
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == (int(nth) if nth else 1):
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
