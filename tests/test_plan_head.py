"""A stored plan's head, written and read field by field (no converter hooks for a whole plan),
is exactly what the converter makes of the plan without its items, and reads back as it was."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from saas_license._convert import converter
from saas_license._reclaim.records import ReclaimPlan
from saas_license._reclaim.stored import head_data, head_of

from .strategies import instants

heads = st.builds(
    ReclaimPlan,
    profile=st.text(max_size=20),
    created_at=instants,
    items=st.just(()),
    reclaim_enabled=st.booleans(),
    dry_run=st.booleans(),
    id=st.none() | st.text(alphabet="abcdef0123456789", min_size=1, max_size=12),
    expires_at=st.none() | instants,
)


@given(heads)
def test_the_head_is_the_converters_plan_without_items(plan: ReclaimPlan) -> None:
    whole = converter.unstructure(attrs.evolve(plan, items=(), held=()))
    assert head_data(plan) == whole
    assert list(head_data(plan)) == list(whole)  # the same keys, in the same order


@given(heads)
def test_a_head_reads_back_as_it_was_and_as_the_converter_reads_it(plan: ReclaimPlan) -> None:
    stored = {**head_data(plan), "summary": {"notice_count": 3}}  # the store adds its summary
    assert head_of(stored) == plan
    assert head_of(stored) == converter.structure({**stored, "items": [], "held": []}, ReclaimPlan)


def test_a_head_without_the_optional_fields_takes_their_defaults() -> None:
    plan = head_of({"profile": "p", "created_at": "2026-01-02T03:04:05Z", "reclaim_enabled": True})
    assert (plan.dry_run, plan.id, plan.expires_at, plan.items, plan.held) == (
        True,
        None,
        None,
        (),
        (),
    )
