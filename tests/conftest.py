"""Shared fixtures: one real Mesa GL context for the session.

A test that takes the ``gl`` fixture fails on any GL error, and on any GL object it created on
the shared context and did not release (a leak: the object's name is in the message). Objects
that outlive a test on purpose belong to a module- or session-scoped fixture, which is set up
before the test's snapshot is taken and releases them itself.
"""

from __future__ import annotations

import pytest

import vrkit  # noqa: F401  (pins PyOpenGL to EGL before anything imports OpenGL)

pytest_plugins = ("pytester",)

#: The longest test files, longest first (serial seconds on the two-core CI machine, 2026-12-03:
#: about 250, 200, 160, 100, 70, 60, 60, 40, 40, 35). scripts/test runs files side by side
#: (pytest-xdist, ``--dist loadfile``), handing them out in collection order; starting these
#: first keeps one long file from running alone at the end. Order only, never selection.
LONGEST_FILES = (
    "test_calibration_lens.py",
    "test_calibration_structured.py",
    "test_calibration_viewpoint.py",
    "test_latency_video.py",
    "test_latency_independent.py",
    "test_openxr_sim.py",
    "test_timewarp.py",
    "test_calibration_acceptance.py",
    "test_outputs_fulldisk.py",
    "test_latency_e2e.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the :data:`LONGEST_FILES` first (a stable sort: each file's own order is kept)."""
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def _describe(objects: list) -> str:
    shown = [getattr(o, "name", None) or type(o).__name__ for o in objects[:8]]
    more = f" and {len(objects) - 8} more" if len(objects) > 8 else ""
    return ", ".join(shown) + more


@pytest.fixture(scope="session")
def _gl_session():
    from vrkit.gl.egl import create_headless_context

    ctx = create_headless_context()
    yield ctx
    left = ctx.owned()
    ctx.release()
    assert not left, f"GL objects alive at the end of the session: {_describe(left)}"


@pytest.fixture
def gl(_gl_session):
    """A current headless GL context; the test fails on a GL error or a leaked GL object."""
    ctx = _gl_session
    ctx.make_current()
    ctx.check_error("test set-up (left over from an earlier test)")
    before = ctx.owned()  # held, so no id of these can be reused by a new object
    known = {id(o) for o in before}
    yield ctx
    ctx.make_current()
    ctx.check_error("the test")
    leaked = [o for o in ctx.owned() if id(o) not in known]
    for o in leaked:  # release them so that one leak does not fail every later test
        o.release()
    assert not leaked, (
        f"the test left {len(leaked)} GL object(s) alive: {_describe(leaked)}; release them "
        "(or hold them in a module-scoped fixture that does)"
    )
