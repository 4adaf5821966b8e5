"""The ``gl`` fixture itself: a test that leaks a GL object or leaves a GL error fails."""

from __future__ import annotations

from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")

INNER = """
def test_releases_what_it_makes(gl):
    fb = gl.framebuffer(4, 4)
    fb.release()

def test_leaks_a_framebuffer(gl):
    gl.framebuffer(4, 4)

def test_leaks_a_program(gl):
    gl.program("blit.vert", "blit.frag")

def test_after_the_leaks(gl):
    assert gl.live_objects == 0

def test_leaves_a_gl_error(gl):
    import ctypes
    # Straight to the driver, past PyOpenGL's own error check (as a runtime or glfw would).
    ctypes.CDLL("libOpenGL.so.0").glEnable(0xFFFF)  # GL_INVALID_ENUM
"""


def test_leaks_and_gl_errors_fail_the_test_that_made_them(pytester):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, errors=3)  # the three pass their calls, fail at teardown
    out = result.stdout.str()
    assert "ERROR at teardown of test_leaks_a_framebuffer" in out
    assert "left 2 GL object(s) alive: Framebuffer, Texture" in out  # the colour texture too
    assert "ERROR at teardown of test_leaks_a_program" in out
    assert "left 1 GL object(s) alive: blit.vert+blit.frag" in out
    assert "ERROR at teardown of test_leaves_a_gl_error" in out and "GL_INVALID_ENUM" in out
