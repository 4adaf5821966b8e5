"""Record and replay multi-camera frames with their timestamps.

A recording is a folder::

    index.json        {"schema": "vrkit.tracking.recording/1", "cameras": [...],
                       "frames": [{"index", "t_ns", "camera_t_ns": [...], "files": [...],
                                   "errors": [...], "truth_T_world_head": optional (4, 4)}]}
    cam0/000000.png   lossless 8-bit grey frames, one folder per camera
    rig.json          optional: the rig the frames were taken with
    target.json       optional: the target in view

A missing image is stored as ``null`` in ``files`` with its reason in ``errors``, so a replay
shows the same dropouts as the live run.

Camera names become folder names, so they are checked (:func:`vrkit.core.outputs.safe_name`);
the files a recording names are read only from inside its folder unless the replay is told
``allow_outside``. Images and ``index.json`` are written atomically (:mod:`vrkit.core.outputs`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError, InputError, VrkitError
from vrkit.core.jsonfile import short_repr
from vrkit.core.outputs import PARTIAL_SUFFIX, claim_folder, inside, safe_name, write_json
from vrkit.tracking.frames import FrameSet, FrameSource, read_image
from vrkit.vision.imagefiles import write_image

log = logging.getLogger(__name__)
RECORDING_SCHEMA = "vrkit.tracking.recording/1"
#: A recording's own files (globs), removed by ``overwrite``.
RECORDING_PATTERNS = (  # index.json (the marker) last: see RUN_PATTERNS
    "rig.json",
    "target.json",
    "*/[0-9][0-9][0-9][0-9][0-9][0-9].png",
    f".*{PARTIAL_SUFFIX}",
    f"*/.*{PARTIAL_SUFFIX}",
    "index.json",
)


class Recorder:
    """Writes frame sets to a recording folder.

    Args:
        folder: Output folder (created).
        camera_names: Camera names in rig order (sub-folder names; checked by
            :func:`~vrkit.core.outputs.safe_name`).
        overwrite: Replace a recording already in ``folder`` (its index, images, rig and
            target only) instead of refusing.

    Raises:
        InputError: A camera name that cannot be a folder name, or the folder already holds a
            recording and ``overwrite`` is False (an ``OutputError``).
    """

    def __init__(
        self, folder: str | Path, camera_names: list[str], overwrite: bool = False
    ) -> None:
        self.folder = Path(folder)
        self.camera_names = [safe_name(n, "camera name") for n in camera_names]
        if len(set(self.camera_names)) != len(self.camera_names):
            raise InputError(f"camera names must differ, got {self.camera_names}")
        claim_folder(self.folder, "index.json", RECORDING_PATTERNS, overwrite)
        for name in self.camera_names:
            (self.folder / name).mkdir(exist_ok=True)
        self.frames: list[dict] = []
        self._closed = False

    def write(self, fs: FrameSet, truth_T_world_head: NDArray[np.float64] | None = None) -> None:
        """Store one frame set (and optionally its true head pose).

        Raises:
            OutputError: An image could not be written (disk full), naming it.
        """
        if len(fs.images) != len(self.camera_names):
            raise InputError(
                f"frame set has {len(fs.images)} images but the recording has "
                f"{len(self.camera_names)} cameras"
            )
        files: list[str | None] = []
        for name, img in zip(self.camera_names, fs.images, strict=True):
            if img is None:
                files.append(None)
                continue
            rel = f"{name}/{fs.index:06d}.png"
            write_image(
                self.folder / rel,
                img,
                kept=f"{len(self.frames)} frame sets were written before it "
                "(index.json records them)",
            )
            files.append(rel)
        entry = {
            "index": fs.index,
            "t_ns": int(fs.t_ns),
            "camera_t_ns": [None if t is None else int(t) for t in fs.camera_t_ns],
            "files": files,
            "errors": fs.errors,
        }
        if truth_T_world_head is not None:
            entry["truth_T_world_head"] = np.asarray(truth_T_world_head).tolist()
        self.frames.append(entry)

    def close(self) -> None:
        """Write ``index.json``; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        index = {"schema": RECORDING_SCHEMA, "cameras": self.camera_names, "frames": self.frames}
        write_json(self.folder / "index.json", index, indent=None)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
            return
        try:  # keep what was recorded, but report the first error, not this one
            self.close()
        except VrkitError as err:
            log.warning("%s", err)


