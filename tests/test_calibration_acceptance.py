"""The acceptance rule: a wrong model cannot look good by rejecting where it does not fit."""

from __future__ import annotations

import json

import numpy as np

from vrkit.calibration.acceptance import AcceptanceRule, assess, rejection_clusters
from vrkit.cli import main


def _field(n: int = 3000, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-60, 60, size=(n, 2))


def test_scattered_rejections_are_not_a_cluster_but_a_disc_is():
    field = _field()
    rng = np.random.default_rng(4)
    res = np.abs(rng.normal(0, 0.3, len(field)))
    # 20 scattered bad detections, 0.7 %: acceptable, no cluster.
    scattered = np.zeros(len(field), bool)
    scattered[rng.choice(len(field), 20, replace=False)] = True
    v = assess(np.where(scattered, 9.0, res), ~scattered, field)
    assert v.acceptable and v.clusters == [] and v.reasons == []
    # The central disc of 13 degrees rejected: 4 % of the features, under the fraction limit,
    # but clustered: not acceptable, and located.
    disc = np.hypot(*field.T) < 13
    assert 0.03 < disc.mean() < 0.05
    v = assess(np.where(disc, 4.0, res), ~disc, field)
    assert not v.acceptable
    (cl,) = v.clusters
    assert abs(cl.centre_deg[0]) < 3 and abs(cl.centre_deg[1]) < 3
    assert cl.radius_deg[1] < 13 and 0.7 * disc.sum() < cl.n_rejected <= disc.sum()
    assert v.reasons == [cl.text()]
    assert cl.text().startswith(f"model does not fit here: {cl.n_rejected} of ")
    # Too many rejections anywhere fail rule 2 on their own.
    many = rng.random(len(field)) < 0.08
    v = assess(res, ~many, field, AcceptanceRule(cluster_cell_fraction=1.0))
    pct = 100 * many.mean()
    assert v.reasons == [f"{many.sum()} of 3000 features rejected ({pct:.1f} % > 5 %)"]
    assert rejection_clusters(field, np.zeros(len(field), bool)) == []


def test_coherent_residuals_are_a_model_error_incoherent_ones_are_noise():
    field = _field()
    rng = np.random.default_rng(5)
    disc = np.hypot(*field.T) < 13
    # A model error: residuals in the disc all point outwards by ~4 arcmin.
    radial = np.concatenate(
        [field / np.maximum(np.hypot(*field.T), 1e-9)[:, None], np.zeros((len(field), 1))], axis=1
    )
    vec = 4.0 * radial + rng.normal(0, 0.3, (len(field), 3))
    v = assess(np.linalg.norm(vec, axis=1), ~disc, field, residual_vec=vec)
    (cl,) = v.clusters
    assert cl.model_error and cl.coherence > 0.8 and not v.acceptable
    # Noise: dim corner features scatter in every direction; rejected but not the model.
    corner = (np.abs(field[:, 0]) > 40) & (np.abs(field[:, 1]) > 40)
    vec = rng.normal(0, 0.3, (len(field), 3))
    vec[corner] = rng.normal(0, 3.0, (corner.sum(), 3))
    res = np.linalg.norm(vec, axis=1)
    kept = res <= 3.0
    assert (~kept).mean() > 0.05  # more than the fraction rule allows, all in the corners
    v = assess(res, kept, field, residual_vec=vec)
    assert v.clusters and all(not c.model_error and c.coherence < 0.5 for c in v.clusters)
    assert v.acceptable, v.reasons
    assert v.clusters[0].text().startswith("noisy region: ")


def test_issue_case_radial_on_an_openhmd_lens_is_flagged(tmp_path, capsys):
    """`vrkit calibrate bench --truth openhmd --model openhmd,radial` (issue 17)."""
    out = tmp_path / "bench"
    argv = ["calibrate", "bench", "--truth", "openhmd", "--model", "openhmd,radial"]
    code = main([*argv, "--eye", "left", "--out", str(out)])  # one eye: its files in OUT
    text = capsys.readouterr().out
    assert code == 0
    bench = json.loads((out / "bench.json").read_text())
    radial, right = bench["models"]["radial"], bench["models"]["openhmd"]
    # The wrong model: never acceptable, the rejected central disc is named.
    assert radial["acceptable"] is False
    reasons = radial["verdict"]["reasons"]
    assert any(r.startswith("model does not fit here") for r in reasons), reasons
    (cl, *_) = radial["verdict"]["clusters"]
    assert cl["radius_deg"][0] < 10 and np.hypot(*cl["centre_deg"]) < 5
    # Its maximum is over all features, so it shows the true error (4.6 arcmin), not the cut-off.
    assert radial["max_arcmin"] > radial["model_error_max_arcmin"] > radial["cutoff_arcmin"]
    # The right model: acceptable; its reported max is not the rejection cut-off.
    assert right["acceptable"] is True, right["verdict"]
    assert right["max_arcmin"] > right["max_kept_arcmin"]
    assert right["max_arcmin"] != right["cutoff_arcmin"]
    assert right["n_rejected"] / right["n_features"] < 0.01
    # The same rule in the JSON comparison and on the terminal.
    rows = {r["model"]: r for r in bench["comparison"]}
    assert rows["openhmd"]["recommended"] and not rows["radial"]["recommended"]
    assert rows["radial"]["why"] == "; ".join(reasons)
    assert "NOT acceptable: " + "; ".join(reasons) in text
    assert (out / "heatmap_radial.png").stat().st_size > 10_000
