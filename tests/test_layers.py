"""The house's walls: the core names no vendor, and a spoke uses only the core's public modules.

Both checks read the imports of every source file (AST), so a lazy import inside a function
counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

#: What a spoke may import from the core (the spoke author's API).
PUBLIC_FOR_SPOKES = {
    "saas_license",
    "saas_license.spoke",
    "saas_license.http",
    "saas_license.testing",
}


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``, relative ones resolved."""
    parts = path.relative_to(SRC).with_suffix("").parts
    here = list(parts[:-1])  # the package a relative import starts from (same for __init__)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # ``from saas_license import _time`` is a module import
                yield node.lineno, f"{module}.{alias.name}"


def _spoke_packages() -> list[str]:
    return sorted(
        p.name for p in SRC.iterdir() if p.is_dir() and p.name.startswith("saas_license_")
    )


def test_there_is_a_spoke_to_check() -> None:
    assert "saas_license_aha" in _spoke_packages()


def test_the_core_imports_no_spoke_package() -> None:
    spokes = _spoke_packages()
    offending = [
        f"{path.relative_to(SRC)}:{line}: {module}"
        for path in sorted((SRC / "saas_license").rglob("*.py"))
        for line, module in _imports(path)
        if any(module == s or module.startswith(f"{s}.") for s in spokes)
    ]
    assert not offending, f"the core must not import a spoke (use a hook): {offending}"


def test_spokes_import_only_public_core_modules() -> None:
    offending = []
    for spoke in _spoke_packages():
        for path in sorted((SRC / spoke).rglob("*.py")):
            for line, module in _imports(path):
                top = module.split(".")[0]
                if top != "saas_license":
                    continue
                parts = module.split(".")
                # the module itself, or a name imported from one of the public modules
                public = module in PUBLIC_FOR_SPOKES or ".".join(parts[:-1]) in PUBLIC_FOR_SPOKES
                if public and not parts[-1].startswith("_"):
                    continue
                offending.append(f"{path.relative_to(SRC)}:{line}: {module}")
    assert not offending, f"spokes may import only {sorted(PUBLIC_FOR_SPOKES)}: {offending}"