def record(
    source: FrameSource, folder: str | Path, max_frames: int = 0, overwrite: bool = False
) -> int:
    """Copy a source into a recording folder; returns the number of frame sets written."""
    n = 0
    with Recorder(folder, source.camera_names, overwrite) as rec:
        for fs in source:
            rec.write(fs)
            n += 1
            if max_frames and n >= max_frames:
                break
    return n


class RecordingSource(FrameSource):
    """Replays a recording folder with its timestamps.

    Args:
        folder: The recording folder.
        realtime: Sleep between frames so that they come out at their recorded pace.
        allow_outside: Read files the index names outside the recording folder (absolute
            paths, ``..``); refused by default.

    Raises:
        InputError: No index.json, a wrong schema, or a file named outside the folder.
    """

    def __init__(
        self, folder: str | Path, realtime: bool = False, allow_outside: bool = False
    ) -> None:
        self.folder = Path(folder)
        path = self.folder / "index.json"
        if not path.is_file():
            raise InputError(f"recording {str(self.folder)!r} has no index.json")
        index = read_document(path, "recording", DataError)
        if index.get("schema") != RECORDING_SCHEMA:
            raise DataError(f"{path}: schema {index.get('schema')!r}, expected "
                            f"{RECORDING_SCHEMA!r}")  # fmt: skip
        self.camera_names = list(index["cameras"])
        self.frames = index["frames"]
        n = len(self.camera_names)
        for k, e in enumerate(self.frames):
            for key in ("files", "camera_t_ns", "errors"):
                if key in e and len(e[key]) != n:
                    raise DataError(
                        f"{path}: $.frames[{k}].{key} has {len(e[key])} entries for {n} "
                        f"camera(s) {short_repr(self.camera_names)}; expected one per camera"
                    )
            for j, rel in enumerate(e.get("files") or []):
                if rel is not None:
                    inside(self.folder, rel, f"{path}: frame {e.get('index', k)} file {j}",
                           allow_outside)  # fmt: skip
        self.realtime = realtime
        self._i = 0
        self._t0: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def truth(self, i: int) -> NDArray[np.float64] | None:
        """True ``T_world_head`` (4, 4) of frame ``i`` if the recording has it."""
        t = self.frames[i].get("truth_T_world_head")
        return None if t is None else np.array(t, dtype=np.float64)

    def read(self) -> FrameSet | None:
        """Next recorded frame set; unreadable files come back as None with the reason."""
        if self._i >= len(self.frames):
            return None
        e = self.frames[self._i]
        if self.realtime:
            now = time.monotonic_ns()
            if self._t0 is None:
                self._t0 = (now, int(e["t_ns"]))
            wait = (int(e["t_ns"]) - self._t0[1]) - (now - self._t0[0])
            if wait > 0:
                time.sleep(wait * 1e-9)
        imgs, errs = [], []
        for k, rel in enumerate(e["files"]):
            if rel is None:
                imgs.append(None)
                errs.append((e.get("errors") or [None] * len(e["files"]))[k] or "not recorded")
                continue
            img, err = read_image(self.folder / rel)
            imgs.append(img)
            errs.append(err)
        cam_t = e.get("camera_t_ns") or [e["t_ns"]] * len(imgs)
        cam_t = [None if im is None else t for im, t in zip(imgs, cam_t, strict=True)]
        fs = FrameSet(int(e.get("index", self._i)), int(e["t_ns"]), imgs, errs, cam_t)
        self._i += 1
        return fs
