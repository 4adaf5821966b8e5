"""Shared fixtures: one real Mesa GL context for the session; any GL error fails the test."""

from __future__ import annotations

import pytest

import vrkit  # noqa: F401  (pins PyOpenGL to EGL before anything imports OpenGL)


@pytest.fixture(scope="session")
def _gl_session():
    from vrkit.gl.egl import create_headless_context

    ctx = create_headless_context()
    yield ctx
    ctx.release()


@pytest.fixture
def gl(_gl_session):
    """A current headless GL context; the test fails if GL recorded an error during it."""
    ctx = _gl_session
    ctx.make_current()
    ctx.check_error("test set-up (left over from an earlier test)")
    before = ctx.live_objects
    yield ctx
    ctx.make_current()
    ctx.check_error("the test")
    assert ctx.live_objects >= before  # objects a test created may outlive it; none vanish
