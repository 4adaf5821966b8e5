"""Packaging glue: the top-level data folders ship inside the wheel.

``shaders/`` becomes ``vrkit._shaders``, ``calibration/`` becomes ``vrkit._calibration`` and
``examples/`` becomes ``vrkit._examples`` so that an installed vrkit finds its GLSL, headset
profiles, boards and demo scenes (vrkit.resources).
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["vrkit", "vrkit.*"]),
        "vrkit._shaders",
        "vrkit._calibration",
        "vrkit._examples",
    ],
    package_dir={
        "vrkit._shaders": "shaders",
        "vrkit._calibration": "calibration",
        "vrkit._examples": "examples",
    },
)
