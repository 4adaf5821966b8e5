"""OpenXR backend pieces that need no runtime: the missing-runtime message, fallback, formats."""

from __future__ import annotations

import logging
import time

import pytest

from vrkit.backends.base import RunConfig
from vrkit.backends.openxr.backend import OpenXRBackend
from vrkit.backends.openxr.runtime import NO_RUNTIME, runtime_manifest
from vrkit.backends.openxr.watchdog import Watchdog
from vrkit.core.errors import BackendUnavailableError


@pytest.fixture
def no_runtime(monkeypatch, tmp_path):
    """A host where the loader finds no runtime manifest anywhere."""
    monkeypatch.delenv("XR_RUNTIME_JSON", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc"))
    if runtime_manifest() is not None:
        pytest.skip(f"this host has an OpenXR runtime installed ({runtime_manifest()})")


def test_missing_runtime_gives_the_clear_message(no_runtime):
    assert OpenXRBackend.unavailable_reason() == NO_RUNTIME
    with pytest.raises(BackendUnavailableError) as err:
        OpenXRBackend(RunConfig()).open()
    assert str(err.value) == NO_RUNTIME


def test_runtime_json_pointing_nowhere_names_the_path(monkeypatch, tmp_path):
    missing = tmp_path / "nope" / "openxr_monado.json"
    monkeypatch.setenv("XR_RUNTIME_JSON", str(missing))
    reason = OpenXRBackend.unavailable_reason()
    assert reason.startswith(NO_RUNTIME) and str(missing) in reason


def test_manifest_search_finds_an_xdg_manifest(monkeypatch, tmp_path):
    monkeypatch.delenv("XR_RUNTIME_JSON", raising=False)
    d = tmp_path / "etc" / "openxr" / "1"
    d.mkdir(parents=True)
    (d / "active_runtime.json").write_text("{}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc"))
    assert runtime_manifest() == d / "active_runtime.json"


def test_vrkit_info_without_runtime_prints_one_line(no_runtime, capsys):
    from vrkit.cli import main

    assert main(["info"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"vrkit info: error: {NO_RUNTIME}"


def test_auto_backend_skips_openxr_with_the_reason_and_falls_back(no_runtime, caplog, tmp_path):
    from vrkit.backends.registry import open_backend

    caplog.set_level(logging.INFO, logger="vrkit.backends.registry")
    backend = open_backend("auto", RunConfig(frames=1, out_dir=tmp_path / "out"))
    try:
        assert backend.name != "openxr"
    finally:
        backend.close()
    assert f"skipping backend openxr: {NO_RUNTIME}" in caplog.text
    assert f"using backend {backend.name}" in caplog.text


def test_colour_format_prefers_srgb_and_rejects_unusable_sets():
    from vrkit.backends.openxr.swapchain import (
        GL_RGBA8,
        GL_SRGB8_ALPHA8,
        choose_color_format,
    )

    monado = [0x805B, 0x881A, 0x8C43, 0x8058, 0x8CAC, 0x81A5, 0x88F0, 0x8CAD]  # Monado 25
    assert choose_color_format(monado) == GL_SRGB8_ALPHA8
    assert choose_color_format(monado, prefer_srgb=False) == GL_RGBA8
    assert choose_color_format([0x8058]) == GL_RGBA8
    with pytest.raises(BackendUnavailableError, match="GL_DEPTH_COMPONENT16"):
        choose_color_format([0x81A5])


def test_depth_format_choice_prefers_24_bit_then_float_and_none_without_depth():
    from vrkit.backends.openxr.swapchain import (
        GL_DEPTH24_STENCIL8,
        GL_DEPTH_COMPONENT24,
        GL_DEPTH_COMPONENT32F,
        choose_depth_format,
    )

    monado = [0x805B, 0x881A, 0x8C43, 0x8058, 0x8CAC, 0x81A5, 0x88F0, 0x8CAD]  # Monado 25
    assert choose_depth_format(monado) == GL_DEPTH_COMPONENT32F
    assert choose_depth_format([0x81A5, 0x88F0]) == GL_DEPTH24_STENCIL8
    assert choose_depth_format([0x81A5, 0x81A6, 0x8CAC]) == GL_DEPTH_COMPONENT24
    assert choose_depth_format([0x8C43, 0x8058]) is None


def test_depth_range_must_be_near_below_far():
    from vrkit.core.errors import InputError

    with pytest.raises(InputError, match=r"0 < near < far, got \(1.0, 0.5\)"):
        OpenXRBackend(RunConfig(extra={"openxr_depth_range": (1.0, 0.5)}))


def test_watchdog_returns_results_raises_errors_and_gives_up_on_a_hang():
    wd = Watchdog()
    assert wd.call(lambda: 42, timeout_s=1.0) == 42
    with pytest.raises(ZeroDivisionError):
        wd.call(lambda: 1 / 0, timeout_s=1.0)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        wd.call(lambda: time.sleep(1.0), timeout_s=0.2)
    assert time.monotonic() - t0 < 0.9  # gave up at the deadline, did not wait for the call
    assert wd.hung
    with pytest.raises(TimeoutError):  # never reuses a stuck worker
        wd.call(lambda: 1, timeout_s=1.0)
    wd.stop()


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        ("auto", {"XR_KHR_opengl_enable", "XR_MNDX_egl_enable"}, "egl"),  # Monado
        ("auto", {"XR_KHR_opengl_enable"}, "glx"),  # SteamVR and most Linux runtimes
        ("glx", {"XR_KHR_opengl_enable", "XR_MNDX_egl_enable"}, "glx"),
        ("window", {"XR_KHR_opengl_enable", "XR_MNDX_egl_enable"}, "window"),
        ("window", {"XR_KHR_opengl_enable"}, "lacks XR_MNDX_egl_enable"),
        ("egl", {"XR_KHR_opengl_enable"}, "use openxr_gl=glx"),
        ("auto", {"XR_MNDX_egl_enable"}, "no OpenGL support"),
        ("vulkan", {"XR_KHR_opengl_enable"}, "must be auto, egl, window or glx, got 'vulkan'"),
    ],
)
def test_gl_mode_follows_what_the_runtime_offers(requested, available, expected):
    from vrkit.backends.openxr.instance import choose_gl_mode

    if expected in ("egl", "glx", "window"):
        assert choose_gl_mode(requested, available) == expected
    else:
        with pytest.raises(BackendUnavailableError, match=expected):
            choose_gl_mode(requested, available)


def test_openxr_refuses_a_manual_clock():
    from vrkit.core.clock import ManualClock
    from vrkit.core.errors import InputError

    with pytest.raises(InputError, match="must be the host's MonotonicClock, got ManualClock"):
        OpenXRBackend(RunConfig(clock=ManualClock()))


def test_doctor_and_backend_agree_on_the_manifest(monkeypatch, tmp_path):
    """One manifest search (vrkit.backends.openxr.runtime) for `vrkit doctor` and the backend."""
    from vrkit.cli.doctor import _check_runtime

    monkeypatch.delenv("XR_RUNTIME_JSON", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc"))
    if runtime_manifest() is not None and tmp_path not in runtime_manifest().parents:
        pytest.skip(f"this host has an OpenXR runtime installed ({runtime_manifest()})")
    d = tmp_path / "home" / "openxr" / "1"
    d.mkdir(parents=True)
    (d / "active_runtime.x86_64.json").write_text("{}")  # the loader's arch-specific name
    ok, text, _hint = _check_runtime()
    assert ok and str(d / "active_runtime.x86_64.json") in text
    assert runtime_manifest() == d / "active_runtime.x86_64.json"
