"""Cardboard viewer profiles: DeviceParams bytes, URL, QR codes, profile import and export."""

from __future__ import annotations

import base64
import struct

import numpy as np
import pytest

from vrkit.cli import main
from vrkit.core.errors import DataError, InputError
from vrkit.interop import cardboard as cb
from vrkit.interop.formats import ImportOptions, export_profile, import_profile
from vrkit.optics.profile import load_profile, profile_from_dict

cv2 = pytest.importorskip("cv2")

# The Cardboard SDK's built-in parameters of the original viewer, returned for the QR code
# https://g.co/cardboard: googlevr/cardboard sdk/qrcode/cardboard_v1/cardboard_v1.cc,
# getCardboardV1DeviceParams() (75 bytes, Apache-2.0).
SDK_V1 = bytes(
    [
        0x0A, 0x0C, 0x47, 0x6F, 0x6F, 0x67, 0x6C, 0x65, 0x2C, 0x20, 0x49,
        0x6E, 0x63, 0x2E, 0x12, 0x0C, 0x43, 0x61, 0x72, 0x64, 0x62, 0x6F,
        0x61, 0x72, 0x64, 0x20, 0x76, 0x31, 0x1D, 0x31, 0x08, 0x2C, 0x3D,
        0x25, 0x8F, 0xC2, 0x75, 0x3D, 0x2A, 0x10, 0x00, 0x00, 0x20, 0x42,
        0x00, 0x00, 0x20, 0x42, 0x00, 0x00, 0x20, 0x42, 0x00, 0x00, 0x20,
        0x42, 0x35, 0x29, 0x5C, 0x0F, 0x3D, 0x3A, 0x08, 0xC1, 0xCA, 0xE1,
        0x3E, 0x77, 0xBE, 0x1F, 0x3E, 0x58, 0x00, 0x60, 0x01,
    ]
)  # fmt: skip


def test_sdk_v1_bytes_decode_to_the_shipped_profile():
    assert len(SDK_V1) == 75
    params = cb.decode_device_params(SDK_V1)
    assert params.vendor == "Google, Inc." and params.model == "Cardboard v1"
    assert params.vertical_alignment == "bottom" and params.primary_button == "magnet"
    data, _ = cb.profile_from_params(params)
    imported = profile_from_dict(data)
    shipped = load_profile("cardboard-v1")
    assert imported.name == shipped.name
    for attr in (
        "screen_to_lens_m",
        "lens_separation_m",
        "tray_to_lens_m",
        "screen_border_m",
        "ipd_default_m",
    ):
        assert getattr(imported, attr) == getattr(shipped, attr), attr
    assert imported.vertical_alignment == shipped.vertical_alignment
    assert imported.fov_limits_deg == shipped.fov_limits_deg
    assert imported.lens(0).to_dict() == shipped.lens(0).to_dict()
    assert imported.resolution_px == shipped.resolution_px
    assert imported.size_m == shipped.size_m


def test_exporting_cardboard_v1_gives_the_sdk_bytes():
    params, _ = cb.params_from_profile(load_profile("cardboard-v1"))
    raw = cb.encode_device_params(params)
    assert raw == SDK_V1  # byte for byte: field order, float32 values, explicit enums
    assert cb.decode_device_params(raw) == cb.decode_device_params(SDK_V1)
    # The built-in g.co/cardboard answer is the same message.
    assert cb.params_from_url("https://g.co/cardboard") == cb.decode_device_params(SDK_V1)


def test_url_is_base64url_without_padding_and_round_trips():
    url = cb.url_from_params(cb.decode_device_params(SDK_V1))
    assert url.startswith("https://google.com/cardboard/cfg?p=")
    p = url.split("p=", 1)[1]
    assert "=" not in p and "+" not in p and "/" not in p
    assert base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) == SDK_V1
    for variant in (url, url.replace("https://", "http://"), url.replace("https://", "")):
        assert cb.params_from_url(variant) == cb.decode_device_params(SDK_V1)


