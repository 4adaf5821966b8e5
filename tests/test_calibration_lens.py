"""Lens calibration closed loop: the synthetic bench recovers a known lens; bad captures."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vrkit.calibration.bench import (
    BROWN_LENS,
    BenchConfig,
    make_captures,
    openhmd_truth,
    run_bench,
)
from vrkit.calibration.capture import read_rgb, write_rgb
from vrkit.calibration.export import profile_with_fit, to_cardboard, to_mesh_json, to_openhmd
from vrkit.calibration.fit import Observations, fit_lens
from vrkit.calibration.lens import measure_captures
from vrkit.calibration.patterns import PatternSet
from vrkit.cli import main
from vrkit.core.errors import DataError
from vrkit.optics.base import CHANNELS
from vrkit.optics.models import lens_model_from_dict
from vrkit.optics.profile import load_profile
from vrkit.vision.camera import CameraModel

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clean_bench(tmp_path_factory):
    """Noise-free bench, truth = the generic profile's radial lens with lateral colour."""
    out = tmp_path_factory.mktemp("bench_clean")
    return run_bench(BenchConfig(noise="none"), out, ("radial2",), heatmap=True)


def test_noise_free_bench_recovers_the_lens(clean_bench):
    m = clean_bench.metrics["radial2"]
    assert m["rms_arcmin"] <= 0.5
    # Every coefficient of the true family within 1 %: k1, k2 and the three channel scales.
    coeffs = m["coefficients"]
    assert max(coeffs["relative_error"]) < 0.01, coeffs
    assert m["model_error_rms_arcmin"] < 0.3
    assert m["centre_error_px"] < 0.1
    assert m["rotation_error_deg"] * 60 < 0.5
    # Lateral colour: red and blue shift relative to green at the field edge (~9-10 arcmin).
    for name in ("red", "blue"):
        ch = m["chromatic"][name]
        assert abs(ch["true_shift_arcmin"]) > 5
        assert ch["fitted_shift_arcmin"] == pytest.approx(ch["true_shift_arcmin"], abs=0.2)
        assert ch["field_error_rms_arcmin"] < 0.1, ch
    assert (clean_bench.out_dir / "heatmap_radial2.png").stat().st_size > 10_000
    report = json.loads((clean_bench.out_dir / "bench.json").read_text())
    assert report["models"]["radial2"]["rms_arcmin"] == pytest.approx(m["rms_arcmin"])


def test_other_family_truth_and_model_comparison(tmp_path):
    """Truth Brown-Conrady (decentred, per-channel); radial cannot follow it, Brown can."""
    res = run_bench(
        BenchConfig(noise="none", true_lens=BROWN_LENS, spacing_px=60.0),
        tmp_path,
        ("radial", "brown_conrady"),
        heatmap=False,
    )
    brown, radial = res.metrics["brown_conrady"], res.metrics["radial"]
    assert brown["rms_arcmin"] <= 0.5
    assert brown["model_error_rms_arcmin"] < 0.5
    assert radial["rms_arcmin"] > 3 * brown["rms_arcmin"]
    # The true family: all 15 coefficients (k1, k2, p1, p2, k3 per channel) within 1 %.
    assert max(brown["coefficients"]["relative_error"]) < 0.01, brown["coefficients"]
    assert res.comparison[0]["model"] == "brown_conrady"
    for name in ("red", "blue"):
        # The lateral-colour field (channel minus green; tens of arcmin in the corners) is
        # recovered to a fraction of an arcmin.
        ch = brown["chromatic"][name]
        assert ch["true_max_arcmin"] > 10
        assert ch["field_error_rms_arcmin"] < 0.5, ch


