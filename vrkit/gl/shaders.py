"""Shader source loading: one program per file pair, defines injected, file and line in errors."""

from __future__ import annotations

import re
from pathlib import Path

from vrkit.core.errors import ShaderError
from vrkit.resources import data_dir

_VERSION_RE = re.compile(r"^\s*#version\s+\d+.*$", re.MULTILINE)
# Mesa: "0:12(5): error: ..."; NVIDIA: "0(12) : error ..."; others: "ERROR: 0:12: ...".
_LOG_LINE_RE = re.compile(r"(?:ERROR:\s*)?0[:(](\d+)[)]?(?:\((\d+)\))?\s*:\s*(.*)")


def shader_path(name: str) -> Path:
    """Path of a shader file shipped in ``shaders/`` (or an absolute/relative path as given)."""
    p = Path(name)
    if p.is_absolute() or p.exists():
        return p
    return data_dir("shaders") / name


def load_source(name: str, defines: dict[str, object] | None = None) -> tuple[str, Path]:
    """Read a shader file and inject ``#define`` lines after its ``#version`` line.

    A ``#line`` directive follows the defines so that compiler messages keep the file's own
    line numbers.

    Args:
        name: File name in ``shaders/`` (e.g. ``"scene.vert"``) or a path.
        defines: Macro names and values; ``True`` defines a macro without a value.

    Returns:
        The source text and the file it came from.

    Raises:
        ShaderError: The file is missing or has no ``#version`` line.
    """
    path = shader_path(name)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ShaderError(f"cannot read shader {path}: {exc.strerror}") from exc
    match = _VERSION_RE.search(text)
    if match is None:
        raise ShaderError(f"{path}: no #version line; shaders must start with '#version 330 core'")
    version_line = text[: match.end()].count("\n") + 1
    lines = [
        f"#define {key}" if value is True else f"#define {key} {value}"
        for key, value in (defines or {}).items()
    ]
    injected = "\n".join([*lines, f"#line {version_line + 1}"])
    return text[: match.end()] + "\n" + injected + text[match.end() :], path


def format_log(log: str, path: Path) -> str:
    """Rewrite a GL info log so each message names ``file:line`` instead of ``0:line``."""
    out = []
    for raw in log.strip().splitlines():
        m = _LOG_LINE_RE.match(raw.strip())
        out.append(f"{path}:{m.group(1)}: {m.group(3)}" if m else raw.strip())
    return "\n".join(out)
