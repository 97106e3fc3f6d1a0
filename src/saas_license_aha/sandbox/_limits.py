"""Aha!'s published budgets, enforced by the kit's server-side rate limiter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from saas_license.http import RateLimit
from saas_license.testing import ServerRateLimiter as _KitLimiter

__all__ = ["AHA_LIMITS", "ServerRateLimiter"]

AHA_LIMITS: tuple[RateLimit, ...] = (
    RateLimit(requests=300, per=60.0),
    RateLimit(requests=20, per=1.0),
)


class ServerRateLimiter(_KitLimiter):
    """The kit's limiter with Aha!'s budgets (300 per minute, 20 per second) by default."""

    def __init__(self, limits: Sequence[RateLimit] = AHA_LIMITS, **kwargs: Any) -> None:
        super().__init__(limits, **kwargs)
