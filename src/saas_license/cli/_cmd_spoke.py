"""``saas-license spoke init NAME``: start a new spoke project (see docs/writing-a-spoke.md)."""

from __future__ import annotations

from pathlib import Path

import click

from . import cli
from ._output import safe


@cli.group("spoke")
def spoke_group() -> None:
    """Tools for spoke authors: start a new spoke project."""


@spoke_group.command("init")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the project (absent or empty) [default: ./saas-license-NAME].",
)
@click.option("--display-name", help="The vendor's name for people [default: from NAME].")
def spoke_init(name: str, directory: Path | None, display_name: str | None) -> None:
    """Write a new spoke project: pyproject with the entry point, the hooks, a fake vendor built
    with the kit, the conformance test and CI config. Its tests pass as generated."""
    from .._scaffold import write_project

    target = directory or Path(f"saas-license-{name.replace('_', '-')}")
    written = write_project(name, target, display_name=display_name)
    click.echo(safe(f"wrote {len(written)} files to {target}/:"))
    for path in written:
        click.echo(safe(f"  {path.relative_to(target)}"))
    click.echo(
        safe(
            f"next: cd {target} && pip install -e '.[test]' && python -m pytest "
            "(then replace the assumed API in spoke.py and fake.py with the vendor's)"
        )
    )
