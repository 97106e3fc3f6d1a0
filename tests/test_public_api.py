"""The public surface: a few public modules, each ``__all__`` unique and documented in code and docs.

Everything else in ``saas_license`` is private (a ``_name`` module or package). Adding a public
name without a line in its reference page fails here. (Sorting of ``__all__``: ruff's RUF022.)
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import saas_license

DOCS = Path(__file__).resolve().parent.parent / "docs"

#: Public modules of the core, and the page that documents each name they export.
PUBLIC = {
    "saas_license": "python-api.md",
    "saas_license.spoke": "python-api.md",
    "saas_license.testing": "python-api.md",
    "saas_license.hookspecs": "python-api.md",
    "saas_license.reports": "python-api.md",
    "saas_license.http": "http.md",
    "saas_license.cli": "python-api.md",
    "saas_license.web": "python-api.md",
    "saas_license.email": "notices.md",
    "saas_license.people": "python-api.md",
    "saas_license.directory": "python-api.md",
    "saas_license.finance": "python-api.md",
}


@pytest.mark.parametrize(
    "module",
    [*PUBLIC, "saas_license_aha", "saas_license_aha.sandbox"],
)
def test_all_is_unique_and_documented(module: str) -> None:
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    assert len(names) == len(set(names))
    for name in names:
        obj = getattr(mod, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{module}.{name} has no docstring"


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_has_a_reference_entry(module: str) -> None:
    page = PUBLIC[module]
    text = (DOCS / page).read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", text))
    missing = [n for n in importlib.import_module(module).__all__ if n not in documented]
    assert not missing, f"document these names of {module} in docs/{page}: {missing}"


def test_only_the_public_modules_are_public() -> None:
    public = []
    for info in pkgutil.walk_packages(saas_license.__path__, "saas_license."):
        parts = info.name.split(".")[1:]
        if not any(p.startswith("_") for p in parts) and info.name not in PUBLIC:
            public.append(info.name)
    assert not public, f"make these private (_name) or add them to the public modules: {public}"


def test_the_root_stays_small_and_imports_lazily() -> None:
    assert len(saas_license.__all__) <= 50
    assert set(saas_license.__all__) <= set(dir(saas_license))
    for name in saas_license.__all__:
        assert getattr(saas_license, name) is not None


def test_the_web_extra_is_not_imported_by_the_core() -> None:
    """``import saas_license`` (and the CLI's ``users`` records) never pull in the server extra."""
    import subprocess
    import sys

    code = (
        "import sys, saas_license, saas_license.cli; saas_license.Workspace; "
        "from saas_license.web import Users, Role; "
        "print(sorted(m for m in ('starlette', 'jinja2', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
