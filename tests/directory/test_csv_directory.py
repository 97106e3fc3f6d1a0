"""The built-in CSV directory: people by e-mail and aliases, every bad line named, nothing guessed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saas_license._directory import (
    DirectoryError,
    DirectoryIndex,
    DirectoryRegistry,
    Person,
    read_directory_csv,
)
from saas_license._errors import ConfigError, SpokeError
from saas_license.hookspecs import hookimpl

HEADER = "email,aliases,name,manager_email,department,cost_center,employment_status\n"


def test_people_are_found_by_email_and_aliases_in_any_case() -> None:
    index = read_directory_csv(
        "people.csv",
        text=HEADER
        + "Ann@Corp.com,ann.b@corp.com;a@old.com,Ann Lee,boss@corp.com,Sales,CC-1,Active\n"
        + "boss@corp.com,,The Boss,,Sales,CC-1,active\n"
        + "bob@corp.com,,Bob,,IT,,Contractor\n",
    )
    ann = index.lookup("ANN@corp.COM")
    assert ann is not None and ann.name == "Ann Lee"
    assert index.lookup("A@OLD.com") is ann
    assert ann.employment_status == "active"
    assert index.manager_of("ann.b@corp.com") == index.lookup("boss@corp.com")
    assert index.manager_of("bob@corp.com") is None
    assert ann.facts()["directory.department"] == "Sales"
    assert "directory.manager_email" not in index.lookup("bob@corp.com").facts()  # type: ignore[union-attr]


def test_unresolved_addresses_are_listed_not_guessed() -> None:
    index = read_directory_csv("p.csv", text=HEADER + "ann@corp.com,,,,,,\n")
    result = index.resolve(["ann@corp.com", "ann@corp.co", "anne@corp.com", "ann@corp.com"])
    assert set(result.people) == {"ann@corp.com"}
    assert result.unresolved == ("ann@corp.co", "anne@corp.com")


def test_an_address_claimed_twice_is_refused_with_both_line_numbers() -> None:
    text = (
        HEADER + "ann@corp.com,a@old.com,,,,,\nbob@corp.com,,,,,,\ncarl@corp.com,A@old.COM,,,,,\n"
    )
    with pytest.raises(DirectoryError) as info:
        read_directory_csv("p.csv", text=text)
    (problem,) = info.value.problems
    assert problem.line == 4 and problem.field == "aliases"
    assert "a@old.com" in problem.message and "line 2" in problem.message


def test_every_bad_line_is_named_and_nothing_is_loaded() -> None:
    text = (
        HEADER
        + "not-an-address,,,,,,\n"
        + ",,Nobody,,,,\n"
        + "ann@corp.com,,,boss at corp,,,\n"
        + "x@corp.com,too,many,cells,,,,,\n"
    )
    with pytest.raises(DirectoryError) as info:
        read_directory_csv("p.csv", text=text)
    found = {(p.line, p.field) for p in info.value.problems}
    assert found == {(2, "email"), (3, "email"), (4, "manager_email"), (5, "row")}
    assert "name@domain" in str(info.value)  # the fix, not only the fault


def test_unknown_columns_are_refused() -> None:
    with pytest.raises(DirectoryError, match="unknown column"):
        read_directory_csv("p.csv", text="email,salary\nann@corp.com,100\n")


def test_a_missing_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        DirectoryRegistry(load_entry_points=False).open(str(tmp_path / "missing.csv"))


def test_a_source_no_plugin_reads_is_bad_input() -> None:
    with pytest.raises(ConfigError, match=r"no directory plugin reads 'ldap://corp'.*csv"):
        DirectoryRegistry(load_entry_points=False).open("ldap://corp")


class _HrPlugin:
    """A directory plugin as a third party writes one."""

    def __init__(self, people: list[object]) -> None:
        self.people = people

    @hookimpl
    def saas_license_directory_people(self, source: str) -> list[object] | None:
        return self.people if source.startswith("hr:") else None


def test_a_plugin_directory_is_indexed_like_the_csv_one() -> None:
    registry = DirectoryRegistry(load_entry_points=False)
    registry.register(_HrPlugin([Person(email="z@corp.com", department="Ops")]), name="hr")
    index = registry.open("hr:workday")
    assert index.lookup("Z@CORP.COM") == Person(email="z@corp.com", department="Ops")


def test_a_plugin_that_yields_something_else_is_a_spoke_error() -> None:
    registry = DirectoryRegistry(load_entry_points=False)
    registry.register(_HrPlugin([{"email": "z@corp.com"}]), name="hr")
    with pytest.raises(SpokeError, match="not a Person"):
        registry.open("hr:x")


def test_a_plugin_that_repeats_an_address_is_refused() -> None:
    registry = DirectoryRegistry(load_entry_points=False)
    people = [Person(email="a@corp.com"), Person(email="b@corp.com", aliases=("A@corp.com",))]
    registry.register(_HrPlugin(list(people)), name="hr")
    with pytest.raises(DirectoryError, match="a@corp.com"):
        registry.open("hr:x")


_local = st.text(alphabet="abcdefgh.", min_size=1, max_size=6).filter(lambda s: s.strip("."))
_address = st.builds(lambda u, d: f"{u}@{d}.com", _local, st.sampled_from(["corp", "old", "x"]))


@given(st.lists(st.lists(_address, min_size=1, max_size=3), min_size=1, max_size=8))
def test_index_either_resolves_every_address_to_its_one_person_or_refuses(
    groups: list[list[str]],
) -> None:
    """Property: for any set of people, every address (in any case) finds the person that owns
    it, or the directory is refused because an address is claimed twice."""
    people = [Person(email=g[0], aliases=tuple(g[1:])) for g in groups]
    owners: dict[str, int] = {}
    clash = False
    for n, person in enumerate(people):
        for address in person.addresses:
            clash |= owners.setdefault(address, n) != n
    if clash:
        with pytest.raises(DirectoryError):
            DirectoryIndex(people)
        return
    index = DirectoryIndex(people)
    for address, n in owners.items():
        assert index.lookup(address.upper()) is people[n]
    assert index.resolve(["nobody@else.org"]).unresolved == ("nobody@else.org",)
