"""The tracking pipeline: frames in, filtered head poses out.

Per frame set: predict the pose at the frame time from the filter; use it for a region of
interest per camera; detect (ArUco corners or LED blobs) in all cameras on a thread pool (OpenCV
releases the GIL); build 2D-3D correspondences (marker ids, or LED matching / acquisition);
solve jointly; update the filter. Cameras that deliver no image drop out and come back; the
tracking state (``tracking`` / ``lost``) and every change of it are reported.

What cannot be trusted is reported, not used: a camera image of another size than the rig
says, or one whose capture time is out of step with the frame (a decoder that skipped frames,
a camera whose clock jumped), is left out of that frame with an event naming it, and the frame
counts as *degraded* (:attr:`TrackResult.degraded`) rather than tracked. A solve whose
reprojection error is far above the detector's accuracy (a target file whose geometry
contradicts the detections, e.g. corners listed in reverse order, which gives a mirror-image
pose) is refused: the frame is lost, with the reason.

Out-of-sync cameras are found three ways. The source marks what it can see in the files
(:attr:`FrameSet.suspect`: a decode gap in a video's presentation times, a video that ended
before the others); the capture times are compared with the frame's (see
:class:`TrackerConfig`); and, for marker targets, the cameras are checked against each other.
A video that lost frames but whose timestamps were written at a regular rate (frames re-encoded
without the lost ones) shows nothing in its file: its images simply show the target as it was
some frames later. Only the other cameras reveal it: when a camera's residual at the joint pose
rises far above its usual level, the pose is solved again without each camera in turn, and a
camera whose detections lie far from the pose the others agree on (more than
``consistency_px`` and ``consistency_factor`` times its usual RMS) is left out. With two
cameras there is no majority: the one already found out of step, else the one farther from
the filter's prediction, is left out. Each such run of frames is reported once when it starts
and once, with its frame range, when it ends (:meth:`Tracker.finish` for runs still open).
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError, InputError
from vrkit.math import transforms as tf
from vrkit.tracking.camera import Rig
from vrkit.tracking.filter import FilterConfig, PoseFilter
from vrkit.tracking.frames import FrameSet
from vrkit.tracking.solve import (
    Observation,
    PoseSolution,
    arrangement,
    reprojection_rms,
    solve_pose,
    visible_projections,
)
from vrkit.tracking.target import Target

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]

TRACKING = "tracking"
LOST = "lost"


@dataclass
class TrackResult:
    """What the tracker made of one frame set.

    Attributes:
        index: Frame index.
        t_ns: Frame time, ns.
        status: ``"tracking"`` or ``"lost"``.
        T_world_head: Filtered (4, 4) pose at ``t_ns`` (None until the first pose).
        covariance: (6, 6) filter covariance of ``(dt, dr)`` (None until the first pose).
        measured: The frame's own joint solve, or None when it failed.
        cameras_active: Names of cameras that delivered an image.
        cameras_used: Names of cameras that contributed to the solve.
        n_points: 2D-3D correspondences used.
        message: Why the frame was lost, or "".
        events: Human-readable state changes of this frame (dropouts, lost, recovered).
        degraded: Why images of this frame were left out (size, synchronisation), one entry
            per camera left out; empty for a clean frame.
    """

    index: int
    t_ns: int
    status: str
    T_world_head: F64 | None
    covariance: F64 | None
    measured: PoseSolution | None
    cameras_active: list[str]
    cameras_used: list[str]
    n_points: int
    message: str = ""
    events: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)


@dataclass
class TrackerConfig:
    """Pipeline settings.

    Attributes:
        threads: Worker threads for per-camera detection.
        use_roi: Search only around the predicted target while tracking.
        roi_margin_px: Margin added around the predicted target's bounding box.
        full_search_every: While tracking with ROIs, search whole images every N frames
            (0 = only when the solve fails; the ROI already covers the whole predicted target).
        led_threshold: Grey level for LED blobs.
        led_gate_px: Gate for LED prior matching.
        outlier_px: Solver outlier threshold.
        max_rms_px: Largest RMS reprojection error of a solve's inliers that is trusted;
            above it the target's geometry contradicts the detections and the frame is lost.
        sync_tolerance: A camera image whose own step since its previous image differs from
            the frame's step by more than this fraction of the frame period, or whose capture
            time is more than twice that from the frame time (free-running live cameras sit up
            to half a period apart), is out of sync and left out.
        consistency_px: A camera whose detections lie more than this RMS distance, pixels,
            from the pose the other cameras agree on is out of step and left out (marker
            targets with two or more cameras).
        consistency_factor: ... and more than this many times its usual RMS residual.
        filter: Filter noise settings.
    """

    threads: int = 2
    use_roi: bool = True
    roi_margin_px: float = 24.0
    full_search_every: int = 0
    led_threshold: int = 96
    led_gate_px: float = 4.0
    outlier_px: float = 3.0
    max_rms_px: float = 6.0
    sync_tolerance: float = 0.5
    consistency_px: float = 1.5
    consistency_factor: float = 6.0
    filter: FilterConfig = field(default_factory=FilterConfig)


class Tracker:
    """Multi-camera tracker for one target.

    Args:
        rig: Calibrated cameras.
        target: The constellation to track.
        config: Pipeline settings.
    """

    def __init__(self, rig: Rig, target: Target, config: TrackerConfig | None = None) -> None:
        self.rig, self.target = rig, target
        self.config = config or TrackerConfig()
        self.mode = arrangement(rig, target.frame)
        self.filter = PoseFilter(self.config.filter)
        self.status = LOST
        self._lost_since: int | None = None
        self._active = [True] * len(rig)
        self._checked_size = [False] * len(rig)
        self._prev_t: int | None = None
        #: Per camera (frame time, camera time) of its previous image.
        self._prev_cam: list[tuple[int, int] | None] = [None] * len(rig)
        self._period_ns: int | None = None
        self._contradiction_reported = False
        self.n_degraded = 0
        #: Per camera its recent RMS residuals in consistent frames (its usual error).
        self._usual: list[deque[float]] = [deque(maxlen=60) for _ in range(len(rig))]
        #: Open runs of left-out frames: (camera, kind) -> [first, last, reason].
        self._runs: dict[tuple[int, str], list] = {}
        self._frames_since_full = 0
        self._pool = ThreadPoolExecutor(max(1, self.config.threads), "vrkit-detect")
        self._points = target.points()
        self._normals = target.point_normals()
        if target.kind == "aruco":
            from vrkit.tracking.detect import ArucoDetector

            self._aruco = [ArucoDetector(target.dictionary) for _ in range(len(rig))]
            self._marker_index = {int(m): j for j, m in enumerate(target.marker_ids)}
        self.n_frames = 0
        self.n_tracked = 0

    def close(self) -> None:
        """Stop the worker threads; safe to call twice."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- per-frame steps ---------------------------------------------------------------------

    def _leave_out(self, reason: str, events: list[str], degraded: list[str]) -> None:
        msg = f"{reason}; image left out of this frame"
        log.warning(msg)
        events.append(msg)
        degraded.append(reason)

    def _flag(self, k: int, kind: str, index: int, reason: str, events: list[str],
              degraded: list[str]) -> None:  # fmt: skip
        """Leave camera ``k`` out of frame ``index``; report a run of such frames once."""
        name = self.rig.cameras[k].name
        degraded.append(f"camera {name!r} frame {index}: {reason}")
        run = self._runs.get((k, kind))
        if run is not None and run[1] == index - 1:
            run[1] = index
            return
        msg = f"camera {name!r} left out from frame {index}: {reason}"
        log.warning(msg)
        events.append(msg)
        self._runs[(k, kind)] = [index, index, reason]

    def _close_runs(self, index: int | None, events: list[str]) -> None:
        """Report the runs that did not go on to frame ``index`` (None: all) with their range."""
        for key, (a, b, reason) in list(self._runs.items()):
            if index is not None and b >= index:
                continue
            name = self.rig.cameras[key[0]].name
            msg = f"camera {name!r} left out of frames {a}-{b} ({b - a + 1} frames): {reason}"
            log.warning(msg)
            events.append(msg)
            del self._runs[key]

    def finish(self) -> list[str]:
        """End of the run: the events of left-out runs still open, with their frame ranges."""
        events: list[str] = []
        self._close_runs(None, events)
        return events

    def _check_consistency(
        self,
        fs: FrameSet,
        dets: dict[int, object],
        sol: PoseSolution,
        T_pred: F64 | None,
        events: list[str],
        degraded: list[str],
    ) -> PoseSolution:
        """Leave out a camera whose detections contradict the others (see module docstring)."""
        cams = list(sol.cameras_used)
        if self.target.kind != "aruco" or len(cams) < 2:
            for k in cams:
                self._usual[k].append(sol.camera_rms_px[k])
            return sol

        def limit(k: int) -> float:
            u = float(np.median(self._usual[k])) if self._usual[k] else 0.0
            return max(self.config.consistency_px, self.config.consistency_factor * u)

        if all(sol.camera_rms_px[k] <= 0.5 * limit(k) for k in cams):
            for k in cams:
                self._usual[k].append(sol.camera_rms_px[k])
            return sol
        obs = {o.camera: o for o in self._aruco_observations(dets) if len(o.pixels)}
        flagged = {k for (k, kind) in self._runs if kind == "step"}
        best = None
        for k in cams:
            try:
                s_k = self._solve_unchecked({j: d for j, d in dets.items() if j != k}, T_pred)
            except DataError:
                continue
            off = reprojection_rms(self.rig, obs[k], s_k.T_world_head, self.mode)
            if len(cams) == 2:
                # no majority: the camera already out of step, else the one farther from
                # the prediction (none when there is no prediction)
                far = (-reprojection_rms(self.rig, obs[k], T_pred, self.mode)
                       if T_pred is not None else 0.0)  # fmt: skip
                score = (k not in flagged, far)
            else:
                score = (False, s_k.rms_px)
            if best is None or score < best[0]:
                best = (score, k, off, s_k)
        if best is None:
            return sol
        score, k, off, s_k = best
        if off <= limit(k):
            return sol
        names = [self.rig.cameras[j].name for j in cams]
        if len(cams) == 2 and score == (True, 0.0):
            for j in cams:
                self._flag(j, "step", fs.index, f"cameras {names} disagree by {off:.1f} px and "
                           "there is no third camera or prediction to tell which is out of step",
                           events, degraded)  # fmt: skip
            return sol
        u = float(np.median(self._usual[k])) if self._usual[k] else float("nan")
        self._flag(k, "step", fs.index, f"out of step with the other cameras (its detections "
                   f"lie {off:.1f} px from the pose they give, usually {u:.2f} px)",
                   events, degraded)  # fmt: skip
        return s_k

    def _check_sync(self, fs: FrameSet, events: list[str], degraded: list[str]) -> list[bool]:
        """Per camera: is its image in step with the frame (see :class:`TrackerConfig`)?"""
        dt_frame = None if self._prev_t is None else fs.t_ns - self._prev_t
        if dt_frame is not None and dt_frame > 0:
            self._period_ns = dt_frame if self._period_ns is None else min(
                self._period_ns, dt_frame
            )  # fmt: skip
        ok = [True] * len(fs.images)
        if self._period_ns is not None:
            tol = self.config.sync_tolerance * self._period_ns
            for k, (img, t) in enumerate(zip(fs.images, fs.camera_t_ns, strict=True)):
                if img is None or t is None:
                    continue
                name = self.rig.cameras[k].name
                prev = self._prev_cam[k]
                step_frame = None if prev is None else fs.t_ns - prev[0]
                step_cam = None if prev is None else t - prev[1]
                if abs(t - fs.t_ns) > 2 * tol:
                    ok[k] = False
                    why = f"{(t - fs.t_ns) * 1e-6:+.1f} ms from the frame time"
                elif step_cam is not None and abs(step_cam - step_frame) > tol:
                    ok[k] = False
                    why = (f"its time stepped {step_cam * 1e-6:.1f} ms while the frame "
                           f"stepped {step_frame * 1e-6:.1f} ms")  # fmt: skip
                if not ok[k]:
                    self._leave_out(
                        f"camera {name!r} frame {fs.index}: out of sync ({why})", events, degraded
                    )
        self._prev_t = fs.t_ns
        for k, (img, t) in enumerate(zip(fs.images, fs.camera_t_ns, strict=True)):
            if img is not None and t is not None:
                self._prev_cam[k] = (fs.t_ns, t)
        return ok

    def _check_images(self, fs: FrameSet, events: list[str], degraded: list[str]) -> list[int]:
        if len(fs.images) != len(self.rig):
            raise InputError(
                f"frame {fs.index} has {len(fs.images)} camera images but the rig has "
                f"{len(self.rig)} cameras ({[c.name for c in self.rig.cameras]})",
                "use the rig file that matches the source",
            )
        in_sync = self._check_sync(fs, events, degraded)
        active = []
        for k, (cam, img) in enumerate(zip(self.rig.cameras, fs.images, strict=True)):
            ok = img is not None
            if fs.suspect[k]:
                self._flag(k, "source", fs.index, fs.suspect[k], events, degraded)
                in_sync[k] = False
            if ok and not self._checked_size[k]:
                cam.check_image(img, f" (frame {fs.index})")  # the wrong rig: stop at once
                self._checked_size[k] = True
            elif ok:
                try:
                    cam.check_image(img, f" (frame {fs.index})")
                except DataError as exc:
                    ok = False
                    self._leave_out(exc.message, events, degraded)
            if ok != self._active[k]:
                n_now = sum(im is not None for im in fs.images)
                if ok:
                    msg = f"camera {cam.name} is back at frame {fs.index}; {n_now} cameras active"
                else:
                    msg = (f"camera {cam.name} dropped out at frame {fs.index} "
                           f"({fs.errors[k]}); tracking continues on {n_now} cameras")  # fmt: skip
                log.warning(msg)
                events.append(msg)
                self._active[k] = ok
            if ok and in_sync[k]:
                active.append(k)
        return active

    def _rois(self, T_pred: F64 | None, active: list[int]) -> dict[int, tuple | None]:
        """Per camera the ROI to search (None = whole image, absent = skip)."""
        full = {k: None for k in active}
        if (
            T_pred is None
            or not self.config.use_roi
            or 0 < self.config.full_search_every <= self._frames_since_full
        ):
            self._frames_since_full = 0
            return full
        self._frames_since_full += 1
        rois: dict[int, tuple | None] = {}
        m = self.config.roi_margin_px
        for k in active:
            px, vis = visible_projections(
                self.rig, k, self._points, None, T_pred, self.mode, 90.0, margin_px=-200
            )
            if not vis.any():
                continue
            p = px[vis]
            lo, hi = p.min(axis=0), p.max(axis=0)
            pad = m + 0.15 * (hi - lo)
            rois[k] = (int(lo[0] - pad[0]), int(lo[1] - pad[1]),
                       int(hi[0] + pad[0]) + 1, int(hi[1] + pad[1]) + 1)  # fmt: skip
        return rois

    def _detect(self, fs: FrameSet, rois: dict[int, tuple | None]) -> dict[int, object]:
        from vrkit.tracking.detect import detect_blobs

        def work(k: int) -> object:
            img = fs.images[k]
            if self.target.kind == "aruco":
                return self._aruco[k].detect(img, rois[k])
            return detect_blobs(img, self.config.led_threshold, roi=rois[k]).centers

        keys = list(rois)
        if len(keys) <= 1 or self.config.threads <= 1:
            return {k: work(k) for k in keys}
        return dict(zip(keys, self._pool.map(work, keys), strict=True))

    def _aruco_observations(self, dets: dict[int, object]) -> list[Observation]:
        obs = []
        for k, d in dets.items():
            idx = [self._marker_index.get(int(i), -1) for i in d.ids]
            keep = [j for j, m in enumerate(idx) if m >= 0]
            if not keep:
                obs.append(Observation(k, np.zeros((0, 2)), np.zeros((0, 3))))
                continue
            pid = np.concatenate([np.arange(4) + 4 * idx[j] for j in keep])
            obs.append(Observation(k, d.corners[keep].reshape(-1, 2), self._points[pid], pid))
        return obs

    def _solve(self, dets: dict[int, object], T_pred: F64 | None) -> PoseSolution:
        sol = self._solve_unchecked(dets, T_pred)
        if not sol.rms_px <= self.config.max_rms_px:
            raise DataError(
                f"the target's geometry contradicts the detections: RMS reprojection error "
                f"{sol.rms_px:.1f} px over {sol.n_inliers} points (trusted up to "
                f"{self.config.max_rms_px:g} px); check the target file (corner order, marker "
                "size, the right target)"
            )
        return sol

    def _solve_unchecked(self, dets: dict[int, object], T_pred: F64 | None) -> PoseSolution:
        if self.target.kind == "aruco":
            obs = self._aruco_observations(dets)
            sol = solve_pose(self.rig, obs, self.mode, prior=T_pred,
                             outlier_px=self.config.outlier_px)  # fmt: skip
            # A decoded marker none of whose corners fits while others fit: the target's
            # geometry contradicts the detections (a planar subset fits a mirror-image pose).
            bad = sum(
                int(np.count_nonzero(~m.reshape(-1, 4).any(axis=1)))
                for o, m in zip(obs, sol.inlier_mask, strict=True)
                if len(o.pixels) and len(m) == len(o.pixels)
            )
            if bad:
                raise DataError(
                    f"the target's geometry contradicts the detections: {bad} decoded "
                    f"marker(s) fit nowhere near the pose the other {sol.n_inliers // 4} give; "
                    "check the target file (corner order, marker size, the right target)"
                )
            return sol
        from vrkit.tracking.constellation import acquire, refine_with_all_cameras

        blobs = {k: b for k, b in dets.items() if len(b)}
        if T_pred is not None:
            try:
                sol = refine_with_all_cameras(self.rig, blobs, self.target, T_pred, self.mode,
                                              self.config.led_gate_px)  # fmt: skip
                if sol.n_inliers >= 6:
                    return sol
            except DataError:
                pass
        return acquire(self.rig, blobs, self.target, self.mode, gate_px=self.config.outlier_px)

    def process(self, fs: FrameSet) -> TrackResult:
        """Track one frame set.

        Args:
            fs: Images of all cameras (None for missing ones) with the frame time.

        Returns:
            The filtered pose, the frame's own solve, and the tracking state.

        Raises:
            InputError: The frame set does not fit the rig (camera count or image size).
        """
        events: list[str] = []
        degraded: list[str] = []
        active = self._check_images(fs, events, degraded)
        self.n_frames += 1
        T_pred = None
        if self.status == TRACKING and self.filter.initialized:
            T_pred = self.filter.pose_at(fs.t_ns)[0]
        message = ""
        sol = None
        if not active:
            message = "no camera delivered an image"
        else:
            rois = self._rois(T_pred, active)
            dets = self._detect(fs, rois)
            try:
                sol = self._solve(dets, T_pred)
            except DataError as exc:
                message = str(exc)
                if T_pred is not None and self.config.use_roi:
                    # the target may have left the predicted regions: search whole images
                    try:
                        dets = self._detect(fs, {k: None for k in active})
                        sol = self._solve(dets, None)
                        message = ""
                    except DataError as exc2:
                        message = str(exc2)
            if sol is not None:
                sol = self._check_consistency(fs, dets, sol, T_pred, events, degraded)
        self._close_runs(fs.index, events)
        names = [self.rig.cameras[k].name for k in active]
        contradiction = "contradicts the detections" in message
        if contradiction and not self._contradiction_reported:
            msg = f"not tracked: {message}"
            log.warning(msg)
            events.append(msg)
        self._contradiction_reported = contradiction
        if sol is not None:
            self.filter.update_pose(fs.t_ns, sol.T_world_head, sol.covariance)
            if self.status == LOST:
                ago = "" if self._lost_since is None else (
                    f" after {(fs.t_ns - self._lost_since) * 1e-6:.0f} ms"
                )  # fmt: skip
                used = [self.rig.cameras[c].name for c in sol.cameras_used]
                what = "recovered" if self.n_tracked or self.n_degraded else "acquired"
                msg = f"tracking {what} at frame {fs.index}{ago} with cameras {used}"
                log.info(msg)
                events.append(msg)
            self.status = TRACKING
            if degraded:
                self.n_degraded += 1
            else:
                self.n_tracked += 1
        elif self.status == TRACKING:
            msg = f"tracking lost at frame {fs.index}: {message}"
            log.warning(msg)
            events.append(msg)
            self.status = LOST
            self._lost_since = fs.t_ns
            self.filter.reset()
        T, cov = (None, None)
        if self.filter.initialized and self.status == TRACKING:
            T, cov = self.filter.pose_at(fs.t_ns)
        return TrackResult(
            index=fs.index,
            t_ns=fs.t_ns,
            status=self.status,
            T_world_head=T,
            covariance=cov,
            measured=sol,
            cameras_active=names,
            cameras_used=[]
            if sol is None
            else [self.rig.cameras[c].name for c in sol.cameras_used],
            n_points=0 if sol is None else sol.n_inliers,
            message=message,
            events=events,
            degraded=degraded,
        )

    def update_gyro(self, t_ns: int, omega: NDArray) -> None:
        """Feed one gyro sample to the pose filter (gyro integration between optical frames).

        Args:
            t_ns: Sample time on the frames' clock, ns. Samples should arrive in time order,
                interleaved with the frame sets they fall between.
            omega: (3,) angular rate in head axes, rad/s (bias included; the filter estimates
                it). Ignored while tracking is lost.
        """
        if self.status == TRACKING and self.filter.initialized:
            self.filter.update_gyro(t_ns, omega)

    def pose_at(self, when_ns: int) -> tuple[F64, F64] | None:
        """Filtered pose predicted to ``when_ns`` (e.g. a display time), or None while lost."""
        if self.status != TRACKING or not self.filter.initialized:
            return None
        return self.filter.pose_at(when_ns)


