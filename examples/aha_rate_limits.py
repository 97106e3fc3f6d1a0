"""Download an Aha! account under Aha!'s rate limits, through faults and users changing mid-way.

Run: python examples/aha_rate_limits.py  (no network: the Aha! sandbox answers in-process)

The sandbox enforces 300 requests/minute and 20/second on a clock running 30x faster, throws
in 5xx answers, a timeout, a 429 burst and a user who vanishes between pages. The client's
governor keeps inside the budget, retries what is safe to retry, and reads the list again when it
drifted: every user that existed throughout is read exactly once.
"""

from __future__ import annotations

from saas_license import HttpOptions, Secret
from saas_license.http import BearerAuth, rate_limit_floor
from saas_license_aha import AHA_RATE_LIMITS, AhaClient
from saas_license_aha.sandbox import Fault, SandboxApp, SandboxFaults

SCALE = 30.0
limits = tuple(limit.scaled(SCALE) for limit in AHA_RATE_LIMITS)
sandbox = SandboxApp(
    user_count=3000,
    api_keys=["example-key"],
    rate_limit=True,
    time_scale=SCALE,
    faults=SandboxFaults(throttle_retry_after=0.05),
)
before = set(sandbox.user_ids())
sandbox.inject(Fault.SERVER_ERROR, 2)
sandbox.inject(Fault.TIMEOUT)
sandbox.inject(Fault.THROTTLE)
sandbox.inject(Fault.DRIFT_REMOVE, after=9)  # before the 10th users-page request

options = HttpOptions(
    transport=sandbox.transport(), rate_limits=limits, max_concurrency=4, backoff_base=0.05
)
with AhaClient(
    "https://acme.aha.io", auth=BearerAuth(Secret("example-key")), options=options
) as aha:
    ids = [user.id for user in aha.iter_users()]
    stats = aha.stats

after = set(sandbox.user_ids())
print(
    f"users read: {len(ids)} (unique: {len(set(ids))}); present throughout: {len(before & after)}"
)
print(f"requests: {stats.requests if stats else '?'}, retries: {stats.retries if stats else '?'}")
print(f"429s from the sandbox's rate limiter: {sandbox.stats.throttled}")
requests = stats.requests if stats else 0
print(
    f"rate-limit floor for {requests} requests on this clock: {rate_limit_floor(requests, limits):.3f}s"
)
assert len(ids) == len(set(ids)) and before & after <= set(ids)
assert sandbox.stats.throttled == 0