def test_stored_params_file_with_sentinel(tmp_path):
    # The Android SDK stores the current viewer as sentinel + length + message, big-endian.
    stored = struct.pack(">II", cb.STREAM_SENTINEL, len(SDK_V1)) + SDK_V1
    assert cb.params_from_bytes(stored) == cb.decode_device_params(SDK_V1)
    (tmp_path / "current_device_params").write_bytes(stored)
    result = import_profile(str(tmp_path / "current_device_params"))
    assert result.fmt == "cardboard" and result.profile.name == "cardboard-v1"


def test_unknown_fields_are_skipped_like_protobuf():
    extra = SDK_V1 + bytes([0x68, 0x05]) + bytes([0x72, 0x02, 0x41, 0x42])  # fields 13, 14
    params = cb.decode_device_params(extra)
    assert params == cb.decode_device_params(SDK_V1) and params.unknown_fields == (13, 14)
    # Repeated floats written unpacked (one fixed32 per value) are accepted too.
    unpacked = cb.decode_device_params(
        bytes([0x3D]) + struct.pack("<f", 0.25) + bytes([0x3D]) + struct.pack("<f", 0.5)
    )
    assert unpacked.distortion_coefficients == (0.25, 0.5)


def test_qr_png_decodes_with_opencv_to_the_url(tmp_path):
    url = cb.url_from_params(cb.CARDBOARD_V1)
    png = tmp_path / "viewer.png"
    cb.write_qr(url, png)
    img = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(img)
    assert text == url
    svg = tmp_path / "viewer.svg"
    cb.write_qr(url, svg)
    head = svg.read_text()[:300]
    assert "<svg" in head and "xmlns" in head


def test_photo_of_a_qr_code_imports(tmp_path):
    # A skewed, blurred, noisy, JPEG-compressed "photo" of a vrkit-written code.
    url = cb.url_from_params(cb.CARDBOARD_V1)
    img = cv2.imdecode(np.frombuffer(cb.qr_bytes(url, "png"), np.uint8), cv2.IMREAD_GRAYSCALE)
    h, w = img.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[60, 40], [w + 20, 80], [w - 10, h + 70], [30, h + 30]])
    photo = cv2.warpPerspective(
        img, cv2.getPerspectiveTransform(src, dst), (w + 120, h + 140), borderValue=200
    )
    photo = cv2.GaussianBlur(photo, (5, 5), 1.2)
    noise = np.random.default_rng(0).normal(0, 6, photo.shape)
    photo = np.clip(photo * 0.7 + 40 + noise, 0, 255).astype(np.uint8)
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 80])
    result = import_profile(str(path))
    assert result.fmt == "cardboard" and result.profile.name == "cardboard-v1"


def test_round_trip_within_float32(tmp_path):
    for name in ("cardboard-v1", "cardboard-v2"):
        prof = load_profile(name)
        exp = export_profile(prof, "cardboard", tmp_path / "p.bin")
        (tmp_path / "p.bin").write_bytes(exp.payload)
        back = import_profile(
            str(tmp_path / "p.bin"), options=ImportOptions(panel=prof.to_dict()["panel"])
        ).profile
        again = export_profile(back, "cardboard", tmp_path / "q.bin")
        assert again.payload == exp.payload
        for attr in ("screen_to_lens_m", "lens_separation_m", "tray_to_lens_m"):
            assert getattr(back, attr) == pytest.approx(getattr(prof, attr), rel=2e-7)
        np.testing.assert_allclose(back.lens(0).k, prof.lens(0).k, rtol=2e-7)