def result_row(r: TrackResult, truth: F64 | None = None) -> dict:
    """A flat dict for CSV/JSON output of one result (position m, quaternion x y z w)."""
    row: dict = {"index": r.index, "t_ns": r.t_ns, "status": r.status}
    if r.T_world_head is not None:
        q = tf.quat_from_matrix(r.T_world_head[:3, :3])
        row.update(zip(("px", "py", "pz"), r.T_world_head[:3, 3].tolist(), strict=True))
        row.update(zip(("qx", "qy", "qz", "qw"), q.tolist(), strict=True))
        sd = np.sqrt(np.maximum(np.diag(r.covariance), 0))
        row["sigma_pos_mm"] = float(np.linalg.norm(sd[:3]) * 1e3)
        row["sigma_rot_deg"] = float(np.degrees(np.linalg.norm(sd[3:])))
    if r.measured is not None:
        row["rms_px"] = r.measured.rms_px
    row["n_points"] = r.n_points
    row["cameras_active"] = " ".join(r.cameras_active)
    row["cameras_used"] = " ".join(r.cameras_used)
    row["message"] = r.message
    if r.degraded:
        row["degraded"] = "; ".join(r.degraded)
    if truth is not None and r.measured is not None:
        from vrkit.tracking.solve import pose_error

        dp, dr = pose_error(r.measured.T_world_head, truth)
        row["err_mm"] = dp * 1e3
        row["err_deg"] = float(np.degrees(dr))
    return row
