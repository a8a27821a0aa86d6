"""Space-time kriging of observations to targets, with all data or a local neighbourhood.

Neighbourhood as gstat ``krigeST(nmax=…)``: the ``buffer_nmax·nmax`` nearest observations in
the scaled space (x, y, stAni·t), of which the ``nmax`` with the largest covariance to the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from backend.data.point_panel import PointPanel
from backend.data.time_step import calendar_months
from backend.errors import UserInputError
from backend.kriging.solver import krige_batch
from backend.kriging.st_models import SpaceTimeModel
from backend.progress import Reporter

GLOBAL_LIMIT = 6000  # observations above which kriging with all data is refused (n×n matrix)


@dataclass
class SpaceTimePoints:
    """Points in space-time, in model units: xy float64[n, 2], t float64[n]; z float64[n] for data."""

    xy: np.ndarray
    t: np.ndarray
    z: np.ndarray | None = None
    station: np.ndarray | None = None  # int[n], index into the panel's stations


def time_in_model_units(times: np.ndarray, origin: np.datetime64, model: SpaceTimeModel) -> np.ndarray:
    """float64[T]: times after ``origin`` in the model's time unit (calendar months for ``month``)."""
    if model.time_unit == "month":
        return calendar_months(times) - calendar_months(np.array([origin]))[0]
    seconds = (np.asarray(times, dtype="datetime64[s]") - origin).astype(np.int64).astype(np.float64)
    return seconds / model.time_scale()


def observations(panel: PointPanel, model: SpaceTimeModel, origin: np.datetime64) -> SpaceTimePoints:
    """The observed station-times of a panel, flattened, in model units."""
    station, step = np.nonzero(np.isfinite(panel.values))
    if station.size == 0:
        raise UserInputError("Every value is missing: there is nothing to krige from.")
    return SpaceTimePoints(
        panel.xy[station] / model.distance_scale(),
        time_in_model_units(panel.times[step], origin, model),
        panel.values[station, step].astype(np.float64),
        station,
    )


def covariance_between(model: SpaceTimeModel, a_xy, a_t, b_xy, b_t) -> np.ndarray:
    """Covariance matrix [len(a), len(b)]."""
    return model.covariance(cdist(a_xy, b_xy), np.abs(a_t[:, None] - b_t[None, :]))


def _batched_cov(model, xy_bk2, t_bk, xy2_bk2, t2_bk):
    h = np.sqrt(((xy_bk2[:, :, None, :] - xy2_bk2[:, None, :, :]) ** 2).sum(-1))
    return model.covariance(h, np.abs(t_bk[:, :, None] - t2_bk[:, None, :]))


class CovarianceLookup:
    """Covariances among observations tabulated by station pair and time-lag index.

    Station data sit on a station × regular-time lattice, so the neighbour-to-neighbour
    covariances are a gather from a table [S, S, lags] instead of fresh evaluations.
    """

    def __init__(self, model: SpaceTimeModel, data: SpaceTimePoints) -> None:
        self.model = model
        self.usable = data.station is not None and data.t.size > 1
        if not self.usable:
            return
        times = np.unique(data.t)
        self.step = float(np.diff(times).min()) if times.size > 1 else 1.0
        index = np.round((data.t - times[0]) / self.step)
        if not np.allclose(times[0] + index * self.step, data.t, rtol=0, atol=1e-9 * max(1.0, self.step)):
            self.usable = False
            return
        self.time_index = index.astype(np.int64)
        self.station = data.station.astype(np.int64)
        station_xy = np.zeros((int(self.station.max()) + 1, 2))
        station_xy[self.station] = data.xy
        self.distance = cdist(station_xy, station_xy)
        self.table = np.empty(self.distance.shape + (0,))

    def matrices(self, neighbours_bk: np.ndarray) -> np.ndarray:
        """Covariance matrices [B, k, k] among the neighbours (indices into the data)."""
        s, ti = self.station[neighbours_bk], self.time_index[neighbours_bk]
        lag = np.abs(ti[:, :, None] - ti[:, None, :])
        needed = int(lag.max()) + 1
        if needed > self.table.shape[2]:
            extra = [
                self.model.covariance(self.distance, lag_index * self.step)
                for lag_index in range(self.table.shape[2], needed)
            ]
            self.table = np.concatenate([self.table, np.stack(extra, axis=-1)], axis=-1)
        return self.table[s[:, :, None], s[:, None, :], lag]


def default_st_ani(model: SpaceTimeModel) -> float:
    """stAni of the model, else spatial range / temporal range (distance units per time unit)."""
    if model.stAni:
        return float(model.stAni)
    return float(model.space.structure.range / model.time.structure.range)


DEFAULT_NMAX = 50  # neighbours per prediction unless asked otherwise


def all_data_if_zero(nmax: int | None) -> int | None:
    """A neighbourhood size as requests give it (0 or None = all data) as the engine takes it (None = all)."""
    return int(nmax) if nmax else None


@dataclass
class KrigingOptions:
    """How to krige: ``nmax`` nearest observations in scaled space-time distance (None = all data), searched among
    ``buffer_nmax`` × nmax candidates; ``st_ani`` metres per time unit (None = from the model); ``mean`` a known mean
    (simple kriging; None = ordinary); ``device`` numpy or a torch device; ``batch_size`` targets per batch."""

    nmax: int | None = DEFAULT_NMAX
    buffer_nmax: float = 2.0
    st_ani: float | None = None  # neighbourhood scaling; default from the model
    mean: float | None = None  # simple kriging with this known mean; None = ordinary kriging
    device: str = "numpy"  # "numpy", or a torch device ("cpu", "cuda")
    batch_size: int = 2048


