"""Writing output files so that nothing half-written ever sits under a final name.

Every file vrkit writes goes through this module:

- it is written to a temporary name in the same folder (``.NAME.PID.partial``), flushed, synced
  to disk, checked (the size on disk is the size written; a PNG or JPEG has its signature and
  end marker) and only then renamed over the final name (:func:`write_bytes`, :func:`open_atomic`);
- images are encoded in memory (:mod:`vrkit.vision.imagefiles`, ``cv2.imencode``) and written
  as bytes: ``cv2.imwrite`` answers True for an empty file on a full disk;
- a write error (a full disk, an I/O error, a permission) becomes one :class:`OutputError` line
  naming the path and what was kept, so a command never says "wrote N" after a failed write;
- :func:`preflight` checks an output location before any long work starts (it exists or can be
  created, it can be written, it has some free space);
- :func:`safe_name` and :func:`inside` keep names that come from input files (pattern frames,
  camera names, recorded file lists) from escaping the folder they belong to.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from vrkit.core.errors import InputError

#: Suffix of the temporary files; a folder cleared by ``--overwrite`` loses these too.
PARTIAL_SUFFIX = ".partial"

#: Free space an output location must have before work starts (bytes).
MIN_FREE_BYTES = 1 << 20

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"


class OutputError(InputError):
    """An output location cannot be written: unwritable, full, or an I/O error.

    The message names the path; the hint says what was kept and what to do.
    """


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "no space left on the device"
        if exc.errno == errno.EDQUOT:
            return "disk quota exceeded"
        if exc.strerror:
            return exc.strerror.lower() if exc.strerror[:1].isupper() else exc.strerror
    return str(exc)


def output_error(path: str | Path, exc: BaseException, kept: str | None = None) -> OutputError:
    """One line for a failed write: ``writing PATH failed: REASON; KEPT``.

    Args:
        path: The final name that was being written.
        exc: The error (an ``OSError`` is described by its errno).
        kept: What is still on disk, e.g. ``"frames 0-41 and run.json are kept"``.
    """
    hint = f"{kept}; free some space or choose another output" if kept else None
    return OutputError(f"writing {path} failed: {_reason(exc)}", hint)


def partial_name(path: str | Path, keep_suffix: bool = False) -> Path:
    """The temporary name a file is written under before it is renamed to ``path``.

    ``.NAME.PID.partial``; with ``keep_suffix``, ``.STEM.PID.partial.SUFFIX`` (for writers
    that pick the format from the name, such as FFmpeg).
    """
    p = Path(path)
    if keep_suffix:
        return p.with_name(f".{p.stem}.{os.getpid()}{PARTIAL_SUFFIX}{p.suffix}")
    return p.with_name(f".{p.name}.{os.getpid()}{PARTIAL_SUFFIX}")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _partial_str(path: str) -> str:
    # Strings, not Path: pathlib interns every path component it parses (sys.intern), so a
    # Path per frame file grows memory with the run's length.
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.{os.getpid()}{PARTIAL_SUFFIX}")


def _verify(path: str, data: bytes | None, size: int) -> None:
    """Check the synced temporary file: size, and image markers where cheap."""
    if size <= 0:
        raise OSError(errno.EIO, "the file is empty after writing")
    if data is not None and len(data) != size:
        raise OSError(errno.EIO, f"{size} bytes on disk, {len(data)} written")
    if data is None:
        return
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".png" and not (data.startswith(_PNG_SIGNATURE) and data.endswith(_PNG_END)):
        raise OSError(errno.EIO, "not a complete PNG")
    if suffix in (".jpg", ".jpeg") and not (data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"):
        raise OSError(errno.EIO, "not a complete JPEG")


def write_bytes(path: str | Path, data: bytes, kept: str | None = None, sync: bool = True) -> None:
    """Write ``data`` to ``path`` through a synced, checked temporary file and a rename.

    Args:
        path: The final name; its folder is created if missing.
        data: The whole content (must not be empty).
        kept: For the error: what is still on disk if this write fails.
        sync: ``fsync`` before the rename. A writer of many small files (frame PNGs) may
            pass False and call :func:`sync_folder` once at its end: a killed process still
            leaves only complete files under final names (the rename comes after the whole
            write); only a power cut between the two may lose recent frames.

    Raises:
        OutputError: The write failed (nothing is left under either name).
    """
    p = os.fspath(path)
    tmp = _partial_str(p)
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except FileNotFoundError:
            Path(p).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if sync:
                os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        _verify(p, data, size)
        os.replace(tmp, p)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise output_error(p, exc, kept) from exc


def sync_folder(folder: str | Path) -> None:
    """Flush the file system that holds ``folder`` to disk (``syncfs``; ``sync`` elsewhere).

    Raises:
        OutputError: The flush failed (an I/O error), naming the folder.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)  # the folder's entries (the renames)
        finally:
            os.close(fd)
        os.sync()
    except OSError as exc:
        raise output_error(folder, exc) from exc


