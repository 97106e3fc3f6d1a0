"""docs/spoke-reference.md covers every hook and, field by field, every record of the contract.

A hook, a record, a field, an enum member or a sandbox member added without an entry fails here.
"""

from __future__ import annotations

import enum
import inspect
import re
from pathlib import Path

import attrs
import pytest

import saas_license.hookspecs as hookspecs
import saas_license.spoke as spoke
from saas_license.http import OAuth2Endpoints

PAGE = Path(__file__).resolve().parent.parent / "docs" / "spoke-reference.md"
TEXT = PAGE.read_text(encoding="utf-8")


def _sections() -> dict[str, str]:
    """``### `Name` `` heading → the text up to the next heading."""
    parts = re.split(r"^### `([^`(]+)[^\n]*$", TEXT, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


SECTIONS = _sections()
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("saas_license_"))
RECORDS = sorted(
    [n for n in spoke.__all__ if inspect.isclass(getattr(spoke, n))] + ["OAuth2Endpoints"]
)


def _documented_members(section: str) -> set[str]:
    return set(re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \|", section, flags=re.M))


def test_there_is_something_to_check() -> None:
    assert len(HOOKS) >= 9 and "SpokeInfo" in RECORDS and len(SECTIONS) > 20


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section(hook: str) -> None:
    assert hook in SECTIONS, f"docs/spoke-reference.md: add a '### `{hook}(…)`' section"
    assert len(SECTIONS[hook].split()) > 15, f"the section of {hook} says too little"


@pytest.mark.parametrize("name", RECORDS)
def test_every_record_field_and_member_has_an_entry(name: str) -> None:
    obj = OAuth2Endpoints if name == "OAuth2Endpoints" else getattr(spoke, name)
    if attrs.has(obj):
        members = [f.name for f in attrs.fields(obj)]
    elif issubclass(obj, enum.Enum):
        members = list(obj.__members__)
    elif getattr(obj, "_is_protocol", False):
        members = [m for m in vars(obj) if not m.startswith("_")]
    else:  # errors and helpers: named on the page
        assert f"`{name}`" in TEXT, f"docs/spoke-reference.md does not mention `{name}`"
        return
    assert name in SECTIONS, f"docs/spoke-reference.md: add a '### `{name}`' section"
    missing = [m for m in members if m not in _documented_members(SECTIONS[name])]
    assert not missing, f"docs/spoke-reference.md, section {name}: no row for {missing}"


@pytest.mark.parametrize("name", [n for n in spoke.__all__ if n not in RECORDS])
def test_every_other_public_name_is_mentioned(name: str) -> None:
    assert f"`{name}`" in TEXT, f"docs/spoke-reference.md does not mention `{name}`"


def test_the_page_explains_what_issue_14_found_missing() -> None:
    for words in (
        "reclaim_effect",
        "auth_types",
        "default_base_url",
        "`oauth`",
        "204 No Content",
        "SpokeRegistry.register",
        "Workspace.open(",
        "spokes=registry",
    ):
        assert words in TEXT, words