def kriging_work_bytes(n_observations: int, options: KrigingOptions) -> float:
    """Working memory of :func:`krige` besides its targets: one batch of neighbour systems, or the
    global n×n system (with a batch of covariances to the targets)."""
    if options.nmax is None or options.nmax >= n_observations:
        return 8.0 * n_observations * (2 * n_observations + 3 * options.batch_size)
    k = min(n_observations, max(options.nmax, math.ceil(options.buffer_nmax * options.nmax)))
    return 8.0 * options.batch_size * k * k * 4


def krige(
    data: SpaceTimePoints,
    targets: SpaceTimePoints,
    model: SpaceTimeModel,
    options: KrigingOptions | None = None,
    reporter: Reporter | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and kriging variances (float64[m]) at the targets."""
    options = options or KrigingOptions()
    reporter = reporter or Reporter()
    n, m = data.t.size, targets.t.size
    if n < 2:
        raise UserInputError("Kriging needs at least 2 observations.")
    c0 = model.total_sill
    if options.nmax is None or options.nmax >= n:
        return _krige_global(data, targets, model, c0, options, reporter)
    nmax = int(options.nmax)
    if nmax < 2:
        raise UserInputError(f"nmax must be at least 2, got {nmax}.")
    st_ani = options.st_ani or default_st_ani(model)
    tree = cKDTree(np.column_stack([data.xy, st_ani * data.t]))
    lookup = CovarianceLookup(model, data)
    k = min(n, max(nmax, math.ceil(options.buffer_nmax * nmax)))
    predictions, variances = np.empty(m), np.empty(m)
    for start in range(0, m, options.batch_size):
        stop = min(m, start + options.batch_size)
        query = np.column_stack([targets.xy[start:stop], st_ani * targets.t[start:stop]])
        _, candidates = tree.query(query, k=k)
        candidates = np.sort(candidates.reshape(stop - start, k), axis=1)
        if k > nmax:
            cov = _batched_cov(
                model,
                data.xy[candidates],
                data.t[candidates],
                targets.xy[start:stop, None, :],
                targets.t[start:stop, None],
            )[:, :, 0]
            best = np.argsort(-cov, axis=1, kind="stable")[:, :nmax]
            candidates = np.sort(np.take_along_axis(candidates, best, axis=1), axis=1)
        xy, t = data.xy[candidates], data.t[candidates]
        v = lookup.matrices(candidates) if lookup.usable else _batched_cov(model, xy, t, xy, t)
        v0 = _batched_cov(model, xy, t, targets.xy[start:stop, None, :], targets.t[start:stop, None])[:, :, 0]
        predictions[start:stop], variances[start:stop] = krige_batch(
            v, v0, data.z[candidates], c0, options.mean, options.device, reporter.warning
        )
        reporter.progress(100.0 * stop / m, f"{stop} of {m} predictions")
    return predictions, variances


def _krige_global(data, targets, model, c0, options, reporter):
    n = data.t.size
    if n > GLOBAL_LIMIT:
        raise UserInputError(
            f"Kriging with all {n} observations needs a {n}×{n} system; set a neighbourhood "
            f"(nmax, e.g. 50) or use fewer than {GLOBAL_LIMIT} observations."
        )
    v = covariance_between(model, data.xy, data.t, data.xy, data.t)
    try:
        factor = cho_factor(v, lower=True)
    except np.linalg.LinAlgError:
        reporter.warning("The kriging system is not positive definite; a jitter of 1e-9 × sill was added.")
        factor = cho_factor(v + 1e-9 * c0 * np.eye(n), lower=True)
    ones = np.ones(n)
    b = cho_solve(factor, ones)
    denominator = float(ones @ b)
    beta = float(b @ data.z) / denominator if options.mean is None else float(options.mean)
    residual = cho_solve(factor, data.z - beta)
    m = targets.t.size
    predictions, variances = np.empty(m), np.empty(m)
    for start in range(0, m, options.batch_size):
        stop = min(m, start + options.batch_size)
        v0 = covariance_between(model, data.xy, data.t, targets.xy[start:stop], targets.t[start:stop])
        a = cho_solve(factor, v0)
        predictions[start:stop] = beta + v0.T @ residual
        variance = c0 - (v0 * a).sum(axis=0)
        if options.mean is None:
            q = 1.0 - a.sum(axis=0)
            variance += q * q / denominator
        variances[start:stop] = variance
        reporter.progress(100.0 * stop / m, f"{stop} of {m} predictions")
    return predictions, variances


def krige_grid_rows(
    data: SpaceTimePoints,
    model: SpaceTimeModel,
    options: KrigingOptions,
    transform,
    width: int,
    rows: tuple[int, int],
    t: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and variances float64[h, w] at the cell centres of grid rows ``rows`` (start, stop) of a
    ``width``-column grid with affine ``transform`` (data CRS, metres), at time ``t`` (model units): one chunk of
    a gridded prediction."""
    start, stop = rows
    cols, rows_index = np.meshgrid(np.arange(width) + 0.5, np.arange(start, stop) + 0.5)
    x, y = transform * (cols.ravel(), rows_index.ravel())
    xy = np.column_stack([x, y]) / model.distance_scale()
    prediction, variance = krige(data, SpaceTimePoints(xy, np.full(xy.shape[0], t)), model, options)
    return prediction.reshape(stop - start, width), variance.reshape(stop - start, width)
