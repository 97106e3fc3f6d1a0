"""The ``saas-license`` command line.

Every error ends as one line on stderr and a documented exit code (2 bad input, 1 anything else,
75 busy: try again later), whichever command raised it; ``-vv`` adds the traceback.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from .. import __version__
from ..errors import ConfigError, SaasLicenseError
from ..workspace import ENV_WORKSPACE, Workspace, default_workspace_path
from ._output import safe

__all__ = ["EXIT_BAD_INPUT", "EXIT_BUSY", "EXIT_FAILURE", "cli", "exit_code_for", "main"]

#: Exit codes: bad input (usage, config, rules, values), any other failure, busy (EX_TEMPFAIL).
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_BUSY = 75

#: Commands that may create the workspace they are pointed at; every other command needs an
#: existing one (or ``--create``), so a mistyped ``--workspace`` is an error, not a new file.
CREATING_COMMANDS = frozenset({"demo", "alias add", "profile create"})


def exit_code_for(exc: BaseException) -> int:
    """The exit code of an exception: its ``exit_code`` when the error tree gives one (75 for a
    busy profile or workspace), 2 for bad input, 1 for everything else."""
    code = getattr(exc, "exit_code", None)
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if _database_locked(exc):
        return EXIT_BUSY
    if isinstance(exc, ConfigError):
        return EXIT_BAD_INPUT
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return EXIT_BAD_INPUT
    return EXIT_FAILURE


def _database_locked(exc: BaseException) -> bool:
    """A raw ``database is locked`` that escaped the store: the busy error, not a bug."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def _one_line(exc: BaseException) -> str:
    """The error as one line a person can act on (never a traceback, never raw control bytes)."""
    if isinstance(exc, SaasLicenseError):
        text = str(exc)
    elif _database_locked(exc):
        text = "the workspace is locked by another saas-license process — try again in a moment"
    elif isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    else:
        text = (
            f"unexpected {type(exc).__name__}: {exc} — run again with -vv for the traceback "
            "and report it"
        )
    return safe(" ".join(text.split()))


class _State:
    """Lazily opened workspace shared by the subcommands of one invocation."""

    def __init__(self, workspace: Path | None, *, create: bool = False) -> None:
        self.workspace_path = workspace
        self.create = create
        self._ws: Workspace | None = None

    def open(self) -> Workspace:
        """The workspace; created only by a creating command or with ``--create``."""
        if self._ws is None:
            ctx = click.get_current_context(silent=True)
            command = " ".join(ctx.command_path.split()[1:]) if ctx is not None else ""
            create = self.create or command in CREATING_COMMANDS
            self._ws = Workspace.open(self.workspace_path, create=create)
        return self._ws

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()


def _usage_error(exc: click.UsageError, ctx: click.Context) -> NoReturn:
    """A usage error as one line naming the option, then exit 2 (a bare group still shows its
    help, as click does)."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        raise exc
    where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
    click.echo(f"error: {safe(exc.format_message())} — see `{where} --help`", err=True)
    ctx.exit(exc.exit_code)


class _Cli(click.Group):
    """The root group: maps every exception a command raises to one line and an exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            _usage_error(exc, ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            _usage_error(exc, ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("verbose", 0) >= 2:
                click.echo(traceback.format_exc().rstrip(), err=True)
            click.echo(f"error: {_one_line(exc)}", err=True)
            ctx.exit(exit_code_for(exc))


def _late_workspace(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    """``--workspace`` given after the subcommand: the same setting as before it."""
    if value is not None:
        state = ctx.find_object(_State)
        if state is not None:
            state.workspace_path = value


def _late_create(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        state = ctx.find_object(_State)
        if state is not None:
            state.create = True


def _workspace_options() -> list[click.Option]:
    """Hidden copies of ``--workspace``/``--create`` for every subcommand (documented once)."""
    return [
        click.Option(
            ["--workspace"],
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            hidden=True,
            callback=_late_workspace,
        ),
        click.Option(
            ["--create"], is_flag=True, expose_value=False, hidden=True, callback=_late_create
        ),
    ]


@click.group(
    cls=_Cli,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="saas-license")
@click.option(
    "--workspace",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_WORKSPACE,
    show_envvar=True,
    help=f"Workspace database file, before or after the subcommand [default: {default_workspace_path()}].",
)
@click.option(
    "--create",
    is_flag=True,
    help="Create the workspace if it does not exist (demo, alias add and profile create always may).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug and tracebacks).")
@click.pass_context
def cli(ctx: click.Context, workspace: Path | None, create: bool, verbose: int) -> None:
    """Find idle SaaS seats, plan their reclaim safely, and reconcile seats against purchases."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    state = _State(workspace, create=create)
    ctx.obj = state
    ctx.call_on_close(state.close)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: errors are one clear line on stderr and a documented exit code."""
    try:
        code = cli.main(args=argv, prog_name="saas-license", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    if isinstance(code, int) and not isinstance(code, bool) and code:
        sys.exit(code)


def _add_workspace_options(command: click.Command) -> None:
    names = {n for p in command.params for n in getattr(p, "opts", ())}
    for option in _workspace_options():
        if not names & set(option.opts):
            command.params.append(option)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_workspace_options(sub)


def _load_commands() -> None:
    """Import every ``_cmd_*`` module here; each registers its commands on :data:`cli`."""
    import importlib
    import pkgutil

    for module in sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("_cmd_")
    ):
        importlib.import_module(f"{__name__}.{module}")
    for command in cli.commands.values():
        _add_workspace_options(command)


_load_commands()
