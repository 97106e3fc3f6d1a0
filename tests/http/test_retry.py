"""Retry decisions: Retry-After parsing, backoff bounds, and never resending a mutation blindly."""

from __future__ import annotations

import email.utils
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saas_license.http import RETRYABLE_STATUSES, RetryPolicy, is_idempotent, parse_retry_after

NOW = 1_750_000_000.0
MUTATIONS = ["POST", "PUT", "PATCH", "DELETE"]
READS = ["GET", "HEAD", "OPTIONS"]

header_values = st.one_of(
    st.text(max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(-1e6, 1e6).map(lambda s: email.utils.formatdate(NOW + s, usegmt=True)),
)


@given(
    headers=st.dictionaries(
        st.sampled_from(["retry-after", "retry_after", "retry-after-ms", "x-ratelimit-reset"]),
        header_values,
    ),
    cap=st.floats(0, 1e5, allow_nan=False),
)
def test_retry_after_is_never_negative_and_always_capped(
    headers: dict[str, str], cap: float
) -> None:
    value = parse_retry_after(headers, cap=cap, now=NOW)
    assert value is None or (0.0 <= value <= cap and not math.isnan(value))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "5"}, 5.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"retry-after": "-3"}, 0.0),
        ({"retry_after": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"x-ratelimit-reset": str(int(NOW + 12))}, 12.0),
        ({"x-ratelimit-reset": "4"}, 4.0),
        ({"retry-after": "100000"}, 86400.0),
        ({"retry-after": "3600"}, 3600.0),
        ({}, None),
    ],
)
def test_retry_after_variants(headers: dict[str, str], expected: float | None) -> None:
    value = parse_retry_after(headers, now=NOW)
    assert value == (None if expected is None else pytest.approx(expected, abs=1.0))


@given(attempt=st.integers(0, 100), base=st.floats(0, 10), cap=st.floats(0, 100), r=st.floats(0, 1))
def test_backoff_is_bounded_and_jittered(attempt: int, base: float, cap: float, r: float) -> None:
    delay = RetryPolicy(backoff_base=base, backoff_cap=cap).backoff(attempt, rand=lambda: r)
    assert 0.0 <= delay <= cap
    assert delay >= 0.5 * min(cap, base * 2.0 ** min(attempt, 30)) - 1e-9


@given(
    method=st.sampled_from(MUTATIONS),
    status=st.integers(100, 599).filter(lambda s: s != 429),
    attempt=st.integers(0, 10),
)
def test_mutations_are_never_resent_after_an_answer_other_than_429(
    method: str, status: int, attempt: int
) -> None:
    assert RetryPolicy().delay_for_status(method, status, {}, attempt) is None
    assert RetryPolicy().delay_for_error(method, attempt, sent=True) is None


@given(method=st.sampled_from([*MUTATIONS, *READS]), attempt=st.integers(0, 3))
def test_429_is_retried_for_every_method_honouring_retry_after(method: str, attempt: int) -> None:
    delay = RetryPolicy().delay_for_status(method, 429, {"retry-after": "3"}, attempt, now=NOW)
    assert delay == 3.0


@given(method=st.sampled_from(READS), status=st.sampled_from(sorted(RETRYABLE_STATUSES)))
def test_reads_are_retried_on_transient_statuses(method: str, status: int) -> None:
    assert RetryPolicy().delay_for_status(method, status, {}, 0, rand=lambda: 1.0) == 0.5
    policy = RetryPolicy(max_retries=2, max_throttle_retries=2)
    assert policy.delay_for_status(method, status, {}, 2) is None


def test_reads_are_not_retried_on_client_errors_and_long_waits_are_refused() -> None:
    policy = RetryPolicy(budget=60)
    for status in (400, 401, 403, 404, 422):
        assert policy.delay_for_status("GET", status, {}, 0) is None
    assert policy.delay_for_status("GET", 429, {"retry-after": "61"}, 0) is None
    assert policy.delay_for_status("GET", 503, {"retry-after": "60"}, 0) == 60


def test_errors_before_sending_allow_two_more_tries_even_for_mutations() -> None:
    policy = RetryPolicy(max_retries=4)
    assert policy.delay_for_error("PUT", 0, sent=False) is not None
    assert policy.delay_for_error("PUT", 1, sent=False) is not None
    assert policy.delay_for_error("PUT", 2, sent=False) is None
    assert policy.delay_for_error("GET", 3, sent=True) is not None
    assert policy.delay_for_error("GET", 4, sent=True) is None


def test_idempotent_methods() -> None:
    assert all(is_idempotent(m) for m in [*READS, "get"])
    assert not any(is_idempotent(m) for m in MUTATIONS)
