"""The second spoke in the repository (examples/spoke-quillpad) passes the conformance suite.

Its own test module is loaded from the example (path-imported, not installed), so the main
pytest run collects exactly the tests its authors run; and its source may use only the public
modules and the kit, as any third-party spoke.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "spoke-quillpad"
PUBLIC = {"saas_license", "saas_license.spoke", "saas_license.http", "saas_license.testing"}

if str(EXAMPLE / "src") not in sys.path:
    sys.path.insert(0, str(EXAMPLE / "src"))

_spec = importlib.util.spec_from_file_location(
    "quillpad_example_tests", EXAMPLE / "tests" / "test_quillpad.py"
)
assert _spec is not None and _spec.loader is not None
_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tests)

# what pytest collects here: the example's conformance class, fixtures and tests
TestQuillpadConformance = _tests.TestQuillpadConformance
vendor, ctx = _tests.vendor, _tests.ctx
test_download_maps_members_to_seats = _tests.test_download_maps_members_to_seats
test_a_member_without_a_role_is_never_taken_for_a_plain_member = (
    _tests.test_a_member_without_a_role_is_never_taken_for_a_plain_member
)
test_a_server_error_mid_listing_raises = _tests.test_a_server_error_mid_listing_raises
test_reclaim_downgrades_at_the_vendor = _tests.test_reclaim_downgrades_at_the_vendor


def test_every_test_of_the_example_is_collected_here() -> None:
    theirs = {n for n in vars(_tests) if n.startswith(("test_", "Test"))}
    assert theirs <= set(globals()), sorted(theirs - set(globals()))


def test_the_example_imports_only_public_modules() -> None:
    offending = []
    for path in sorted((EXAMPLE / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                if module.split(".")[0] == "saas_license" and module not in PUBLIC:
                    offending.append(f"{path.name}:{node.lineno}: {module}")
    assert not offending, offending


def test_the_entry_point_names_the_plugin_module() -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    points = project["project"]["entry-points"]["saas_license"]
    assert points == {"quillpad": "saas_license_quillpad.plugin"}
    assert _tests.plugin.__name__ == "saas_license_quillpad.plugin"


def test_the_example_runs_end_to_end_through_a_workspace() -> None:
    """Registered by hand, Quillpad runs the daily cycle, applies a plan (downgrades at the
    fake vendor) and the next run verifies every reclaim: the pro seats are gone."""
    from saas_license_quillpad import API_KEY, quillpad_vendor

    from saas_license import Workspace
    from saas_license.http import HttpOptions
    from saas_license.spoke import SpokeRegistry

    fake = quillpad_vendor(60)
    registry = SpokeRegistry(load_entry_points=False)
    registry.register(_tests.plugin, name="quillpad")
    ws = Workspace.open(
        ":memory:", spokes=registry, http=HttpOptions(transport=fake.transport(), rate_limit=False)
    )
    try:
        ws.profiles.add_alias(
            "q", spoke="quillpad", base_url="https://acme.quillpad.example", api_key=API_KEY
        )
        ws.profiles.create("q", spoke="quillpad", alias="q")
        assert ws.profiles.validate("q").download_ok
        ws.profiles.publish("q")
        ws.jobs.run("q")
        plan = ws.plans.create("q")
        users = {i.subscription.external_user_id for i in plan.reclaims}
        assert users and all(i.subscription.identifier == "quillpad.pro" for i in plan.reclaims)
        assert all(fake.user(u)["role"] == "member" for u in users)  # never an owner or admin
        report = ws.plans.apply(plan.id or "")
        assert report.counts == {"reclaimed": len(users)}
        assert {u for u in users if fake.user(u)["plan"] == "basic"} == users  # the vendor's state
        again = ws.jobs.run("q")
        assert again.verification.verified == len(users) and not again.verification.reappeared
    finally:
        ws.close()


def test_the_example_offers_its_fake_as_a_sandbox_over_real_http() -> None:
    """The sandbox hook serves the kit-built fake on 127.0.0.1; a workspace validates and runs
    against it over real HTTP (what ``demo --spoke quillpad`` does)."""
    from saas_license import Workspace
    from saas_license.spoke import SandboxSettings, SpokeRegistry

    registry = SpokeRegistry(load_entry_points=False)
    offer = registry.register(_tests.plugin, name="quillpad").sandbox()
    assert offer is not None and offer.title == "Quillpad sandbox"
    sandbox = offer.open(SandboxSettings(users=30))
    sandbox.start()
    ws = Workspace.open(":memory:", spokes=registry)
    try:
        assert sandbox.base_url.startswith("http://127.0.0.1:")
        ws.profiles.add_alias(
            "q", spoke="quillpad", base_url=sandbox.base_url, **sandbox.credentials
        )
        ws.profiles.create("q", spoke="quillpad", alias="q")
        assert ws.profiles.validate("q").download_ok
        ws.profiles.publish("q")
        report = ws.jobs.run("q")
        assert report.ok and report.jobs[0].counts["records"] == 28  # 2 of 30 deactivated
    finally:
        ws.close()
        sandbox.stop()
