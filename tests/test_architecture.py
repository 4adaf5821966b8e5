"""The dependency rule of docs/architecture.md: import-linter contracts, and proof they can fail.

The contracts live in pyproject.toml (``[tool.importlinter]``) and ``scripts/test`` runs
``lint-imports`` on vrkit before pytest. Here the same contracts are run through import-linter's
own machinery on vrkit, and on small generated packages that copy vrkit's package layout: a clean
one (every contract kept) and broken ones, each with one deliberate fault (a back-arrow between
layers, an import cycle, a foreign library imported outside its owner, ...), which must break
exactly the contract that forbids it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter import api
from importlinter.application import use_cases
from importlinter.application.user_options import UserOptions

ROOT = Path(__file__).resolve().parents[1]
CONFIG = api.read_configuration(str(ROOT / "pyproject.toml"))
CONTRACT_IDS = [c["id"] for c in CONFIG["contracts_options"]]


def run_contracts(root_package: str, keep_ignores: bool) -> dict[str, bool]:
    """Run vrkit's contracts with ``vrkit`` renamed to ``root_package``; contract id -> kept."""

    def rename(value: object) -> object:
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, str):
            return " ".join(
                root_package + w[len("vrkit") :] if w == "vrkit" or w.startswith("vrkit.") else w
                for w in value.split(" ")
            )
        return value

    contracts = []
    for options in CONFIG["contracts_options"]:
        options = {k: v for k, v in options.items() if keep_ignores or k != "ignore_imports"}
        contracts.append(
            {k: (v if k in ("id", "name", "type") else rename(v)) for k, v in options.items()}
        )
    session = dict(CONFIG["session_options"], root_packages=[root_package])
    use_cases._register_built_in_contract_types()  # what lint-imports does before checking
    report = use_cases.create_report(UserOptions(session, contracts), cache_dir=None)
    assert not report.could_not_run, report.invalid_contract_options
    by_name = {c["name"]: c["id"] for c in contracts}
    return {by_name[c.name]: check.kept for c, check in report.get_contracts_and_checks()}


def test_vrkit_keeps_every_contract():
    kept = run_contracts("vrkit", keep_ignores=True)
    assert sorted(kept) == sorted(CONTRACT_IDS)
    assert all(kept.values()), {k: v for k, v in kept.items() if not v}


# A package with vrkit's layout: module -> the modules it imports (relative to the root).
# Every import points down a layer or stays inside a package without a cycle.
CLEAN: dict[str, list[str]] = {
    "__main__": ["cli"],
    "resources": [],
    "core.types": [],
    "core.errors": [],
    "math.transforms": [],
    "math.projection": ["core.types"],
    "optics.models": ["core.errors", "math.transforms"],
    "optics.profile": ["optics.models", "resources"],
    "gl.context": ["core.errors", "resources", "!OpenGL.GL"],
    "gl.window": ["gl.context", "!glfw", "!OpenGL.GL"],
    "vision.camera": ["core.errors", "!cv2"],
    "vision.video": ["core.errors", "!av"],
    "render.scene": ["gl.context", "optics.profile"],
    "render.gltf": ["render.scene", "!pygltflib"],
    "poses.base": ["core.types"],
    "measure.fov": ["optics.profile", "math.projection"],
    "backends.base": ["core.types"],
    "backends.headless": ["backends.base", "render.scene", "poses.base"],
    "backends.openxr.backend": ["backends.base", "gl.context", "!xr"],
    "tracking.detect": ["vision.camera"],
    "tracking.record": ["tracking.detect"],
    "calibration.display": ["backends.base", "optics.profile"],
    "calibration.fit": ["calibration.display", "vision.camera"],
    "interop.formats": ["optics.profile", "core.errors"],
    "app": ["backends.base", "render.scene"],
    "cli.run": ["app", "calibration.fit", "tracking.record", "measure.fov"],
}

# One fault each, and the contract it must break (every other contract stays kept).
FAULTS = {
    "back-arrow (optics imports measure)": (
        "optics.profile",
        "measure.fov",
        {"layers", "no-cycles"},
    ),
    "back-arrow and cycle (core imports render, which imports core through gl)": (
        "core.errors",
        "render.scene",
        {"layers", "no-cycles", "pure"},
    ),
    "independent siblings (render imports poses)": ("render.scene", "poses.base", {"layers"}),
    "cycle inside a package (detect -> record -> detect)": (
        "tracking.detect",
        "tracking.record",
        {"no-cycles"},
    ),
    "cycle between siblings of a layer (backends -> calibration)": (
        "backends.headless",
        "calibration.fit",
        {"no-cycles"},
    ),
    "OpenGL outside vrkit.gl": ("render.scene", "!OpenGL.GL", {"opengl-owner"}),
    "glfw outside gl.window": ("gl.context", "!glfw", {"glfw-owner"}),
    "xr outside backends.openxr": ("backends.headless", "!xr", {"xr-owner"}),
    "pygltflib outside render.gltf": ("render.scene", "!pygltflib", {"pygltflib-owner"}),
    "av outside vision.video": ("measure.fov", "!av", {"av-owner"}),
    "a pure package reaches GL (poses imports gl)": ("poses.base", "gl.context", {"pure"}),
    "a pure package imports cv2": ("optics.models", "!cv2", {"pure"}),
    "a new top-level package no layer names": ("newpkg.thing", "core.types", {"layers"}),
}


def make_package(where: Path, name: str, modules: dict[str, list[str]]) -> None:
    """Write package ``name`` under ``where``: one module per entry, importing its list."""
    (where / name).mkdir()
    (where / name / "__init__.py").touch()
    for module, imported in modules.items():
        parts = module.split(".")
        folder = where / name
        for part in parts[:-1]:
            folder = folder / part
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").touch()
        lines = [f"import {m[1:]}" if m.startswith("!") else f"import {name}.{m}" for m in imported]
        (folder / f"{parts[-1]}.py").write_text("\n".join(lines) + "\n")


def test_contracts_pass_on_a_clean_package(tmp_path, monkeypatch):
    make_package(tmp_path, "archfix_clean", CLEAN)
    monkeypatch.syspath_prepend(str(tmp_path))
    kept = run_contracts("archfix_clean", keep_ignores=False)
    assert sorted(kept) == sorted(CONTRACT_IDS)
    assert all(kept.values()), kept


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_contracts_fail_on_a_broken_package(fault, tmp_path, monkeypatch):
    importer, imported, broken = FAULTS[fault]
    modules = {k: list(v) for k, v in CLEAN.items()}
    modules.setdefault(importer, []).append(imported)
    name = f"archfix_{list(FAULTS).index(fault)}"
    make_package(tmp_path, name, modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    kept = run_contracts(name, keep_ignores=False)
    assert {cid for cid, ok in kept.items() if not ok} == broken
