"""Library messages name actions neutrally: CLI wording lives in ``saas_license.cli``.

Every string a library module (everything in ``src/saas_license`` except ``cli/``) can show a
person — error messages, hints, notices — must not spell a ``saas-license COMMAND`` line, and a
hint that names a CLI action (``CLI `…```) names the Python one too (``Python `…```).
Docstrings and comments are for developers and are not checked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import saas_license
import saas_license_aha
from saas_license.cli import LAZY_COMMANDS, cli

PACKAGE = Path(saas_license.__file__).parent
#: The bundled spoke is library code too: its errors reach Python callers without the CLI.
SPOKE = Path(saas_license_aha.__file__).parent
LIBRARY_FILES = sorted(
    [p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts[:1]]
    + [p for p in SPOKE.rglob("*.py") if "sandbox" not in p.relative_to(SPOKE).parts[:1]]
)
COMMANDS = frozenset(LAZY_COMMANDS) | frozenset(cli.commands)
COMMAND_LINE = re.compile(r"saas-license\s+([a-z][a-z-]*)")

#: ``(file relative to the package, text)`` pairs allowed to break the rule, with the reason.
#: Empty: add an entry only for a string that never reaches a person without the CLI at hand.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "saas_license/_store/_sqlite/__init__.py",
        "{} is not a saas-license workspace database ({})",
    ): "prose (a saas-license workspace database), not the `workspace` command",
}


def _docstring_nodes(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _strings(path: Path) -> Iterator[tuple[int, str]]:
    """Each string literal of ``path`` (an f-string with ``{}`` for its fields), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstring_nodes(tree)
    inside_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                inside_fstring.add(id(value))
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    parts.append(value.value)
                else:
                    parts.append("{}")
            yield node.lineno, "".join(parts)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and id(node) not in inside_fstring
        ):
            yield node.lineno, node.value


def _violations() -> list[str]:
    found = []
    for path in LIBRARY_FILES:
        rel = path.relative_to(PACKAGE.parent).as_posix()
        for line, text in _strings(path):
            if (rel, text) in ALLOWED:
                continue
            commands = [m for m in COMMAND_LINE.findall(text) if m in COMMANDS]
            if commands:
                found.append(
                    f"{rel}:{line}: spells the CLI command `saas-license {commands[0]}`: {text!r}"
                )
            if "CLI `" in text and "Python `" not in text:
                found.append(f"{rel}:{line}: names a CLI action without the Python one: {text!r}")
    return found


def test_the_scan_sees_library_hints() -> None:
    """Guard the guard: the scan reaches the http toolkit and the workspace, skips ``cli/``."""
    rels = {p.relative_to(PACKAGE.parent).as_posix() for p in LIBRARY_FILES}
    assert {"saas_license/http/_errors.py", "saas_license/_workspace/facade.py"} <= rels
    assert "saas_license_aha/auth.py" in rels
    assert not any(r.startswith("saas_license/cli/") for r in rels)
    assert {"connect", "spokes", "demo", "report"} <= COMMANDS
    texts = [t for _, t in _strings(PACKAGE / "http" / "_errors.py")]
    assert any("CLI `connect PROFILE`" in t and "Python `ws.profiles." in t for t in texts)


def test_library_strings_name_cli_and_python_actions_neutrally() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    "text",
    [
        "re-authorize this profile (saas-license connect <profile>)",
        "re-authorize this profile (CLI `connect PROFILE`)",
    ],
)
def test_the_rule_catches_cli_only_wording(tmp_path: Path, text: str) -> None:
    module = tmp_path / "m.py"
    module.write_text(f'"""Docstrings may say saas-license connect."""\nHINT = {text!r}\n')
    strings = [t for _, t in _strings(module)]
    assert strings == [text]
    spelled = [m for m in COMMAND_LINE.findall(text) if m in COMMANDS]
    assert spelled or ("CLI `" in text and "Python `" not in text)


def test_the_allow_list_names_real_strings() -> None:
    for rel, text in ALLOWED:
        assert any(t == text for _, t in _strings(PACKAGE.parent / rel)), (rel, text)
