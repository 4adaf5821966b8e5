"""Locate the data that ships with vrkit, and find shipped files by name.

The folders ``shaders/``, ``calibration/`` and ``examples/`` live inside the package as
``vrkit/_shaders``, ``vrkit/_calibration`` and ``vrkit/_examples`` in a wheel; in a source
checkout (editable install) they are the top-level folders beside ``vrkit/``.

Every option that takes a board, rig, target, headset profile or scene file also takes the name
of a shipped one (:func:`resolve_file`): ``--board checkerboard-10x7``, ``--rig outside-in-4cam``,
``--profile cardboard-v1``, ``vrkit run room``. The checkout paths the documentation uses
(``calibration/tracking-board-checkerboard-10x7.json``, ``examples/room.py``) resolve to the same
shipped files when run from anywhere else. This module imports nothing from vrkit (it is the
ground every layer may use); the loaders turn a missing file into their own one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder of a shipped data set.

    Args:
        name: ``"shaders"``, ``"calibration"`` or ``"examples"``.

    Returns:
        The existing folder.

    Raises:
        FileNotFoundError: Neither the installed nor the source-tree copy exists.
    """
    for candidate in (_PACKAGE_DIR / f"_{name}", _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"vrkit data folder {name!r} not found beside {_PACKAGE_DIR}; reinstall vrkit"
    )


@dataclass(frozen=True)
class ShippedKind:
    """Where the shipped files of one kind are and how their names are spelled.

    Attributes:
        folder: Data set and sub-folder (``"calibration/profiles"``).
        prefix: File-name prefix dropped from the name (``"tracking-board-"``).
        suffix: File suffix (``".json"``, ``".py"``).
        plural: The kind in messages (``"boards"``).
        option: The option that takes such a file (``"--board"``), for listings.
    """

    folder: str
    prefix: str
    suffix: str
    plural: str
    option: str


#: The kinds of shipped files that are found by name, in listing order.
SHIPPED: dict[str, ShippedKind] = {
    "scene": ShippedKind("examples", "", ".py", "scenes", "vrkit run"),
    "headset-profile": ShippedKind("calibration/profiles", "", ".json", "profiles", "--profile"),
    "board": ShippedKind("calibration", "tracking-board-", ".json", "boards", "--board"),
    "rig": ShippedKind("calibration", "tracking-rig-", ".json", "rigs", "--rig"),
    "target": ShippedKind("calibration", "tracking-target-", ".json", "targets", "--target"),
}

# Relative folders of a checkout that documented paths use; a missing file named there is
# looked up among the shipped ones (so `--board calibration/tracking-board-...json` works
# outside a checkout).
_CHECKOUT_FOLDERS = {"", ".", "calibration", "calibration/profiles", "examples"}


def _folder(kind: str) -> Path:
    spec = SHIPPED[kind]
    top, _, sub = spec.folder.partition("/")
    return data_dir(top) / sub if sub else data_dir(top)


def shipped_files(kind: str) -> dict[str, Path]:
    """The shipped files of one kind by name, sorted by name.

    Args:
        kind: A key of :data:`SHIPPED` (``"board"``, ``"rig"``, ``"target"``,
            ``"headset-profile"``, ``"scene"``).

    Returns:
        Name (``"checkerboard-10x7"``, ``"room"``, ``"optics-pattern"``) to file path.
    """
    spec = SHIPPED[kind]
    try:
        folder = _folder(kind)
    except FileNotFoundError:
        return {}
    found = {}
    for p in folder.glob(f"{spec.prefix}*{spec.suffix}"):
        if p.name.startswith("_"):
            continue
        found[p.stem[len(spec.prefix) :].replace("_", "-")] = p
    return dict(sorted(found.items()))


def shipped_names(kind: str) -> list[str]:
    """Names of the shipped files of one kind, sorted."""
    return list(shipped_files(kind))


def find_shipped(kind: str, text: str | Path) -> Path | None:
    """The shipped file a name stands for, or None.

    Accepted spellings of one file: ``checkerboard-10x7``, ``tracking-board-checkerboard-10x7``,
    ``tracking-board-checkerboard-10x7.json`` and the checkout path
    ``calibration/tracking-board-checkerboard-10x7.json``; scenes also by module name
    (``optics_pattern``).

    Args:
        kind: A key of :data:`SHIPPED`.
        text: What the user gave.

    Returns:
        The shipped file, or None when ``text`` names none.
    """
    spec = SHIPPED[kind]
    p = Path(str(text).strip())
    if p.parent.as_posix() not in _CHECKOUT_FOLDERS or p.suffix not in ("", spec.suffix):
        return None
    name = p.name[: -len(spec.suffix)] if p.suffix == spec.suffix else p.name
    if spec.prefix and name.startswith(spec.prefix):
        name = name[len(spec.prefix) :]
    return shipped_files(kind).get(name.replace("_", "-"))


def resolve_file(kind: str, text: str | Path) -> Path:
    """The file an option names: an existing path, else the shipped file of that name.

    Args:
        kind: A key of :data:`SHIPPED`.
        text: A path or a shipped name.

    Returns:
        ``text`` as a path when it is a file or names no shipped file (the caller's loader
        then reports the missing file), otherwise the shipped file.
    """
    p = Path(str(text).strip())
    if p.is_file():
        return p
    return find_shipped(kind, p) or p


def shipped_hint(kind: str) -> str:
    """One line listing the shipped names of a kind, for a missing-file error."""
    names = shipped_names(kind)
    spec = SHIPPED[kind]
    if not names:
        return "give the path of an existing file"
    return f"give a file path, or a shipped {spec.plural[:-1]}: {', '.join(names)}"
