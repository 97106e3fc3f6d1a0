"""``saas-license sandbox``: serve a spoke's fake vendor account on 127.0.0.1 (the ``sandbox`` hook).

The generic options live here; each spoke adds its own (keys, limits, faults) through the
``saas_license_cli_options`` hook, loaded only when ``sandbox serve`` is parsed or its help shown.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from .._sandbox import SandboxSettings
from . import cli

log = logging.getLogger("saas_license.cli")

COMMAND = "sandbox serve"


class _ServeCommand(click.Command):
    """``sandbox serve`` with the installed spokes' own options added on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spoke_params: dict[str, set[str]] | None = None

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if self.spoke_params is None:
            self.spoke_params = self._load_spoke_options()
        return super().get_params(ctx)

    def _load_spoke_options(self) -> dict[str, set[str]]:
        from .._plugins import SpokeRegistry

        taken = {opt for p in self.params for opt in getattr(p, "opts", ())}
        owners: dict[str, set[str]] = {}
        added: list[click.Parameter] = []
        for spoke in SpokeRegistry():
            names: set[str] = set()
            for option in spoke.cli_options(COMMAND):
                if set(option.opts) & taken:
                    log.warning(
                        "spoke %s: option %s already taken; skipped", spoke.name, option.opts
                    )
                    continue
                taken.update(option.opts)
                added.append(option)
                if option.name is not None:
                    names.add(option.name)
            owners[spoke.name] = names
        at = next(i for i, p in enumerate(self.params) if p.name == "log_requests")
        self.params[at:at] = added
        return owners


@cli.group()
def sandbox() -> None:
    """Fake vendor accounts offered by the installed spokes (on 127.0.0.1)."""


@sandbox.command("serve", cls=_ServeCommand)
@click.option(
    "--spoke",
    "spoke_name",
    metavar="NAME",
    default=None,
    help="The spoke whose sandbox to serve [default: the first installed that offers one].",
)
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
    "--seed", type=int, default=7, show_default=True, help="Seed of the synthetic account."
)
@click.option("--log-requests", is_flag=True, help="Log each request to stderr.")
@click.pass_context
def serve(
    ctx: click.Context,
    /,
    spoke_name: str | None,
    users: int,
    port: int,
    seed: int,
    log_requests: bool,
    **spoke_options: Any,
) -> None:
    """Serve a seeded fake vendor account until interrupted."""
    from .._plugins import SpokeRegistry
    from ._sandboxes import find_sandbox

    spoke, offer = find_sandbox(SpokeRegistry(), spoke_name)
    command = ctx.command
    assert isinstance(command, _ServeCommand) and command.spoke_params is not None
    own = command.spoke_params.get(spoke.name, set())
    for name in spoke_options:
        if (
            name not in own
            and ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
        ):
            raise click.UsageError(
                f"--{name.replace('_', '-')} is not an option of spoke {spoke.name!r}"
            )
    settings = SandboxSettings(
        users=users,
        seed=seed,
        port=port,
        log_requests=log_requests,
        options={k: v for k, v in spoke_options.items() if k in own},
    )
    try:
        server = offer.open(settings)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; pick another --port"
        ) from None
    click.echo(f"{offer.title} serving {users} users")
    click.echo(f"base URL: {server.base_url}")
    for line in server.banner():
        click.echo(line)
    click.echo("Ctrl-C to stop.", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
