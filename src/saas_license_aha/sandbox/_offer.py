"""The Aha! spoke's answer to the core's ``sandbox`` hook: the fake Aha! API and its ``sandbox serve`` knobs."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import click

from saas_license.spoke import RunningSandbox, SandboxOffer, SandboxSettings
from saas_license.testing import ServedSandbox

from ._app import SandboxApp
from ._faults import SandboxFaults
from ._server import SandboxServer

__all__ = ["OFFER", "serve_options"]

_RATE = click.FloatRange(0.0, 1.0)


def serve_options() -> list[click.Option]:
    """The Aha!-specific options of ``saas-license sandbox serve`` (keys, limits, faults)."""
    return [
        click.Option(
            ["--api-key"],
            default="sandbox-key",
            show_default=True,
            help="The bearer key the sandbox accepts.",
        ),
        click.Option(
            ["--rate-limit"],
            type=click.Choice(["on", "off"]),
            default="on",
            show_default=True,
            help="Enforce Aha!'s limits (300 requests/minute, 20/second) with 429s and X-Ratelimit headers.",
        ),
        click.Option(
            ["--time-scale"],
            type=click.FloatRange(0.01, 1000),
            default=1.0,
            show_default=True,
            help="Run the rate-limit clock this many times faster (benchmarks).",
        ),
        click.Option(
            ["--latency", "latency_ms"],
            type=click.FloatRange(0, 60_000),
            default=0,
            show_default=True,
            metavar="MS",
            help="Milliseconds added to every request.",
        ),
        click.Option(
            ["--error-rate"], type=_RATE, default=0.0, help="Share of API requests answered 5xx."
        ),
        click.Option(
            ["--throttle-rate"], type=_RATE, default=0.0, help="Share starting a burst of 429s."
        ),
        click.Option(
            ["--retry-after", "throttle_retry_after"],
            type=click.FloatRange(0, 3600),
            default=1.0,
            metavar="SECONDS",
            help="Retry-After of those 429s (default 1).",
        ),
        click.Option(
            ["--timeout-rate"], type=_RATE, default=0.0, help="Share that never get an answer."
        ),
        click.Option(
            ["--malformed-rate"], type=_RATE, default=0.0, help="Share of GETs with broken JSON."
        ),
        click.Option(
            ["--drift-rate"],
            type=_RATE,
            default=0.0,
            help="Chance a user is added/removed per users page.",
        ),
        click.Option(
            ["--oauth-client"],
            nargs=2,
            metavar="ID SECRET",
            default=("sandbox-client", "sandbox-secret"),
            show_default=True,
            help="The OAuth2 application the sandbox accepts.",
        ),
        click.Option(
            ["--token-ttl"],
            type=click.FloatRange(1, None),
            default=None,
            help="OAuth2 tokens expire after this many seconds and come with refresh tokens.",
        ),
        click.Option(
            ["--strict-shapes"],
            is_flag=True,
            help="Refuse (400) every request Aha! does not document (paths, parameters, PUT attributes).",
        ),
    ]


def _banner(base_url: str, api_key: str, opts: Mapping[str, Any]) -> list[str]:
    client_id, client_secret = opts.get("oauth_client") or ("sandbox-client", "sandbox-secret")
    time_scale = float(opts.get("time_scale", 1.0))
    limits = (
        "off"
        if opts.get("rate_limit", "off") != "on"
        else f"300 requests per {60 / time_scale:g}s and 20 per {1 / time_scale:g}s"
    )
    return [
        f"API key:  {api_key}",
        f"OAuth2:   client {client_id} / {client_secret}; "
        f"authorize {base_url}/oauth/authorize, token {base_url}/oauth/token",
        f"limits:   {limits}",
        "try:      curl -H 'Authorization: Bearer <key>' '<base URL>/api/v1/users?per_page=2'",
        f"control:  {base_url}/__sandbox/users/<id>, /__sandbox/faults (loopback only)"
        + ("; strict shapes on" if opts.get("strict_shapes") else ""),
    ]


def _open(settings: SandboxSettings) -> RunningSandbox:
    """Build the seeded account and bind its port; the ``demo`` (no options) gets a random key
    and no rate limits, ``sandbox serve`` whatever its options say."""
    opts: Mapping[str, Any] = settings.options
    api_key = str(opts.get("api_key") or secrets.token_urlsafe(24))
    faults = (
        SandboxFaults(
            latency=float(opts.get("latency_ms", 0)) / 1000.0,
            server_error_rate=float(opts.get("error_rate", 0.0)),
            throttle_rate=float(opts.get("throttle_rate", 0.0)),
            throttle_retry_after=float(opts.get("throttle_retry_after", 1.0)),
            timeout_rate=float(opts.get("timeout_rate", 0.0)),
            malformed_rate=float(opts.get("malformed_rate", 0.0)),
            drift_rate=float(opts.get("drift_rate", 0.0)),
        )
        if opts
        else None
    )
    oauth_client = opts.get("oauth_client")
    app = SandboxApp(
        user_count=settings.users,
        seed=7 if settings.seed is None else settings.seed,
        api_keys=[api_key],
        rate_limit=opts.get("rate_limit", "off") == "on",
        time_scale=float(opts.get("time_scale", 1.0)),
        faults=faults,
        oauth_clients={oauth_client[0]: oauth_client[1]} if oauth_client else None,
        token_ttl=opts.get("token_ttl"),
        strict_shapes=bool(opts.get("strict_shapes", False)),
        anchor=settings.anchor,
    )
    server = SandboxServer(app, port=settings.port, verbose=settings.log_requests)
    return ServedSandbox(
        server,
        credentials={"api_key": api_key},
        banner=_banner(server.base_url, api_key, opts),
    )


OFFER = SandboxOffer(
    title="Aha! sandbox",
    description="a fake Aha! API on 127.0.0.1",
    open=_open,
)
