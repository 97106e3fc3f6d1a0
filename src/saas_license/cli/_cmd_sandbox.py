"""``saas-license sandbox``: run the fake Aha! API on 127.0.0.1 for demos and any Aha! client."""

from __future__ import annotations

import click

from . import cli


@cli.group()
def sandbox() -> None:
    """The bundled Aha! sandbox (a fake Aha! API on 127.0.0.1)."""


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
@click.option("--log-requests", is_flag=True, help="Log each request to stderr.")
def serve(users: int, port: int, api_key: str, seed: int, log_requests: bool) -> None:
    """Serve a seeded Aha! account until interrupted."""
    from saas_license_aha.sandbox import SandboxApp, SandboxServer

    app = SandboxApp(user_count=users, seed=seed, api_keys=[api_key])
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
        "try:      curl -H 'Authorization: Bearer <key>' '<base URL>/api/v1/users?per_page=2'"
    )
    click.echo("Ctrl-C to stop.", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