def write_text(path: str | Path, text: str, kept: str | None = None) -> Path:
    """Write UTF-8 text atomically and return its path; see :func:`write_bytes`."""
    write_bytes(path, text.encode("utf-8"), kept)
    return Path(path)


def write_json(
    path: str | Path, data: Any, indent: int | None = 2, kept: str | None = None
) -> Path:
    """Write JSON (newline-terminated) atomically; see :func:`write_bytes`."""
    return write_text(path, json.dumps(data, indent=indent) + "\n", kept)


@contextlib.contextmanager
def open_atomic(
    path: str | Path, mode: str = "w", newline: str | None = None, kept: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file that becomes ``path`` when the block ends without an error.

    For writers that stream (CSV rows, long JSON). The file is flushed, synced and checked
    (not empty) before the rename; on any error, in the block or in the write, the temporary
    file is removed and ``path`` is left as it was.

    Args:
        path: The final name; its folder is created if missing.
        mode: ``"w"`` (UTF-8 text) or ``"wb"``.
        newline: As for :func:`open` (``""`` for the csv module).
        kept: For the error: what is still on disk if this write fails.

    Raises:
        OutputError: Opening, writing, syncing or renaming failed.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"open_atomic mode must be 'w' or 'wb', got {mode!r}")
    p = Path(path)
    tmp = partial_name(p)
    fh: IO[Any] | None = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        if mode == "w":
            fh = open(tmp, "w", encoding="utf-8", newline=newline)
        else:
            fh = open(tmp, "wb")
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        size = os.fstat(fh.fileno()).st_size
        fh.close()
        _verify(str(p), None, size)
        os.replace(tmp, p)
    except OSError as exc:
        _discard(fh, tmp)
        raise output_error(p, exc, kept) from exc
    except BaseException:
        _discard(fh, tmp)
        raise


def _discard(fh: IO[Any] | None, tmp: Path) -> None:
    if fh is not None:
        with contextlib.suppress(OSError):
            fh.close()
    with contextlib.suppress(OSError):
        tmp.unlink()


def save_figure(fig: Any, path: str | Path, kept: str | None = None, **savefig: Any) -> Path:
    """Render a matplotlib figure in memory and write it atomically.

    Args:
        fig: A ``matplotlib.figure.Figure``.
        path: The final name; its suffix picks the format.
        kept: See :func:`write_bytes`.
        **savefig: Passed to ``fig.savefig`` (``dpi``...).
    """
    buf = io.BytesIO()
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    fig.savefig(buf, format=fmt, **savefig)
    write_bytes(path, buf.getvalue(), kept)
    return Path(path)


# --- before work starts ---------------------------------------------------------------------


def preflight(
    path: str | Path,
    folder: bool = False,
    option: str = "--out",
    min_free_bytes: int = MIN_FREE_BYTES,
) -> Path:
    """Check an output location before any long work: creatable, writable, some free space.

    Nothing is created: the check is made in the nearest folder that exists (the output
    folder, or the one its missing folders would be created in), where a probe file is created
    and removed (``os.access`` says yes to root on read-only and virtual file systems).

    Args:
        path: The output file, or folder with ``folder=True``.
        folder: ``path`` is a folder that will hold the outputs.
        option: The option that named it, for the message.
        min_free_bytes: Free space the folder's file system must have.

    Returns:
        ``path`` as a Path.

    Raises:
        OutputError: One line naming the path and why it cannot be used.
    """
    p = Path(path)
    hint = f"choose another {option}"
    if not folder and p.is_dir():
        raise OutputError(f"{option} {p} is a folder, expected a file name", hint)
    if folder and p.exists() and not p.is_dir():
        raise OutputError(f"{option} {p} is a file, expected a folder", hint)
    if not folder and p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"{option} {p} exists and is not writable", hint)
    where = p if folder else p.parent
    existing = where
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot create output folder {where}: {existing} is a file", hint)
    try:
        fd, probe = tempfile.mkstemp(prefix=".vrkit-probe.", suffix=PARTIAL_SUFFIX, dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        if existing == where:
            msg = f"output folder {where} is not writable: {_reason(exc)}"
        else:
            msg = (
                f"cannot create output folder {where}: {existing} is not writable ({_reason(exc)})"
            )
        raise OutputError(msg, hint) from exc
    try:
        st = os.statvfs(existing)
        free = st.f_bavail * st.f_frsize
    except OSError:
        free = None
    if free is not None and free < min_free_bytes:
        raise OutputError(
            f"output folder {existing} has only {free / 1e6:.2f} MB free "
            f"(at least {min_free_bytes / 1e6:.2f} MB needed)",
            f"free some space or {hint}",
        )
    return p


def clear_files(folder: str | Path, patterns: tuple[str, ...] | list[str]) -> int:
    """Remove the files in ``folder`` that match ``patterns`` (globs); returns the count.

    For ``--overwrite``: only a previous run's own files go, anything else in the folder
    stays.

    Raises:
        OutputError: A file could not be removed, naming it.
    """
    out = Path(folder)
    n = 0
    for pattern in patterns:
        for p in sorted(out.glob(pattern)):
            if p.is_file() or p.is_symlink():
                try:
                    p.unlink()
                except OSError as exc:
                    raise OutputError(
                        f"cannot remove {p} of the previous run: {_reason(exc)}",
                        "remove it by hand or choose another output",
                    ) from exc
                n += 1
    return n


def claim_folder(
    folder: str | Path,
    marker: str,
    patterns: tuple[str, ...] | list[str],
    overwrite: bool,
    option: str = "--out",
) -> Path:
    """Check an output folder and refuse one that holds an earlier run, unless ``overwrite``.

    Args:
        folder: The output folder (checked by :func:`preflight`, then created if missing).
        marker: The file that says a run is there (``run.json``, ``index.json``...).
        patterns: The run's files (globs), removed when ``overwrite`` is True; the marker and
            partial files should be among them.
        overwrite: Replace the earlier run instead of refusing.
        option: The option that named the folder, for the messages.

    Raises:
        OutputError: Not usable (see :func:`preflight`), or it holds a run and ``overwrite``
            is False.
    """
    out = preflight(folder, folder=True, option=option)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out}: {_reason(exc)}",
                          f"choose another {option}") from exc  # fmt: skip
    if (out / marker).exists():
        if not overwrite:
            raise OutputError(
                f"output folder {out} already holds a vrkit run ({marker})",
                f"pass --overwrite to replace it, or choose another {option}",
            )
        clear_files(out, patterns)
    return out


