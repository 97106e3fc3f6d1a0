"""Notice templates: plain text and HTML, overridable file by file, escaped by construction.

Templates use ``$name`` / ``${name}`` placeholders (:class:`string.Template`): no code, no
loops, nothing an organisation's override could run. In an ``.html`` template every value is
HTML-escaped when it is put in; the one exception is a *block* (``$seats``), which is itself
rendered from an escaped template. So a hostile seat or user name can never become markup.
Why not Jinja2: this keeps e-mail in the core without a dependency, and a template without
logic cannot forget to escape.
"""

from __future__ import annotations

import html
import importlib.resources
import string
from collections.abc import Mapping
from pathlib import Path

from .._errors import ConfigError

__all__ = ["TEMPLATE_NAMES", "NoticeTemplates"]

#: Every template file, built in and overridable (same name in the templates directory).
TEMPLATE_NAMES = tuple(
    f"{kind}.{part}"
    for kind in ("reclaim_notice", "reminder", "approval_request", "reclaimed", "restored")
    for part in ("subject.txt", "txt", "html")
) + tuple(
    f"seat_{role}.{ext}" for role in ("holder", "approver", "plain") for ext in ("txt", "html")
)


class NoticeTemplates:
    """The notice templates: the built-in ones, each replaced by a file of the same name in
    ``directory`` when there is one (the ``notices.templates_dir`` setting)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = None if directory is None else Path(directory)
        self._cache: dict[str, tuple[str, str]] = {}

    def __repr__(self) -> str:
        return f"NoticeTemplates(directory={str(self.directory) if self.directory else None!r})"

    def source(self, name: str) -> tuple[str, str]:
        """(where it came from, text) of template ``name``."""
        if name not in TEMPLATE_NAMES:
            raise ConfigError(f"no notice template named {name!r}", field="template")
        found = self._cache.get(name)
        if found is not None:
            return found
        if self.directory is not None and (self.directory / name).is_file():
            path = self.directory / name
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"cannot read {path}: {exc}", field="notices.templates_dir"
                ) from None
            found = (str(path), text)
        else:
            ref = importlib.resources.files(__package__).joinpath("templates").joinpath(name)
            found = (f"built-in {name}", ref.read_text(encoding="utf-8"))
        self._cache[name] = found
        return found

    def render(
        self,
        name: str,
        values: Mapping[str, object],
        *,
        blocks: Mapping[str, str] | None = None,
    ) -> str:
        """Template ``name`` filled in: values escaped in ``.html`` templates, ``blocks``
        (already rendered from templates) put in as they are. An unknown placeholder is a
        :class:`ConfigError` naming the file."""
        where, text = self.source(name)
        escape = name.endswith(".html")
        filled: dict[str, str] = {
            k: (html.escape(str(v), quote=True) if escape else str(v)) for k, v in values.items()
        }
        filled.update(blocks or {})
        try:
            out = string.Template(text).substitute(filled)
        except KeyError as exc:
            raise ConfigError(
                f"{where} uses ${exc.args[0]}, which this notice does not have",
                field="notices.templates_dir",
                hint="placeholders here: " + ", ".join(f"${k}" for k in sorted(filled)),
            ) from None
        except ValueError as exc:
            raise ConfigError(
                f"{where} has a stray $: {exc}",
                field="notices.templates_dir",
                hint="write $$ for a dollar sign",
            ) from None
        return out.strip() + "\n" if name.endswith(".txt") else out
