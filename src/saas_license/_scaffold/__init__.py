"""``saas-license spoke init NAME``: write a new spoke project from the templates beside this file.

The project holds a pyproject with the ``saas_license`` entry point, the hooks with docstrings,
a fake vendor built with the kit (``saas_license.testing``), the conformance test and CI config
(a noxfile and a GitHub workflow). Its tests pass as generated.
"""

from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from .._errors import ConfigError

if TYPE_CHECKING:  # importlib.abc's copy is deprecated from 3.12 on; resources.abc is 3.11+
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = ["NAME_PATTERN", "project_files", "write_project"]

#: A spoke name: lower case, starts with a letter; it becomes the entry-point name, the
#: ``SpokeInfo.name`` and part of the package name (``saas_license_<name>``).
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,39}")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def _check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name) or name.endswith("_") or "__" in name:
        raise ConfigError(
            f"{name!r} is not a spoke name",
            field="NAME",
            hint="use 2-40 lower-case letters, digits and single underscores, starting with a "
            "letter (e.g. 'acme_crm')",
        )


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out: list[tuple[str, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            out += _walk(child, rel + "/")
        elif child.name.endswith(".tmpl"):
            out.append((rel[: -len(".tmpl")], child))
    return out


def project_files(name: str, *, display_name: str | None = None) -> dict[str, str]:
    """The generated project, relative path → text (nothing written)."""
    _check_name(name)
    package = f"saas_license_{name}"
    values = {
        "name": name,
        "display": display_name or name.replace("_", " ").title(),
        "package": package,
        "dist": f"saas-license-{name.replace('_', '-')}",
        "version": __version__,
    }
    files: dict[str, str] = {}
    for rel, node in _walk(resources.files(__name__) / "template"):
        text = node.read_text(encoding="utf-8")

        def fill(match: re.Match[str]) -> str:
            return values[match.group(1)]

        # the template holds ``github/`` (hidden directories may be left out of packages)
        path = rel.replace("src/package/", f"src/{package}/", 1).replace("github/", ".github/", 1)
        files[path] = _PLACEHOLDER.sub(fill, text)
    return files


def write_project(name: str, target: Path, *, display_name: str | None = None) -> list[Path]:
    """Write the project for spoke ``name`` into ``target`` (absent or empty); the files written.

    Refuses a directory that holds anything, so nothing of yours is ever overwritten.
    """
    files = project_files(name, display_name=display_name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(
            f"{target} already exists and is not an empty directory",
            field="--dir",
            hint="choose a new directory; nothing was written",
        )
    written = []
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
