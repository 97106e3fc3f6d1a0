"""The download's raised garbage-collection threshold is scoped: it never outlives the step."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from saas_license import Workspace
from saas_license._gcpause import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def _default_threshold() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_raised_inside_and_restored_after_even_on_error() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        raise RuntimeError("the step failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_nested_and_concurrent_blocks_share_one_raise() -> None:
    inside, leave = threading.Event(), threading.Event()

    def other_download() -> None:
        with fewer_collections():
            inside.set()
            leave.wait(5)

    worker = threading.Thread(target=other_download)
    with fewer_collections():
        worker.start()
        assert inside.wait(5)
        with fewer_collections():
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    # this block left first: the other download still runs with the raised threshold
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    leave.set()
    worker.join(5)
    assert gc.get_threshold() == (700, 10, 10)


def test_an_application_setting_made_meanwhile_is_kept() -> None:
    with fewer_collections():
        gc.set_threshold(2_000, 5, 5)
    assert gc.get_threshold() == (2_000, 5, 5)


@pytest.mark.parametrize("threshold", [(0, 10, 10), (100_000, 10, 10)])
def test_a_collector_off_or_already_less_eager_is_left_alone(
    threshold: tuple[int, int, int],
) -> None:
    gc.set_threshold(*threshold)
    with fewer_collections():
        assert gc.get_threshold() == threshold
    assert gc.get_threshold() == threshold


def test_a_daily_run_lists_under_the_raised_threshold_and_restores_it(
    published: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from saas_license_aha.spoke import AhaSpoke

    during: list[tuple[int, int, int]] = []
    listing = AhaSpoke.download

    def watched(self: AhaSpoke, ctx: Any) -> Iterator[Any]:
        for record in listing(self, ctx):
            during.append(gc.get_threshold())
            yield record

    monkeypatch.setattr(AhaSpoke, "download", watched)
    report = published.jobs.run("aha")
    assert report.ok and during
    assert set(during) == {(YOUNG_THRESHOLD, 10, 10)}
    assert gc.get_threshold() == (700, 10, 10)
