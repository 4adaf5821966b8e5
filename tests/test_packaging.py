"""The wheel ships the shaders, calibration data and demo scenes inside the package."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_shaders_and_profiles(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("vrkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shader in (ROOT / "shaders").iterdir():
        assert f"vrkit/_shaders/{shader.name}" in names
    for data in (ROOT / "calibration").rglob("*.json"):
        assert f"vrkit/_calibration/{data.relative_to(ROOT / 'calibration').as_posix()}" in names
    assert "vrkit/gl/context.py" in names
    # The demo scenes and the model the room shows (`vrkit run room` from a wheel).
    for scene in (ROOT / "examples").glob("*.py"):
        assert f"vrkit/_examples/{scene.name}" in names
    assert "vrkit/_examples/assets/globe.glb" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
