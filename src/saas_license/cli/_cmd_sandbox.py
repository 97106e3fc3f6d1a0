"""``saas-license sandbox``: run the fake Aha! API on 127.0.0.1 for demos and any Aha! client."""

from __future__ import annotations

import click

from . import cli


@cli.group()
def sandbox() -> None:
    """The bundled Aha! sandbox (a fake Aha! API on 127.0.0.1)."""


_RATE = click.FloatRange(0.0, 1.0)


@sandbox.command("serve")
@click.option(
    "--users",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="Size of the synthetic account.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port on 127.0.0.1 (0 picks a free one).",
)
@click.option(
    "--api-key",
    default="sandbox-key",
    show_default=True,
    help="The bearer key the sandbox accepts.",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Seed of the synthetic account."
)
@click.option(
    "--rate-limit",
    type=click.Choice(["on", "off"]),
    default="on",
    show_default=True,
    help="Enforce Aha!'s limits (300 requests/minute, 20/second) with 429s and X-Ratelimit headers.",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(0.01, 1000),
    default=1.0,
    show_default=True,
    help="Run the rate-limit clock this many times faster (benchmarks).",
)
@click.option(
    "--latency",
    "latency_ms",
    type=click.FloatRange(0, 60_000),
    default=0,
    show_default=True,
    metavar="MS",
    help="Milliseconds added to every request.",
)
@click.option("--error-rate", type=_RATE, default=0.0, help="Share of API requests answered 5xx.")
@click.option("--throttle-rate", type=_RATE, default=0.0, help="Share starting a burst of 429s.")
@click.option(
    "--retry-after",
    "throttle_retry_after",
    type=click.FloatRange(0, 3600),
    default=1.0,
    metavar="SECONDS",
    help="Retry-After of those 429s (default 1).",
)
@click.option("--timeout-rate", type=_RATE, default=0.0, help="Share that never get an answer.")
@click.option("--malformed-rate", type=_RATE, default=0.0, help="Share of GETs with broken JSON.")
@click.option(
    "--drift-rate", type=_RATE, default=0.0, help="Chance a user is added/removed per users page."
)
@click.option(
    "--oauth-client",
    nargs=2,
    metavar="ID SECRET",
    default=("sandbox-client", "sandbox-secret"),
    show_default=True,
    help="The OAuth2 application the sandbox accepts.",
)
@click.option(
    "--token-ttl",
    type=click.FloatRange(1, None),
    default=None,
    help="OAuth2 tokens expire after this many seconds and come with refresh tokens.",
)
@click.option(
    "--strict-shapes",
    is_flag=True,
    help="Refuse (400) every request Aha! does not document (paths, parameters, PUT attributes).",
)
@click.option("--log-requests", is_flag=True, help="Log each request to stderr.")
def serve(
    users: int,
    port: int,
    api_key: str,
    seed: int,
    rate_limit: str,
    time_scale: float,
    latency_ms: float,
    error_rate: float,
    throttle_rate: float,
    throttle_retry_after: float,
    timeout_rate: float,
    malformed_rate: float,
    drift_rate: float,
    oauth_client: tuple[str, str],
    token_ttl: float | None,
    strict_shapes: bool,
    log_requests: bool,
) -> None:
    """Serve a seeded Aha! account until interrupted."""
    from saas_license_aha.sandbox import SandboxApp, SandboxFaults, SandboxServer

    faults = SandboxFaults(
        latency=latency_ms / 1000.0,
        server_error_rate=error_rate,
        throttle_rate=throttle_rate,
        throttle_retry_after=throttle_retry_after,
        timeout_rate=timeout_rate,
        malformed_rate=malformed_rate,
        drift_rate=drift_rate,
    )
    app = SandboxApp(
        user_count=users,
        seed=seed,
        api_keys=[api_key],
        rate_limit=rate_limit == "on",
        time_scale=time_scale,
        faults=faults,
        oauth_clients={oauth_client[0]: oauth_client[1]},
        token_ttl=token_ttl,
        strict_shapes=strict_shapes,
    )
    try:
        server = SandboxServer(app, port=port, verbose=log_requests)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; pick another --port"
        ) from None
    click.echo(f"Aha! sandbox serving {users} users")
    click.echo(f"base URL: {server.base_url}")
    click.echo(f"API key:  {api_key}")
    click.echo(
        f"OAuth2:   client {oauth_client[0]} / {oauth_client[1]}; "
        f"authorize {server.base_url}/oauth/authorize, token {server.base_url}/oauth/token"
    )
    limits = (
        "off"
        if rate_limit == "off"
        else f"300 requests per {60 / time_scale:g}s and 20 per {1 / time_scale:g}s"
    )
    click.echo(f"limits:   {limits}")
    click.echo(
        "try:      curl -H 'Authorization: Bearer <key>' '<base URL>/api/v1/users?per_page=2'"
    )
    click.echo(
        f"control:  {server.base_url}/__sandbox/users/<id>, /__sandbox/faults (loopback only)"
        + ("; strict shapes on" if strict_shapes else "")
    )
    click.echo("Ctrl-C to stop.", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
