"""The dependency rule of docs/architecture.md, checked on every module's imports."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "vrkit"
MODULES = sorted(PKG.rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def rel(path: Path) -> str:
    return path.relative_to(PKG.parent).as_posix()


def uses(names: set[str], top: str) -> bool:
    return any(n == top or n.startswith(top + ".") for n in names)


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_foreign_libraries_have_one_owner(path):
    names = imports_of(path)
    where = rel(path)
    if uses(names, "OpenGL"):
        assert where.startswith("vrkit/gl/"), f"{where} imports OpenGL; only vrkit/gl may"
    if uses(names, "glfw"):
        assert where == "vrkit/gl/window.py", f"{where} imports glfw; only vrkit/gl/window.py may"
    if uses(names, "xr"):
        assert where.startswith("vrkit/backends/openxr/"), f"{where} imports xr"


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if rel(p).split("/")[1] in ("core", "math", "optics", "poses")],
    ids=rel,
)
def test_pure_packages_stay_pure(path):
    names = imports_of(path)
    for banned in ("OpenGL", "glfw", "xr", "vrkit.gl", "vrkit.render", "vrkit.backends", "cv2"):
        assert not uses(names, banned), f"{rel(path)} imports {banned}"
