"""`profile validate` refuses what `run` would refuse or render as nonsense (issue 18).

Each case is a profile a new user wrote by mistake; the loader both commands use must refuse it
with one line naming the field, in bounded time, and every profile it accepts must give the
panel layout `run` builds (no GL needed for that) with a usable field of view.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from vrkit.core.errors import ProfileError
from vrkit.optics.fov import eye_summary_deg
from vrkit.optics.models import PanotoolsLens, RadialPolynomialLens
from vrkit.optics.profile import MIN_EYE_FOV_DEG, load_profile, profile_from_dict
from vrkit.render.distortion import layout_for_profile

ROOT = Path(__file__).resolve().parents[1]
BASE = json.loads((ROOT / "calibration/profiles/cardboard-v1.json").read_text())


def _with_lens(lens: dict) -> dict:
    d = copy.deepcopy(BASE)
    d["lenses"]["left"] = lens
    return d


def test_panotools_lens_that_shrinks_the_panel_to_a_point_is_refused() -> None:
    data = _with_lens({"kind": "panotools", "k": [1e-9, 0, 0, 0]})
    with pytest.raises(ProfileError) as exc:
        profile_from_dict(data)
    assert str(exc.value).startswith(
        "profile.lenses.left: the left eye sees a horizontal field of view of 0.00 deg through "
        "this lens, expected at least 5 deg"
    )


@pytest.mark.parametrize(
    ("k", "got"),
    [([1e300], "1e+300"), ([1e308], "1e+308"), ([-1e308], "-1e+308"), (["0.4"], "'0.4'"),
     ([True], "true")],
)  # fmt: skip
def test_coefficients_that_are_not_physical_numbers_are_refused(k: list, got: str) -> None:
    with pytest.raises(ProfileError) as exc:
        profile_from_dict(_with_lens({"kind": "radial", "k": k}))
    assert str(exc.value) == (
        f"profile: $.lenses.left.k[0]: expected a number >= -10000 <= 10000, got {got}"
    )


@pytest.mark.parametrize(
    ("k", "message"),
    [
        ([True, 0.1], "radial.k[0] must be a number, got true"),
        (["0.4"], "radial.k[0] must be a number, got '0.4'"),
        ([1e300], "radial.k[0] = 1e+300 is beyond any real lens (|value| <= 10000)"),
        ([0.0] * 2000, "radial.k must have 1 to 16 values, got 2000: [0.0, 0.0, 0.0, 0.0, 0.0, "
         "0.0, ...]"),
    ],
)  # fmt: skip
def test_lens_models_built_in_code_check_the_same(k: list, message: str) -> None:
    """Python's True is an int and numpy takes strings: the models refuse both themselves."""
    with pytest.raises(ProfileError) as exc:
        RadialPolynomialLens(k)
    assert str(exc.value) == message


def test_kind_that_is_not_a_name_is_one_line() -> None:
    with pytest.raises(ProfileError) as exc:
        profile_from_dict(_with_lens({"kind": [], "k": [0.1]}))
    assert "$.lenses.left.kind: expected one of ['radial'" in str(exc.value)
    from vrkit.optics.models import lens_model_from_dict

    with pytest.raises(ProfileError, match=r"lens.kind: unknown lens model \[\]"):
        lens_model_from_dict({"kind": []})


def test_huge_name_gives_a_short_error_line() -> None:
    d = copy.deepcopy(BASE)
    d["name"] = "x" * 5_000_000
    with pytest.raises(ProfileError) as exc:
        profile_from_dict(d)
    assert len(str(exc.value)) < 400
    assert "got a string of 5000000 characters" in str(exc.value)


def test_2000_coefficients_refused_by_the_schema_cap() -> None:
    with pytest.raises(ProfileError, match=r"expected an array of 1 to 16 items, got 2000"):
        profile_from_dict(_with_lens({"kind": "radial", "k": [0.01] * 2000}))


def _accepted_renders(data: dict) -> bool:
    """False when the loader refuses; else assert what `run` builds from it is sane."""
    try:
        prof = profile_from_dict(data)
    except ProfileError:
        return False
    layout = layout_for_profile(prof, eye_size=(16, 16), resolution=(8, 8))
    for eye in (0, 1):
        s = eye_summary_deg(prof.eye_fov(eye))
        assert s["horizontal"] >= MIN_EYE_FOV_DEG and s["vertical"] >= MIN_EYE_FOV_DEG
        assert np.all(np.isfinite(layout.meshes[eye].vertices))
    return True


def test_chroma_terms_accepted_only_where_run_can_render_them() -> None:
    """Strong chroma terms: each either refused by the loader or rendered by the run path."""
    accepted = refused = 0
    for s1 in (-10.0, -2.0, -0.5, 0.0, 0.5, 2.0, 10.0):
        for s0 in (-0.5, 0.5, 0.9, 1.0, 1.5):
            lens = {"kind": "panotools", "form": "oculus", "k": [1.0, 0.22, 0.24, 0.0],
                    "chroma": [s0, s1, 2 - s0, -s1], "unit": 0.5}  # fmt: skip
            ok = _accepted_renders(_with_lens(lens))
            accepted += ok
            refused += not ok
    for scale in ([1.99, 1.0, 0.51], [0.51, 1.0, 1.99], [1.2, 1.0, 0.8]):
        _accepted_renders(_with_lens({"kind": "radial", "k": [0.441, 0.156],
                                      "channel_scale": scale}))  # fmt: skip
    assert accepted and refused  # the grid spans both sides


def test_shipped_profiles_pass_the_usable_fov_check() -> None:
    for p in sorted((ROOT / "calibration/profiles").glob("*.json")):
        assert _accepted_renders(json.loads(p.read_text())), p.name
    assert load_profile("cardboard-v1").name == "cardboard-v1"


def test_panotools_in_code_refuses_bools_in_chroma() -> None:
    with pytest.raises(ProfileError, match=r"panotools.chroma\[1\] must be a number, got false"):
        PanotoolsLens([1, 0.2, 0.2, 0], chroma=[1.0, False, 1.0, 0.0])


def test_error_lines_are_cut_in_the_middle() -> None:
    from vrkit.core.errors import one_line

    assert one_line("a\nb") == "a b"
    text = one_line("start " + "x" * 60_000_000 + " end")
    assert len(text) <= 2000
    assert text.startswith("start xxx") and text.endswith("xxx end")
    assert "characters cut" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (json.dumps(BASE).replace('"refresh_hz": 60', '"refresh_hz": ' + "9" * 400),
         "$.panel.refresh_hz: expected an integer that fits in 64 bits, got "
         "99999999999999999999...(400 characters)"),
        (json.dumps(BASE)[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}",
         "is nested too deeply to read"),
        (json.dumps(BASE).replace('"k": [0.441, 0.156]', '"k": [1e999]'),
         "$.lenses.left.k[0]: expected a finite number (this one overflows a 64-bit float), got "
         "1e999"),
    ],
)  # fmt: skip
def test_profile_files_that_break_the_parser_are_one_line(
    text: str, expected: str, tmp_path: Path
) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert expected in str(exc.value) and "\n" not in str(exc.value)
