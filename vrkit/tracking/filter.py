"""Pose filter on SE(3): an error-state Kalman filter with constant velocity and optional gyro.

Nominal state: position ``p`` (world, m), velocity ``v`` (world, m/s), orientation ``R``
(``T_world_head`` rotation), angular velocity ``w`` (head/body axes, rad/s) and gyro bias ``b``
(rad/s). Error state (15,): ``(dp, dv, dth, dw, db)`` with ``R = exp([dth]x) R_hat`` (world axes,
the same convention as :mod:`vrkit.tracking.solve`'s covariance).

Motion model: white linear and angular acceleration (constant velocity / constant angular rate
between updates). Measurements: an optical pose with its (6, 6) covariance, and optionally a
gyro sample ``w + b`` (gyro integration corrected by the optical pose: the gyro drives the
orientation and angular rate, the camera pose removes drift and bias).

Time is a parameter: every call takes integer nanoseconds on one clock; nothing here reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.errors import InputError
from vrkit.math import transforms as tf

F64 = NDArray[np.float64]


@dataclass
class FilterConfig:
    """Noise settings.

    Attributes:
        accel_noise: Linear acceleration spectral density, m/s^2/sqrt(Hz) (how fast heads
            speed up).
        angular_accel_noise: Angular acceleration spectral density, rad/s^2/sqrt(Hz).
        gyro_noise: Gyro white noise per sample, rad/s (1 sigma).
        gyro_bias_walk: Gyro bias random walk, rad/s/sqrt(s).
        gate_sigma: Optical poses farther than this many sigma (Mahalanobis) reset the filter.
    """

    accel_noise: float = 4.0
    angular_accel_noise: float = 20.0
    gyro_noise: float = 0.005
    gyro_bias_walk: float = 1e-4
    gate_sigma: float = 12.0


class PoseFilter:
    """Error-state Kalman filter for a head pose.

    Args:
        config: Noise settings; defaults suit a head-mounted display.
    """

    def __init__(self, config: FilterConfig | None = None) -> None:
        self.config = config or FilterConfig()
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next optical pose initialises the filter."""
        self.t_ns: int | None = None
        self.p = np.zeros(3)
        self.v = np.zeros(3)
        self.R = np.eye(3)
        self.w = np.zeros(3)
        self.b = np.zeros(3)
        self.P = np.eye(15)
        self.resets = 0

    @property
    def initialized(self) -> bool:
        """True once an optical pose has been taken in."""
        return self.t_ns is not None

    def _F_Q(self, dt: float) -> tuple[F64, F64]:
        c = self.config
        F = np.eye(15)
        F[0:3, 3:6] = np.eye(3) * dt
        F[6:9, 9:12] = self.R * dt
        Q = np.zeros((15, 15))
        qa, qw = c.accel_noise**2, c.angular_accel_noise**2
        Q[0:3, 0:3] = np.eye(3) * qa * dt**3 / 3
        Q[0:3, 3:6] = Q[3:6, 0:3] = np.eye(3) * qa * dt**2 / 2
        Q[3:6, 3:6] = np.eye(3) * qa * dt
        Q[6:9, 6:9] = np.eye(3) * qw * dt**3 / 3
        Q[6:9, 9:12] = self.R * qw * dt**2 / 2
        Q[9:12, 6:9] = Q[6:9, 9:12].T
        Q[9:12, 9:12] = np.eye(3) * qw * dt
        Q[12:15, 12:15] = np.eye(3) * c.gyro_bias_walk**2 * dt
        return F, Q

    def predict(self, when_ns: int) -> None:
        """Advance the state to ``when_ns`` (no-op for times at or before the state's time)."""
        if self.t_ns is None or when_ns <= self.t_ns:
            return
        dt = (int(when_ns) - self.t_ns) * 1e-9
        F, Q = self._F_Q(dt)
        self.p = self.p + self.v * dt
        self.R = self.R @ tf.matrix_from_rotation_vector(self.w * dt)
        self.P = F @ self.P @ F.T + Q
        self.t_ns = int(when_ns)

    def _correct(self, y: F64, H: F64, Rm: F64) -> None:
        S = H @ self.P @ H.T + Rm
        K = np.linalg.solve(S, H @ self.P).T
        dx = K @ y
        self.p += dx[0:3]
        self.v += dx[3:6]
        self.R = tf.matrix_from_rotation_vector(dx[6:9]) @ self.R
        self.w += dx[9:12]
        self.b += dx[12:15]
        I_KH = np.eye(15) - K @ H
        self.P = I_KH @ self.P @ I_KH.T + K @ Rm @ K.T

    def update_pose(self, t_ns: int, T_world_head: ArrayLike, covariance: ArrayLike) -> bool:
        """Take in an optical pose measured at ``t_ns``.

        Args:
            t_ns: Exposure time of the frames the pose comes from, ns.
            T_world_head: (4, 4) measured pose.
            covariance: (6, 6) covariance of ``(dt, dr)`` as returned by the solver.

        Returns:
            False when the measurement failed the gate and the filter was re-initialised on it.
        """
        T = tf.as_array(T_world_head, (4, 4), "T_world_head")
        C = tf.as_array(covariance, (6, 6), "covariance")
        if self.t_ns is None:
            self._init(t_ns, T, C)
            return True
        self.predict(t_ns)
        y = np.concatenate(
            [T[:3, 3] - self.p, tf.rotation_vector_from_matrix(T[:3, :3] @ self.R.T)]
        )
        H = np.zeros((6, 15))
        H[0:3, 0:3] = np.eye(3)
        H[3:6, 6:9] = np.eye(3)
        S = H @ self.P @ H.T + C
        d2 = float(y @ np.linalg.solve(S, y))
        if d2 > self.config.gate_sigma**2:
            self._init(max(t_ns, self.t_ns), T, C, keep_bias=True)
            self.resets += 1
            return False
        self._correct(y, H, C)
        return True

    def update_gyro(self, t_ns: int, omega: ArrayLike) -> None:
        """Take in one gyro sample (body axes, rad/s) measured at ``t_ns``.

        Gyro samples that arrive before the first optical pose are ignored.
        """
        if self.t_ns is None:
            return
        z = tf.as_array(omega, (3,), "omega")
        self.predict(t_ns)
        H = np.zeros((3, 15))
        H[:, 9:12] = np.eye(3)
        H[:, 12:15] = np.eye(3)
        y = z - (self.w + self.b)
        self._correct(y, H, np.eye(3) * self.config.gyro_noise**2)

    def _init(self, t_ns: int, T: F64, C: F64, keep_bias: bool = False) -> None:
        b = self.b.copy()
        self.reset()
        if keep_bias:
            self.b = b
        self.t_ns = int(t_ns)
        self.p = T[:3, 3].copy()
        self.R = T[:3, :3].copy()
        self.P = np.diag([0.0] * 3 + [1.0] * 3 + [0.0] * 3 + [4.0] * 3 + [0.01**2] * 3)
        self.P[0:3, 0:3] = C[0:3, 0:3]
        self.P[6:9, 6:9] = C[3:6, 3:6]
        self.P[0:3, 6:9] = C[0:3, 3:6]
        self.P[6:9, 0:3] = C[3:6, 0:3]

    def pose_at(self, when_ns: int) -> tuple[F64, F64]:
        """Predict ``T_world_head`` at ``when_ns`` without changing the filter.

        Args:
            when_ns: Requested time (e.g. a display time), ns; may be before the state time.

        Returns:
            (4, 4) predicted pose and its (6, 6) covariance of ``(dt, dr)``.

        Raises:
            InputError: The filter has not been initialised by an optical pose yet.
        """
        if self.t_ns is None:
            raise InputError("the pose filter has no pose yet", "feed it an optical pose first")
        dt = (int(when_ns) - self.t_ns) * 1e-9
        T = tf.transform(self.R @ tf.matrix_from_rotation_vector(self.w * dt), self.p + self.v * dt)
        F, Q = self._F_Q(abs(dt))
        P = F @ self.P @ F.T + Q
        idx = [0, 1, 2, 6, 7, 8]
        return T, P[np.ix_(idx, idx)]

    def velocity(self) -> tuple[F64, F64]:
        """Linear velocity (world, m/s) and angular velocity (head axes, rad/s), each (3,)."""
        return self.v.copy(), self.w.copy()