def preflight_args(args: Any, files: tuple[str, ...] = (), folders: tuple[str, ...] = ()) -> None:
    """:func:`preflight` every output option a command was given (those left unset are skipped).

    Args:
        args: The parsed arguments (``argparse.Namespace``).
        files: Attribute names of options that name an output file (``"plot"``, ``"out"``).
        folders: Attribute names of options that name an output folder.

    Raises:
        OutputError: The first location that cannot be used, named with its option.
    """
    for names, folder in ((files, False), (folders, True)):
        for name in names:
            value = getattr(args, name, None)
            if value not in (None, "", "-"):
                preflight(value, folder=folder, option="--" + name.replace("_", "-"))


# --- names that come from input files -------------------------------------------------------

_BAD_NAME = re.compile(r"[\x00-\x1f/\\]")


def safe_name(name: Any, what: str) -> str:
    """Check a name read from an input file before it becomes part of an output path.

    Args:
        name: The name (a camera name, a frame name, a rig or target name).
        what: What it names and where it came from, for the message
            (e.g. ``"camera name in rec/index.json"``).

    Returns:
        ``name``, unchanged.

    Raises:
        InputError: Not a string, empty, ``.`` or ``..``, longer than 128 characters, or
            holding a path separator or a control character.
    """
    shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
    if not isinstance(name, str) or not name:
        raise InputError(f"{what} must be a non-empty string, got {shown}")
    if len(name) > 128 or name in (".", "..") or _BAD_NAME.search(name) or name.startswith("~"):
        raise InputError(
            f"{what} {shown} cannot be used as a file name",
            "use letters, digits, '-', '_' and '.' (no '/', '\\', '..' or control characters)",
        )
    return name


def inside(root: str | Path, relative: Any, what: str, allow_outside: bool = False) -> Path:
    """Resolve a path named by an input file, refusing one that leaves ``root``.

    Args:
        root: The folder the input file lives in (a recording, a capture folder).
        relative: The path the file names, relative to ``root``.
        what: What it names, for the message (e.g. ``"file of camera 'c0' in rec/index.json"``).
        allow_outside: Accept absolute paths and ``..`` (the user passed a flag that says so).

    Returns:
        The path, ``root / relative``.

    Raises:
        InputError: Not a string, or (without ``allow_outside``) absolute or outside ``root``
            after resolving ``..`` and links.
    """
    if not isinstance(relative, str) or not relative:
        raise InputError(f"{what} must be a non-empty string, got {relative!r}")
    base = Path(root)
    full = base / relative
    if allow_outside:
        return full
    try:
        escapes = Path(relative).is_absolute() or not full.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError):  # a name too long, a symlink loop: not followed
        escapes = True
    if escapes:
        # A long path keeps its end (the file's name) and its start.
        shown = relative if len(relative) <= 80 else relative[:30] + "..." + relative[-47:]
        raise InputError(
            f"{what} {shown!r} is outside {base}",
            "pass --allow-outside to read files outside the recording",
        )
    return full