def test_profile_export_and_run_loader(clean_bench, tmp_path):
    fit = clean_bench.fits[0]
    pattern = PatternSet.load(clean_bench.out_dir / "pattern")
    base = load_profile("generic-1440x1600")
    data = profile_with_fit(base.data, fit, pattern.panel, "measured")
    path = tmp_path / "measured.json"
    path.write_text(json.dumps(data))
    prof = load_profile(path)  # what `vrkit run --profile` does
    assert prof.lens(0).to_dict()["kind"] == "radial"
    np.testing.assert_allclose(prof.lens(0).to_dict()["k"], [0.4, 0.2], rtol=0.01)
    # The lens centre moved with the fitted offset (+6 px right, 4 px up on the left eye).
    truth_cx_m = clean_bench.truth["lens_centre_px"][0] * pattern.panel.pixel_pitch_m[0]
    assert prof.lens_center_m(0)[0] == pytest.approx(truth_cx_m, abs=0.2 * 4.13e-5)
    mesh = to_mesh_json(data, (8, 8))
    assert len(mesh["eyes"]["left"]["vertices"]) == 81
    assert len(mesh["eyes"]["left"]["vertices"][0]) == 8
    card = to_cardboard(fit, pattern.panel)
    np.testing.assert_allclose(card["distortion_coefficients"], fit.lens.to_dict()["k"], rtol=1e-6)
    assert card["conversion_error_arcmin"] < 0.01
    # OpenHMD's cubic-in-radius form cannot follow r (1 + 0.4 r^2 + 0.2 r^4) to 1 arcmin.
    with pytest.raises(DataError, match=r"no OpenHMD form within 1\.0 arcmin"):
        to_openhmd(fit, pattern.panel)
    assert to_openhmd(fit, pattern.panel, max_error_arcmin=10)["conversion_error_arcmin"] < 10


def _copy_captures(bench, tmp_path: Path) -> Path:
    dst = tmp_path / "captures"
    shutil.copytree(bench.out_dir / "captures", dst)
    return dst


def test_bad_captures_are_named(clean_bench, tmp_path, capsys):
    pattern = PatternSet.load(clean_bench.out_dir / "pattern")
    camera = CameraModel.load(clean_bench.out_dir / "camera.json")
    bench = tmp_path / "bench"
    shutil.copytree(clean_bench.out_dir / "pattern", bench / "pattern")
    shutil.copy(clean_bench.out_dir / "camera.json", bench)
    caps = _copy_captures(clean_bench, bench)
    # red: blurred; blue: a black frame (pattern not found).
    red = read_rgb(caps / "dots_red.png")
    write_rgb(caps / "dots_red.png", cv2.GaussianBlur(red, (0, 0), 2.5))
    write_rgb(caps / "dots_blue.png", np.zeros_like(red))
    # Through the CLI: the run goes on with green, and both rejections are named, with their
    # reason, on the console and in report.json.
    _, report, _ = _calibrate(bench, tmp_path / "p.json", "radial2", capsys)
    by = {v["frame"]: v for v in report["captures"]}
    assert by["dots_green"]["status"] == "used"
    assert by["dots_red"]["status"] == "rejected"
    assert by["dots_red"]["reason"].startswith("blurred: sharpness")
    assert "refocus" in by["dots_red"]["reason"]
    assert by["dots_blue"]["status"] == "rejected"
    assert "pattern not found" in by["dots_blue"]["reason"]
    # A fit of green alone still works (chromatic terms stay at 1).
    assert set(report["fits"][0]["per_channel"]) == {"green"}
    assert report["fits"][0]["rms_arcmin"] < 0.5

    # Too few features (a capture that shows a corner of the pattern): refused, with numbers.
    obs, _ = measure_captures(caps, pattern, camera)
    few = Observations(*(a[:9] for a in (obs.camera_px, obs.panel_px, obs.channel, obs.source)))
    with pytest.raises(DataError, match="only 9 features in the green channel, need at least 12"):
        fit_lens(few, camera, pattern.panel, "radial2")

    # Missing capture: reported, skipped.
    (caps / "dots_red.png").unlink()
    (caps / "captures.json").unlink()
    _, verdicts = measure_captures(caps, pattern, camera)
    assert {v.frame: v.reason for v in verdicts}["dots_red"] == "no capture file for this frame"

    # No usable green: refused, naming the others' reasons.
    write_rgb(caps / "dots_green.png", np.zeros_like(red))
    with pytest.raises(DataError, match=r"no usable green-channel capture.*pattern not found"):
        measure_captures(caps, pattern, camera)