def test_non_radial_lens_is_fitted_or_refused():
    # DK1's Oculus polynomial is K1 r^2 + K2 r^4 in disguise: fitted with no error.
    params, notes = cb.params_from_profile(load_profile("oculus-dk1"))
    unit = 0.9131707317073171
    assert params.distortion_coefficients[0] == pytest.approx(0.22 / unit**2, rel=1e-6)
    assert params.distortion_coefficients[1] == pytest.approx(0.24 / unit**4, rel=1e-6)
    assert any("not a Cardboard radial polynomial" in n for n in notes)
    assert any("lateral colour" in n for n in notes)  # DK1's ChromaAb is dropped, and said
    # A North Star lens (2-D polynomial, mirror optic) is far from radial: refused with the
    # best fit's error.
    ns = import_profile("tests/data/interop/northstar/25cm-64mm-NorthStarCalibration.json")
    with pytest.raises(DataError, match=r"no Cardboard K1..K2 within 1.0 arcmin \(the best fit"):
        cb.params_from_profile(ns.profile)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SDK_V1[:40], "truncated: field 5 \\(left_eye_field_of_view_angles\\)"),
        (lambda: SDK_V1[:30], "truncated: field 3 \\(screen_to_lens_distance\\) needs 4 bytes"),
        (lambda: b"\x07" + SDK_V1, "garbled: byte 0 holds no valid field key"),
        (lambda: b"\x19\x00\x00\x80\x3f" + SDK_V1, "wire type 1"),
        (lambda: SDK_V1[:-1] + b"\x09", "primary_button\\) = 9 is not one of"),
    ],
)
def test_bad_bytes_name_what_is_wrong(make, message):
    with pytest.raises(DataError, match=message):
        cb.decode_device_params(make())


def _run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("https://goo.gl/abcDEF", "is a short link; vrkit works offline"),
        ("https://g.co/xyz", "is a short link"),
        ("https://example.com/cardboard/cfg?p=AAAA", "is not a Cardboard viewer URL"),
        ("https://google.com/cardboard/cfg", "has no p=<parameters>"),
        ("https://google.com/cardboard/cfg?p=Cgx%2BHb", "not base64url: character '\\+'"),
        ("https://google.com/cardboard/cfg?p=" + base64.urlsafe_b64encode(SDK_V1[:50]).decode(),
         "truncated"),
    ],
)  # fmt: skip
def test_bad_urls_fail_in_one_line_and_write_nothing(tmp_path, capsys, src, message):
    out = tmp_path / "p.json"
    code, _, err = _run_cli(["profile", "import", src, "--out", str(out)], capsys)
    assert code == 1 and not out.exists() and list(tmp_path.iterdir()) == []
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert __import__("re").search(message, lines[0]), lines[0]


def test_bad_files_fail_in_one_line_and_write_nothing(tmp_path, capsys):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((240, 320), 128, np.uint8))
    garbled = tmp_path / "viewer.bin"
    garbled.write_bytes(b"\x0a\xff\xff\xff\xff\x0f" + SDK_V1)
    for src, message in (
        (blank, "no QR code found in"),
        (garbled, "truncated"),
        (tmp_path / "nothing.bin", "neither an existing file nor a URL"),
    ):
        out = tmp_path / "p.json"
        code, _, err = _run_cli(["profile", "import", str(src), "--out", str(out)], capsys)
        assert code == 1 and not out.exists()
        assert len(err.strip().splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.png", "viewer.bin"]


def test_cli_export_forms(tmp_path, capsys):
    code, out, _ = _run_cli(["profile", "export", "cardboard-v1", "--format", "cardboard"], capsys)
    assert code == 0 and out.strip() == cb.url_from_params(cb.CARDBOARD_V1)
    for suffix in (".png", ".svg", ".bin", ".txt"):
        path = tmp_path / f"v1{suffix}"
        code, out, err = _run_cli(
            ["profile", "export", "cardboard-v1", "--format", "cardboard", "--out", str(path)],
            capsys,
        )
        assert code == 0 and path.exists(), err
    assert (tmp_path / "v1.bin").read_bytes() == SDK_V1
    # The PNG round trips through import.
    code, out, _ = _run_cli(
        ["profile", "import", str(tmp_path / "v1.png"), "--out", str(tmp_path / "back.json")],
        capsys,
    )
    assert code == 0 and "from cardboard" in out
    assert load_profile(tmp_path / "back.json").lens(0).to_dict()["k"] == [0.441, 0.156]
    code, _, err = _run_cli(
        ["profile", "export", "cardboard-v1", "--format", "cardboard", "--out", "x.jpg"], capsys
    )
    assert code == 1 and "use .png or .svg" in err


def test_encoding_refuses_bad_values():
    with pytest.raises(InputError, match="finite"):
        cb.encode_device_params(cb.DeviceParams(screen_to_lens_distance=float("nan")))
    with pytest.raises(DataError, match="no screen_to_lens_distance"):
        cb.profile_from_params(cb.DeviceParams(inter_lens_distance=0.06))
