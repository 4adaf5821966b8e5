"""When a lens fit is acceptable: one rule, used by the CLI, the JSON report and the heat map.

A fit can look good on the features it kept while the model is wrong where it rejected them
(a radial model on an OpenHMD-style lens rejects the whole central disc and keeps a small RMS on
the rest). So the verdict looks at every detected feature:

1. **RMS** of the kept features <= ``max_rms_arcmin`` (5 arcmin by default).
2. **Rejected fraction** <= ``max_rejected_fraction`` (5 %): a model that has to drop more than
   a few percent of the features to fit them does not describe the lens.
3. **No rejection cluster**: the field is cut into ``cell_deg`` x ``cell_deg`` cells of field
   angle (horizontal, vertical degrees from the lens axis); a cell with at least 3 rejections
   that are at least ``cluster_cell_fraction`` (25 %) of its features is marked, and touching
   marked cells form a region. A wrong model leaves *coherent* residuals (neighbouring features
   miss the same way); measurement noise (dim, vignetted dots in the far corners) leaves
   incoherent ones. Per cell, coherence = length of the mean residual vector / RMS residual
   length (about ``1/sqrt(n)`` for noise, near 1 for a model error). A region with rejections
   of at least ``max(cluster_min_features, 1 %)`` of the features is judged: with a mean cell
   coherence of ``min_coherence`` (0.5) or more and rejections of at least
   ``cluster_min_fraction`` (2 %) of the features it is "model does not fit here" and fails the
   fit (a smaller coherent one just counts towards condition 2); an incoherent one is a *noisy
   region* (counted, located, drawn) whose rejections do not count against condition 2.
   Scattered bad detections (a few clipped dots in the corners) form neither.

The residual statistics reported beside the verdict are over *all* detected features
(``rms_all_arcmin``, ``max_arcmin``) and over the kept ones (``rms_arcmin``,
``max_kept_arcmin``); the rejection cut-off is reported as such, never as a maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class AcceptanceRule:
    """Thresholds of the acceptance rule (module docstring).

    Attributes:
        max_rms_arcmin: Largest RMS residual of the kept features, arcmin.
        max_rejected_fraction: Largest fraction of features rejected as outliers.
        cell_deg: Side of a field cell, degrees.
        cluster_cell_fraction: Rejected fraction that marks a cell.
        cluster_min_features: Fewest rejections in a region that make it a cluster (or
            ``cluster_min_fraction`` of the features, whichever is more).
        cluster_min_fraction: Fraction of all features a region's rejections must reach.
        min_coherence: Mean cell coherence from which a cluster is a model error.
    """

    max_rms_arcmin: float = 5.0
    max_rejected_fraction: float = 0.05
    cell_deg: float = 10.0
    cluster_cell_fraction: float = 0.25
    cluster_min_features: int = 10
    cluster_min_fraction: float = 0.02
    min_coherence: float = 0.5

    def describe(self) -> str:
        """One line stating the rule."""
        return (
            f"acceptable when RMS of kept features <= {self.max_rms_arcmin:g} arcmin, at most "
            f"{100 * self.max_rejected_fraction:g} % of features rejected, and no region of "
            f"{self.cell_deg:g}-degree field cells with >= "
            f"{100 * self.cluster_cell_fraction:g} % rejected"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self.__dict__, "text": self.describe()}


DEFAULT_RULE = AcceptanceRule()


@dataclass
class RejectionCluster:
    """A region of the field where the fit rejected many features.

    Attributes:
        centre_deg: (2,) mean field angle (horizontal, vertical) of its rejections, degrees.
        radius_deg: (2,) smallest and largest angle from the axis of its rejections, degrees.
        box_deg: ``(x0, x1, y0, y1)`` bounds of its cells, degrees.
        n_rejected: Rejected features in the region.
        n_features: Features in the region.
        coherence: Mean cell coherence of the residual vectors (NaN: not known).
        model_error: True when coherent (or coherence unknown): the model does not fit here.
    """

    centre_deg: tuple[float, float]
    radius_deg: tuple[float, float]
    box_deg: tuple[float, float, float, float]
    n_rejected: int
    n_features: int
    coherence: float = float("nan")
    model_error: bool = True

    def text(self) -> str:
        """One line."""
        where = (
            f"{self.n_rejected} of {self.n_features} features rejected around field "
            f"({self.centre_deg[0]:+.0f}, {self.centre_deg[1]:+.0f}) deg, "
            f"{self.radius_deg[0]:.0f}-{self.radius_deg[1]:.0f} deg from the axis"
        )
        if self.model_error:
            return f"model does not fit here: {where}"
        return (
            f"noisy region: {where}, residuals incoherent (coherence {self.coherence:.2f}): "
            "measurement noise, not the model"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self.__dict__, "text": self.text()}


@dataclass
class Verdict:
    """Whether a fit is acceptable and why.

    Attributes:
        acceptable: All three conditions hold.
        reasons: One line per failed condition (empty when acceptable).
        clusters: Rejection clusters found.
        rule: The rule applied.
    """

    acceptable: bool
    reasons: list[str]
    clusters: list[RejectionCluster] = field(default_factory=list)
    rule: AcceptanceRule = DEFAULT_RULE

    def summary(self) -> str:
        """``"acceptable"`` or ``"NOT acceptable: reason; reason"``."""
        if self.acceptable:
            return "acceptable"
        return "NOT acceptable: " + "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "acceptable": self.acceptable,
            "reasons": list(self.reasons),
            "clusters": [c.to_dict() for c in self.clusters],
            "rule": self.rule.to_dict(),
        }


def rejection_clusters(
    field_deg: NDArray[np.float64],
    rejected: NDArray[np.bool_],
    rule: AcceptanceRule = DEFAULT_RULE,
    residual_vec: NDArray[np.float64] | None = None,
) -> list[RejectionCluster]:
    """Regions of the field where rejections concentrate (module docstring, condition 3).

    Args:
        field_deg: (N, 2) field angles (horizontal, vertical) of the features, degrees.
        rejected: (N,) bool, features the fit rejected.
        rule: Thresholds.
        residual_vec: (N, D) residual vectors for the coherence test (None: every cluster is
            taken as a model error).

    Returns:
        The clusters, most rejections first.
    """
    from scipy import ndimage

    n = len(field_deg)
    if n == 0 or not rejected.any():
        return []
    ok = np.all(np.isfinite(field_deg), axis=1)
    cell = np.floor(np.where(ok[:, None], field_deg, 0.0) / rule.cell_deg).astype(np.int64)
    lo = cell.min(axis=0)
    idx = cell - lo
    shape = tuple(int(v) + 1 for v in idx.max(axis=0))
    total = np.zeros(shape, np.int64)
    rej = np.zeros(shape, np.int64)
    np.add.at(total, (idx[ok, 0], idx[ok, 1]), 1)
    np.add.at(rej, (idx[ok & rejected, 0], idx[ok & rejected, 1]), 1)
    marked = (rej >= 3) & (rej >= rule.cluster_cell_fraction * np.maximum(total, 1))
    labels, n_regions = ndimage.label(marked, structure=np.ones((3, 3)))
    # Regions from 1 % of the features are looked at; an incoherent one is a noisy region, a
    # coherent one a model error once it holds cluster_min_fraction of the features.
    need = max(rule.cluster_min_features, int(np.ceil(0.01 * n)))
    need_error = max(rule.cluster_min_features, int(np.ceil(rule.cluster_min_fraction * n)))
    out = []
    lab_of = np.where(ok, labels[idx[:, 0], idx[:, 1]], 0)
    cell_of = idx[:, 0] * shape[1] + idx[:, 1]
    for k in range(1, n_regions + 1):
        in_region = lab_of == k
        r_in = in_region & rejected
        if int(r_in.sum()) < need:
            continue
        coherence = float("nan")
        if residual_vec is not None:
            vals = []
            for cid in np.unique(cell_of[in_region]):
                v = residual_vec[in_region & (cell_of == cid)]
                rms = float(np.sqrt(np.mean(np.sum(v**2, axis=1))))
                if len(v) >= 3 and rms > 0:
                    vals.append(float(np.linalg.norm(v.mean(axis=0))) / rms)
            coherence = float(np.mean(vals)) if vals else float("nan")
        coherent = not coherence < rule.min_coherence
        if coherent and int(r_in.sum()) < need_error:
            continue  # its rejections count against condition 2
        cells = np.argwhere(labels == k) + lo
        f = field_deg[r_in]
        rad = np.degrees(np.arctan(np.hypot(*np.tan(np.radians(f)).T)))
        out.append(
            RejectionCluster(
                (float(f[:, 0].mean()), float(f[:, 1].mean())),
                (float(rad.min()), float(rad.max())),
                (
                    float(cells[:, 0].min() * rule.cell_deg),
                    float((cells[:, 0].max() + 1) * rule.cell_deg),
                    float(cells[:, 1].min() * rule.cell_deg),
                    float((cells[:, 1].max() + 1) * rule.cell_deg),
                ),
                int(r_in.sum()),
                int(in_region.sum()),
                coherence,
                coherent,
            )
        )
    out.sort(key=lambda c: -c.n_rejected)
    return out


def assess(
    residual_arcmin: NDArray[np.float64],
    kept: NDArray[np.bool_],
    field_deg: NDArray[np.float64],
    rule: AcceptanceRule = DEFAULT_RULE,
    residual_vec: NDArray[np.float64] | None = None,
) -> Verdict:
    """Apply the acceptance rule to one fit's residuals.

    Args:
        residual_arcmin: (N,) residual of every detected feature, arcmin.
        kept: (N,) bool, features the fit kept.
        field_deg: (N, 2) field angles of the features, degrees.
        rule: Thresholds.
        residual_vec: (N, D) residual vectors (coherence test), or None.

    Returns:
        The verdict (``clusters`` holds the noisy regions too, with ``model_error`` False).
    """
    n = len(residual_arcmin)
    reasons = []
    r = residual_arcmin[kept]
    rms = float(np.sqrt(np.mean(r**2))) if len(r) else float("inf")
    if not rms <= rule.max_rms_arcmin:
        reasons.append(f"RMS {rms:.2f} arcmin > {rule.max_rms_arcmin:g}")
    clusters = rejection_clusters(field_deg, ~kept, rule, residual_vec)
    n_rej = int(n - kept.sum())
    n_noisy = sum(c.n_rejected for c in clusters if not c.model_error)
    frac = (n_rej - n_noisy) / max(n, 1)
    if frac > rule.max_rejected_fraction:
        besides = f", {n_noisy} more in noisy regions" if n_noisy else ""
        reasons.append(
            f"{n_rej - n_noisy} of {n} features rejected ({100 * frac:.1f} % > "
            f"{100 * rule.max_rejected_fraction:g} %{besides})"
        )
    reasons += [c.text() for c in clusters if c.model_error]
    return Verdict(not reasons, reasons, clusters, rule)