def test_capture_command_from_a_video_then_calibrate(clean_bench, tmp_path, capsys):
    """`vrkit calibrate capture` from a video (same interface as a live camera): averaged
    frames become a capture folder the lens fit reads; a camera that cannot be opened is a
    one-line error."""
    video = tmp_path / "bench.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 10, (1280, 960))
    assert writer.isOpened()
    for name in ("dots_red", "dots_green", "dots_blue"):  # the pattern's frame order
        bgr = read_rgb(clean_bench.out_dir / "captures" / f"{name}.png")[..., ::-1]
        for _ in range(2):
            writer.write(np.ascontiguousarray(bgr))
    writer.release()
    pattern_json = str(clean_bench.out_dir / "pattern" / "pattern.json")
    out = tmp_path / "captures"
    argv = ["calibrate", "capture", "--pattern", pattern_json, "--out", str(out)]
    assert main([*argv, "--source", f"video:{video}", "--average", "2"]) == 0
    caps = json.loads((out / "captures.json").read_text())
    assert caps["meta"] == {"source": "video bench.avi", "n_average": 2}
    pattern = PatternSet.load(pattern_json)
    camera = CameraModel.load(clean_bench.out_dir / "camera.json")
    obs, verdicts = measure_captures(out, pattern, camera)
    assert [v.status for v in verdicts] == ["used"] * 3
    assert len(obs) > 2500  # ~1000 dots per channel
    capsys.readouterr()
    assert main([*argv, "--source", "camera:97"]) == 1
    assert "cannot open camera 97" in capsys.readouterr().err


def test_opencv_camera_file_is_read_by_calibrate_lens(clean_bench, tmp_path, capsys):
    """OpenCV's own camera file (left_intrinsics.yml, FileStorage YAML) was refused as "not
    valid JSON"; now it is read, and refused only because its 640x480 camera is not the one
    that took the 1280x960 captures (a check that needs the file's contents)."""
    yml = Path(__file__).parent / "data" / "calibration" / "opencv_left" / "left_intrinsics.yml"
    argv = ["calibrate", "lens", "--captures", str(clean_bench.out_dir / "captures")]
    argv += ["--pattern", str(clean_bench.out_dir / "pattern"), "--out", str(tmp_path / "p.json")]
    assert main([*argv, "--camera", str(yml)]) == 1
    err = capsys.readouterr().err
    assert "image is 1280x960 but the camera file says 640x480" in err
    assert "JSON" not in err and not (tmp_path / "p.json").exists()


