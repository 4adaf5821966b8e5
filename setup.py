"""Packaging glue: the top-level data folders ship inside the wheel.

``shaders/`` becomes ``vrkit._shaders`` and ``calibration/`` becomes ``vrkit._calibration`` so
that an installed vrkit finds its GLSL and headset profiles through importlib.resources.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["vrkit", "vrkit.*"]), "vrkit._shaders", "vrkit._calibration"],
    package_dir={"vrkit._shaders": "shaders", "vrkit._calibration": "calibration"},
)
