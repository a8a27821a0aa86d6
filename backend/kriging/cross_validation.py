"""Leave-one-station-out cross-validation of space-time kriging, and a pure spatial per-time baseline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from backend.data.point_panel import PointPanel
from backend.data.time_parsing import format_time
from backend.kriging.basic_models import BasicVariogram
from backend.kriging.kriging import KrigingOptions, SpaceTimePoints, krige, observations
from backend.kriging.solver import krige_batch
from backend.kriging.st_models import SpaceTimeModel
from backend.progress import Reporter


@dataclass
class CrossValidation:
    """residuals: one row per observation; per_station: metrics per station; metrics: overall."""

    residuals: pd.DataFrame
    per_station: pd.DataFrame
    metrics: dict[str, float]


def error_metrics(observed: np.ndarray, predicted: np.ndarray, variance: np.ndarray | None = None) -> dict[str, float]:
    ok = np.isfinite(observed) & np.isfinite(predicted)
    o, p = observed[ok], predicted[ok]
    residual = p - o
    metrics = {
        "n": int(ok.sum()),
        "rmse": float(np.sqrt(np.mean(residual**2))) if ok.any() else np.nan,
        "mae": float(np.mean(np.abs(residual))) if ok.any() else np.nan,
        "bias": float(np.mean(residual)) if ok.any() else np.nan,
        "cor": float(np.corrcoef(o, p)[0, 1]) if ok.sum() > 2 and np.std(o) > 0 and np.std(p) > 0 else np.nan,
    }
    if variance is not None and ok.any():
        z = residual / np.sqrt(np.maximum(variance[ok], 1e-300))
        metrics["mean_z2"] = float(np.mean(z**2))  # ≈ 1 when the kriging variance is well calibrated
    return metrics


def _summarize(panel: PointPanel, station: np.ndarray, step: np.ndarray, observed, predicted, variance):
    residuals = pd.DataFrame(
        {
            "station_id": panel.ids[station],
            "time": [format_time(t) for t in panel.times[step]],
            "observed": observed,
            "predicted": predicted,
            "variance": variance,
            "residual": predicted - observed,
        }
    )
    rows = []
    for i, station_id in enumerate(panel.ids):
        mine = station == i
        rows.append({"station_id": station_id, **error_metrics(observed[mine], predicted[mine], variance[mine])})
    return CrossValidation(residuals, pd.DataFrame(rows), error_metrics(observed, predicted, variance))


def leave_one_station_out(
    panel: PointPanel,
    model: SpaceTimeModel,
    options: KrigingOptions,
    reporter: Reporter | None = None,
    steps: np.ndarray | None = None,
) -> CrossValidation:
    """Predict every observation of each station from the other stations only (only those at time indices
    ``steps`` when given: a sample for ranking models; the data are always all the other stations' observations)."""
    reporter = reporter or Reporter()
    origin = panel.times[0]
    data = observations(panel, model, origin)
    station_of, step_of = np.nonzero(np.isfinite(panel.values))
    predicted, variance = np.full(data.t.size, np.nan), np.full(data.t.size, np.nan)
    scored = np.ones(data.t.size, bool) if steps is None else np.isin(step_of, steps)
    for i in range(panel.n_stations):
        mine = (data.station == i) & scored
        if not mine.any():
            continue
        others = ~mine
        train = SpaceTimePoints(data.xy[others], data.t[others], data.z[others], data.station[others])
        target = SpaceTimePoints(data.xy[mine], data.t[mine])
        predicted[mine], variance[mine] = krige(train, target, model, options)
        reporter.progress(100.0 * (i + 1) / panel.n_stations, f"station {panel.ids[i]}")
    return _summarize(panel, station_of[scored], step_of[scored], data.z[scored], predicted[scored], variance[scored])


def spatial_leave_one_station_out(
    panel: PointPanel,
    variogram: BasicVariogram,
    nmax: int | None = None,
    distance_scale: float = 1.0,
    reporter: Reporter | None = None,
    steps: np.ndarray | None = None,
) -> CrossValidation:
    """Baseline: ordinary kriging of each time step from that step's other stations only (pure spatial); only the
    time indices ``steps`` when given."""
    reporter = reporter or Reporter()
    station_of, step_of = np.nonzero(np.isfinite(panel.values))
    predicted = np.full(station_of.size, np.nan)
    variance = np.full(station_of.size, np.nan)
    order = {(s, t): k for k, (s, t) in enumerate(zip(station_of, step_of))}
    xy = panel.xy / distance_scale
    distance = cdist(xy, xy)
    c0 = variogram.sill
    for t in range(panel.times.size) if steps is None else steps:
        present = np.flatnonzero(np.isfinite(panel.values[:, t]))
        if present.size < 3:
            continue
        m = present.size
        neighbours = np.array([np.delete(present, j) for j in range(m)])  # [m, m-1]
        if nmax is not None and nmax < m - 1:
            nearest = np.argsort(distance[present[:, None], neighbours], axis=1, kind="stable")[:, :nmax]
            neighbours = np.sort(np.take_along_axis(neighbours, nearest, axis=1), axis=1)
        v = variogram.covariance(distance[neighbours[:, :, None], neighbours[:, None, :]])
        v0 = variogram.covariance(distance[neighbours, present[:, None]])
        pred, var = krige_batch(v, v0, panel.values[neighbours, t].astype(np.float64), c0)
        for j, s in enumerate(present):
            predicted[order[(s, t)]], variance[order[(s, t)]] = pred[j], var[j]
        if t % 20 == 0:
            reporter.progress(100.0 * (t + 1) / panel.times.size, f"time step {t + 1}")
    observed = panel.values[station_of, step_of].astype(np.float64)
    scored = np.ones(station_of.size, bool) if steps is None else np.isin(step_of, steps)
    return _summarize(panel, station_of[scored], step_of[scored], observed[scored], predicted[scored], variance[scored])


def cross_validate(
    panel: PointPanel,
    model: SpaceTimeModel,
    options: KrigingOptions,
    reporter: Reporter | None = None,
    steps: np.ndarray | None = None,
) -> CrossValidation:
    """Leave-one-station-out CV of ``model``: per time step for a spatial-only model, else in space-time."""
    if model.is_spatial_only:
        return spatial_leave_one_station_out(
            panel, model.space_variogram(), options.nmax, model.distance_scale(), reporter, steps
        )
    return leave_one_station_out(panel, model, options, reporter, steps)


def spatial_baseline(panel: PointPanel, nmax: int | None, reporter: Reporter | None = None):
    """(spatial variogram, :class:`CrossValidation`) of pure spatial kriging per time step, the baseline of
    space-time kriging: a metric variogram fitted to the time-lag-0 bins up to a third of the largest distance."""
    spatial = fit_spatial_variogram(panel)
    return spatial, spatial_leave_one_station_out(panel, spatial, nmax, reporter=reporter)


def fit_spatial_variogram(panel: PointPanel, cutoff: float | None = None, width: float | None = None):
    """The spatial variogram (:class:`BasicVariogram`, metres) of pure spatial kriging per time step: a metric model
    fitted to the time-lag-0 bins (default cutoff a third of the largest distance, 15 bins)."""
    from scipy.spatial.distance import pdist

    from backend.kriging.fitting import fit_model, initial_model
    from backend.kriging.sample_variogram import sample_variogram

    regular, step = panel.on_regular_axis()
    cutoff = cutoff or float(pdist(panel.xy).max()) / 3.0
    sample = sample_variogram(regular, cutoff, width or cutoff / 15.0, 0, step.nominal_seconds)
    return fit_model(sample, initial_model("metric", sample), 6).model.joint
