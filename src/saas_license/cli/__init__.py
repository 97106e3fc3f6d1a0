"""The ``saas-license`` command line."""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path

import click

from .. import __version__
from ..errors import ConfigError, RunInProgressError, SaasLicenseError, WorkspaceBusyError
from ..workspace import ENV_WORKSPACE, Workspace, default_workspace_path

__all__ = ["EXIT_BUSY", "cli", "main"]

#: Exit code of every command refused because a profile or the workspace is busy (EX_TEMPFAIL:
#: "try again later", which cron and systemd understand).
EXIT_BUSY = 75


class _State:
    """Lazily opened workspace shared by the subcommands of one invocation."""

    def __init__(self, workspace: Path | None) -> None:
        self.workspace_path = workspace
        self._ws: Workspace | None = None

    def open(self) -> Workspace:
        if self._ws is None:
            self._ws = Workspace.open(self.workspace_path)
        return self._ws

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="saas-license")
@click.option(
    "--workspace",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_WORKSPACE,
    show_envvar=True,
    help=f"Workspace database file [default: {default_workspace_path()}].",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, workspace: Path | None, verbose: int) -> None:
    """Find idle SaaS seats, plan their reclaim safely, and reconcile seats against purchases."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    state = _State(workspace)
    ctx.obj = state
    ctx.call_on_close(state.close)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: library errors become one clear line on stderr and a non-zero exit."""
    try:
        cli.main(args=argv, prog_name="saas-license", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (RunInProgressError, WorkspaceBusyError) as exc:
        click.echo(f"busy: {exc}", err=True)
        sys.exit(EXIT_BUSY)
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        click.echo(
            "busy: the workspace is locked by another saas-license process — try again in a moment",
            err=True,
        )
        sys.exit(EXIT_BUSY)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except SaasLicenseError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _load_commands() -> None:
    """Import every ``_cmd_*`` module here; each registers its commands on :data:`cli`."""
    import importlib
    import pkgutil

    for module in sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("_cmd_")
    ):
        importlib.import_module(f"{__name__}.{module}")


_load_commands()
