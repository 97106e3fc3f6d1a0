"""The public surface: ``__all__`` names exist, are unique, and every public class/function has a docstring.

(Sorting of ``__all__`` is enforced by ruff's RUF022.)
"""

from __future__ import annotations

import importlib
import inspect

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "saas_license",
        "saas_license_aha",
        "saas_license.http",
        "saas_license.store",
        "saas_license_aha.sandbox",
    ],
)
def test_all_is_sorted_and_documented(module: str) -> None:
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    assert len(names) == len(set(names))
    for name in names:
        obj = getattr(mod, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{module}.{name} has no docstring"
