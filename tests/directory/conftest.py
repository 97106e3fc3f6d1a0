"""Directory fixtures: the lifecycle harness's small account, and a directory CSV for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..lifecycle.conftest import Harness

HEADER = "email,aliases,name,manager_email,department,cost_center,employment_status\n"

#: People of the harness's small account (see ``small_account``): ben signs in to the vendor
#: with an alias; dee (a partner) and eli are not in the directory.
PEOPLE = (
    HEADER
    + "svc@acme.test,,Service,,IT,CC-900,active\n"
    + "ana@acme.test,,Ana,boss@acme.test,Sales,CC-100,active\n"
    + "benjamin@acme.test,BEN@acme.test,Ben,boss@acme.test,Sales,CC-100,leaver\n"
    + "cy@acme.test,,Cy,outside-boss@other.test,Engineering,CC-200,contractor\n"
    + "fay@acme.test,,Fay,,Engineering,CC-200,active\n"
    + "gus@acme.test,,Gus,boss@acme.test,IT,CC-900,active\n"
    + "hal@acme.test,,Hal,,Sales,CC-100,active\n"
    + "boss@acme.test,,The Boss,,Sales,CC-100,active\n"
)


def write(tmp_path: Path, text: str = PEOPLE, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()
