"""The docs keep up with the code: every CLI command is documented, every linked page exists."""

from __future__ import annotations

import re
from pathlib import Path

import click

from saas_license.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def _command_paths(cmd: click.Command, path: tuple[str, ...]) -> list[str]:
    found = [" ".join(path)] if len(path) > 1 else []
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, name
            found += _command_paths(sub, (*path, name))
    return found


def test_every_command_has_a_section_in_cli_md() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = [p for p in _command_paths(cli, ("saas-license",)) if f"## `{p}`" not in text]
    assert not missing, f"document these in docs/cli.md (regenerate it): {missing}"


def test_relative_links_in_docs_and_readme_resolve() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not (page.parent / target).exists():
                broken.append(f"{page.name} -> {target}")
    assert not broken, broken


def test_the_lazy_command_list_matches_the_commands() -> None:
    """``saas-license --help`` lists commands from LAZY_COMMANDS without importing them: the
    module and help text recorded there must be the command's own."""
    from saas_license.cli import LAZY_COMMANDS

    ctx = click.Context(cli)
    for name, (module, first_paragraph) in LAZY_COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.callback is not None, name
        assert command.callback.__module__ == f"saas_license.cli.{module}"
        assert " ".join((command.help or "").split("\n\n")[0].split()) == first_paragraph