def test_camera_file_that_does_not_match_is_refused(clean_bench, tmp_path, capsys):
    cam = CameraModel.load(clean_bench.out_dir / "camera.json")
    K_half = cam.K / 2
    K_half[2, 2] = 1.0
    other = CameraModel("fisheye", (640, 480), K_half, cam.dist)
    other.save(tmp_path / "other.json")
    code = main(
        [
            "calibrate",
            "lens",
            "--captures",
            str(clean_bench.out_dir / "captures"),
            "--camera",
            str(tmp_path / "other.json"),
            "--pattern",
            str(clean_bench.out_dir / "pattern"),
            "--out",
            str(tmp_path / "p.json"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "image is 1280x960 but the camera file says 640x480" in err
    assert not (tmp_path / "p.json").exists()

    # The right size but another camera (8 % longer focal length, no distortion): the fit
    # cannot explain the captures; the report is written, the profile is refused.
    wrong = CameraModel("fisheye", cam.image_size, cam.K * [[1.08], [1.08], [1]], [0.0] * 4)
    wrong.save(tmp_path / "wrong.json")
    argv = [
        "calibrate",
        "lens",
        "--captures",
        str(clean_bench.out_dir / "captures"),
        "--pattern",
        str(clean_bench.out_dir / "pattern"),
        "--model",
        "radial2",
        "--out",
        str(tmp_path / "p.json"),
    ]
    assert main([*argv, "--camera", str(tmp_path / "wrong.json")]) == 1
    err = capsys.readouterr().err
    assert re.search(r"radial2 fit is not acceptable \(RMS \d+\.\d+ arcmin > 5", err), err
    assert "check that the camera JSON belongs to this camera" in err
    assert not (tmp_path / "p.json").exists()
    report = json.loads((tmp_path / "p_report" / "report.json").read_text())
    assert report["profile"] is None and "not written" in report["refused"]
    assert report["fits"][0]["rms_arcmin"] > 10


def _calibrate(bench_dir: Path, out: Path, models: str, capsys) -> tuple[dict, dict, str]:
    """``vrkit calibrate lens`` on a bench folder's files; (profile, report, stderr)."""
    code = main(
        [
            "calibrate",
            "lens",
            "--captures",
            str(bench_dir / "captures"),
            "--camera",
            str(bench_dir / "camera.json"),
            "--pattern",
            str(bench_dir / "pattern" / "pattern.json"),
            "--model",
            models,
            "--out",
            str(out),
        ]
    )
    cap = capsys.readouterr()
    assert code == 0, cap.err
    report = json.loads((out.parent / f"{out.stem}_report" / "report.json").read_text())
    return json.loads(out.read_text()), report, cap.err


def _scale_minus_one(lens: dict) -> list[float]:
    """Lateral colour terms of a radial lens dict: red and blue scale minus 1."""
    return [lens["channel_scale"][0] - 1.0, lens["channel_scale"][2] - 1.0]


def _view_angle_error_arcmin(truth: dict, fit: dict, panel) -> float:
    """RMS angle between the true and fitted lens (each about its own centre), per channel,
    over the inlier features of a report fit."""
    obs = fit["observations"]
    px = np.asarray(obs["panel_px"])
    inl = np.asarray(obs["inlier"])
    lens_t = lens_model_from_dict(truth["lens"], "truth")
    lens_f = lens_model_from_dict(fit["lens"], "fit")
    tan_t = panel.px_to_tan(px, np.asarray(truth["lens_centre_px"]))
    tan_f = panel.px_to_tan(px, np.asarray(fit["lens_centre_px"]))
    chans = np.array([CHANNELS.index(c) for c in obs["channel"]])
    sq = []
    for c in range(3):
        m = inl & (chans == c)
        a = np.arctan(lens_t.undistort(tan_t[m], c, strict=False))
        b = np.arctan(lens_f.undistort(tan_f[m], c, strict=False))
        # Angle difference of the two view directions (small: per-axis arctan is enough).
        sq.append(np.sum((a - b) ** 2, axis=1))
    return float(np.sqrt(np.mean(np.concatenate(sq)))) * 180 * 60 / np.pi


def test_cli_calibrates_the_bench_files_and_run_uses_the_profile(
    clean_bench, tmp_path, capsys, monkeypatch
):
    """`vrkit calibrate lens` on the bench's files: true family and another family, then
    `vrkit run --profile` with the written profile."""
    import vrkit.core.progress

    # Progress bars show on a terminal only: stand in for one.
    monkeypatch.setattr(vrkit.core.progress, "stderr_is_terminal", lambda: True)
    truth = clean_bench.truth
    out = tmp_path / "measured.json"
    profile, report, err = _calibrate(clean_bench.out_dir, out, "radial2,panotools", capsys)
    assert "fitting" in err and "detecting" in err  # the progress bars
    assert [f["model"] for f in report["fits"]] == ["radial2", "panotools"]
    pattern = PatternSet.load(clean_bench.out_dir / "pattern")
    for fit in report["fits"]:
        assert fit["rms_arcmin"] <= 0.5, fit["model"]
        # Both families describe the true lens to a fraction of an arcminute.
        assert _view_angle_error_arcmin(truth, fit, pattern.panel) < 0.3, fit["model"]
    # The true family: every coefficient within 1 %, lateral colour (red/blue scale vs green,
    # -0.7 % / +0.8 %) within 1 % of itself.
    lens = profile["lenses"]["left"]
    assert lens["kind"] == "radial"
    np.testing.assert_allclose(lens["k"], truth["lens"]["k"], rtol=0.01)
    np.testing.assert_allclose(_scale_minus_one(lens), _scale_minus_one(truth["lens"]), rtol=0.01)
    # Residuals per field position: rings, every observation with its field angle, heat map.
    fit0 = report["fits"][0]
    assert {r["ring_deg"][0] for r in fit0["by_field_ring"]} >= {0, 10, 20, 30, 40}
    assert len(fit0["observations"]["field_deg"]) == fit0["n_observations"] + fit0["n_rejected"]
    rep = tmp_path / "measured_report"
    assert (rep / "heatmap_radial2.png").stat().st_size > 10_000
    assert (rep / "heatmap_panotools.png").is_file()
    # The comparison ranks both fits by BIC, each with its parameter count, RMS and max.
    rows = report["comparison"]
    assert {r["model"] for r in rows} == {"radial2", "panotools"}
    assert rows[0]["delta_bic"] == 0 <= rows[1]["delta_bic"]
    assert {r["model"]: r["n_params"] for r in rows} == {"radial2": 9, "panotools": 13}
    assert (rep / "cardboard.json").is_file() and (rep / "mesh.json").is_file()
    assert "refused" in report["exports"]["openhmd"]

    # The profile loads as it is, and `vrkit run` uses it at once: its FOV (from the fitted
    # lens centre and lens) is what the headless run renders with, not the base profile's.
    prof = load_profile(out)
    base_fov = load_profile("generic-1440x1600").eye_fov(0).to_dict()
    run_dir = tmp_path / "run"
    code = main(
        [
            "run",
            str(ROOT / "examples" / "optics_pattern.py"),
            "--profile",
            str(out),
            "--backend",
            "headless",
            "--frames",
            "2",
            "--out",
            str(run_dir),
        ]
    )
    assert code == 0, capsys.readouterr().err
    run = json.loads((run_dir / "run.json").read_text())
    assert run["frames_rendered"] == 2 and run["distorted"]
    got = run["fov"][0]
    want = prof.eye_fov(0).to_dict()
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-9)
    assert abs(got["angle_left"] - base_fov["angle_left"]) > 1e-3


def test_realistic_noise_through_the_cli(tmp_path, capsys):
    """Blur, dimmer exposure, vignetting, sensor noise: the CLI still recovers the lens."""
    truth = make_captures(BenchConfig(noise="realistic", seed=5), tmp_path)
    profile, report, _ = _calibrate(tmp_path, tmp_path / "noisy.json", "radial2", capsys)
    fit = report["fits"][0]
    assert fit["rms_arcmin"] <= 1.5
    pattern = PatternSet.load(tmp_path / "pattern")
    assert _view_angle_error_arcmin(truth, fit, pattern.panel) < 0.5
    lens = profile["lenses"]["left"]
    np.testing.assert_allclose(lens["k"], truth["lens"]["k"], rtol=0.01)
    np.testing.assert_allclose(_scale_minus_one(lens), _scale_minus_one(truth["lens"]), rtol=0.01)


def test_openhmd_lens_through_the_cli_and_export(tmp_path, capsys):
    """Truth: an OpenHMD lens (a, b, c, d + aberration). Fitted as such, the coefficients come
    back within 1 % and the OpenHMD export is exact."""
    truth = make_captures(BenchConfig(true_lens=openhmd_truth()), tmp_path)
    profile, report, _ = _calibrate(tmp_path, tmp_path / "ohmd.json", "openhmd", capsys)
    assert report["fits"][0]["rms_arcmin"] <= 0.5
    lens = profile["lenses"]["left"]
    assert (lens["kind"], lens["form"]) == ("panotools", "panotools")
    np.testing.assert_allclose(lens["k"], truth["lens"]["k"], rtol=0.01)
    ab_true = np.array(truth["lens"]["chroma"])[[0, 2]] - 1
    np.testing.assert_allclose(np.array(lens["chroma"])[[0, 2]] - 1, ab_true, rtol=0.01)
    ohmd = json.loads((tmp_path / "ohmd_report" / "openhmd.json").read_text())
    assert ohmd["conversion_error_arcmin"] < 1e-6
    np.testing.assert_allclose(ohmd["universal_distortion_k"], lens["k"], rtol=1e-9)
    np.testing.assert_allclose(
        ohmd["universal_aberration_k"], [lens["chroma"][0], 1.0, lens["chroma"][2]], rtol=1e-9
    )
    assert ohmd["radius_unit_tan"] == pytest.approx(truth["lens"]["unit"])
    # The per-channel mesh: red and blue sample the eye image at different UVs than green.
    mesh = json.loads((tmp_path / "ohmd_report" / "mesh.json").read_text())
    v = np.array(mesh["eyes"]["left"]["vertices"])
    assert v.shape[1] == 8
    assert np.abs(v[:, 2:4] - v[:, 4:6]).max() > 1e-3
    assert np.abs(v[:, 6:8] - v[:, 4:6]).max() > 1e-3


def test_bench_writes_the_documented_formats(clean_bench):
    truth, tmp_path = clean_bench.truth, clean_bench.out_dir
    pattern = json.loads((tmp_path / "pattern" / "pattern.json").read_text())
    assert pattern["format"] == "vrkit.pattern" and pattern["version"] == 1
    assert [f["name"] for f in pattern["frames"]] == ["dots_red", "dots_green", "dots_blue"]
    caps = json.loads((tmp_path / "captures" / "captures.json").read_text())
    assert caps["format"] == "vrkit.captures" and caps["version"] == 1
    assert set(caps["frames"]) == {"dots_red", "dots_green", "dots_blue"}
    img = read_rgb(tmp_path / "captures" / "dots_red.png")
    assert img.shape == (960, 1280, 3)
    assert img[..., 0].max() > 200 and img[..., 1].max() == 0 == img[..., 2].max()
    assert truth["lens"]["kind"] == "radial"


def test_a_few_bad_detections_are_rejected(clean_bench):
    """30 features moved by 3-8 camera pixels (a dust speck, a dead pixel cluster, a
    mis-assigned dot): the robust fit rejects exactly them and still recovers the lens."""
    pattern = PatternSet.load(clean_bench.out_dir / "pattern")
    camera = CameraModel.load(clean_bench.out_dir / "camera.json")
    obs = clean_bench.fits[0].obs
    rng = np.random.default_rng(7)
    # Bad features among the inner field (edge features are the fit's own worst).
    r = np.hypot(*(obs.panel_px - pattern.panel.lens_centre_px).T)
    bad = rng.choice(np.flatnonzero(r < 500), 30, replace=False)
    moved = obs.camera_px.copy()
    angle = rng.uniform(0, 2 * np.pi, len(bad))
    moved[bad] += rng.uniform(3, 8, (len(bad), 1)) * np.stack([np.cos(angle), np.sin(angle)], 1)
    fit = fit_lens(
        Observations(moved, obs.panel_px, obs.channel, obs.source), camera, pattern.panel, "radial2"
    )
    assert not fit.inlier[bad].any()
    assert fit.stats()["n_rejected"] < len(bad) + 40  # the edge ones it rejects anyway
    assert fit.stats()["rms_arcmin"] <= 0.5
    lens = fit.lens.to_dict()
    np.testing.assert_allclose(lens["k"], clean_bench.truth["lens"]["k"], rtol=0.01)


def test_one_white_capture_measures_all_three_channels(tmp_path, capsys):
    """A white dot grid seen by a colour camera: each colour channel of the one capture is
    detected on its own, and the lateral colour comes out as from three captures."""
    truth = make_captures(BenchConfig(channels=("white",), spacing_px=60.0), tmp_path)
    assert sorted(p.name for p in (tmp_path / "captures").glob("*.png")) == ["dots_white.png"]
    profile, report, _ = _calibrate(tmp_path, tmp_path / "white.json", "radial2", capsys)
    assert [(v["frame"], v["channel"]) for v in report["captures"]] == [
        ("dots_white", "red"),
        ("dots_white", "green"),
        ("dots_white", "blue"),
    ]
    assert report["fits"][0]["rms_arcmin"] <= 0.5
    lens = profile["lenses"]["left"]
    np.testing.assert_allclose(lens["k"], truth["lens"]["k"], rtol=0.01)
    np.testing.assert_allclose(_scale_minus_one(lens), _scale_minus_one(truth["lens"]), rtol=0.01)


def test_camera_file_with_flipped_distortion_sign_is_refused(clean_bench, tmp_path, capsys):
    """Was: dist[0] sign-flipped gave a profile at 4.67 arcmin RMS, under the 5 arcmin
    acceptance, with k = [0.506, 0.077, 0.328] for a true [0.4, 0.2] (issue 18)."""
    data = json.loads((clean_bench.out_dir / "camera.json").read_text())
    data["dist"][0] = -data["dist"][0]
    (tmp_path / "flipped.json").write_text(json.dumps(data))
    argv = ["calibrate", "lens", "--captures", str(clean_bench.out_dir / "captures")]
    argv += ["--pattern", str(clean_bench.out_dir / "pattern"), "--model", "radial"]
    argv += ["--camera", str(tmp_path / "flipped.json"), "--out", str(tmp_path / "p.json")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert re.search(
        r"the captures do not fit the camera file: the radial fit leaves \d\.\d\d camera px RMS "
        r"in the (red|green|blue) channel, more than dot detection noise explains \(<= 0.3 px\)",
        err,
    ), err
    assert not (tmp_path / "p.json").exists()
    report = json.loads((tmp_path / "p_report" / "report.json").read_text())
    assert report["fits"][0]["rms_arcmin"] < 5  # what the arcmin acceptance alone let through
    assert report["camera_fit"]["ok"] is False
    assert min(report["camera_fit"]["rms_px"].values()) > 0.3


def test_mirrored_lens_is_the_mirror_image():
    """The right eye's Brown-Conrady lens maps (-x, y) to the mirror of the left's (x, y)."""
    from vrkit.calibration.bench import mirrored_lens_dict

    left = lens_model_from_dict(BROWN_LENS, "left")
    right = lens_model_from_dict(mirrored_lens_dict(BROWN_LENS), "right")
    pts = np.random.default_rng(3).uniform(-0.8, 0.8, (50, 2))
    flip = np.array([-1.0, 1.0])
    for c in range(3):
        a = left.distort(pts, c)
        b = right.distort(pts * flip, c) * flip
        assert np.abs(a - b).max() < 1e-12
        assert np.abs(a - left.distort(pts * flip, c) * flip).max() > 1e-4  # not symmetric


def test_bench_runs_both_eyes_with_the_binocular_overlap(tmp_path, capsys):
    """`vrkit calibrate bench` runs both eyes by default: right eye mirrored, FOV, overlap."""
    from vrkit.measure.fov import fov_report

    out = tmp_path / "bench"
    assert main(["calibrate", "bench", "--model", "radial", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "--- left eye" in text and "--- right eye" in text
    assert "binocular overlap: measured " in text and "profile predicts 100.00 deg" in text
    bench = json.loads((out / "bench.json").read_text())
    eyes = bench["eyes"]
    assert [eyes[e]["eye"] for e in ("left", "right")] == ["left", "right"]
    for eye in ("left", "right"):
        assert json.loads((out / eye / "bench.json").read_text()) == eyes[eye]
        assert (out / eye / "heatmap_radial.png").exists()
        m = eyes[eye]["models"]["radial"]
        assert m["acceptable"] and m["centre_error_px"] < 0.05 and m["rotation_error_deg"] < 0.01
    # The right eye is the left one mirrored about the panel's centre line.
    tl, tr = eyes["left"]["truth"], eyes["right"]["truth"]
    assert tr["lens_centre_px"] == pytest.approx(
        [2880 - tl["lens_centre_px"][0], tl["lens_centre_px"][1]]
    )
    a, b, c = tl["rotation_vector_rad"]
    assert tr["rotation_vector_rad"] == pytest.approx([a, -b, -c])
    # FOV through the lens, per eye, against the bench's truth; and the two eyes measure as
    # mirror images of each other (no truth involved).
    fl, fr = eyes["left"]["fov"], eyes["right"]["fov"]
    for f in (fl, fr):
        assert max(abs(e) for e in f["error_deg"].values()) < 0.1, f["error_deg"]
        # +1.1 %: the field's far corners (75 deg off axis) are vignetted to a few grey levels.
        assert abs(f["solid_angle_relative_error"]) < 0.02, f["solid_angle_relative_error"]
    ml, mr = fl["measured"], fr["measured"]
    assert (
        abs(ml["left_deg"] - mr["right_deg"]) < 0.05
        and abs(ml["right_deg"] - mr["left_deg"]) < 0.05
    )
    assert abs(ml["up_deg"] - mr["up_deg"]) < 0.05 and abs(ml["down_deg"] - mr["down_deg"]) < 0.05
    binoc = bench["binocular"]
    assert abs(binoc["error_deg"]) < 0.1 and binoc["true_overlap_deg"] > 100
    predicted = fov_report(load_profile("generic-1440x1600"))["binocular_overlap"]
    assert binoc["predicted_overlap_deg"] == pytest.approx(predicted)
