"""Space-time kriging of observations to targets, with all data or a local neighbourhood.

Neighbourhood as gstat ``krigeST(nmax=…)``: the ``buffer_nmax·nmax`` nearest observations in
the scaled space (x, y, stAni·t), of which the ``nmax`` with the largest covariance to the target.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.linalg.blas import dtrsm
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
    """Covariance matrix [len(a), len(b)] (points ``a`` all at one time, as a grid's rows: time lags [1, len(b)])."""
    lags = np.abs(a_t[:1, None] - b_t[None, :]) if np.all(a_t == a_t[0]) else np.abs(a_t[:, None] - b_t[None, :])
    return np.broadcast_to(model.covariance(cdist(a_xy, b_xy), lags), (a_t.size, b_t.size))


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
        self._growing = threading.Lock()  # batches on several threads may extend the table

    def matrices(self, neighbours_bk: np.ndarray) -> np.ndarray:
        """Covariance matrices [B, k, k] among the neighbours (indices into the data)."""
        s, ti = self.station[neighbours_bk], self.time_index[neighbours_bk]
        needed = int(ti.max(initial=0) - ti.min(initial=0)) + 1
        with self._growing:
            if needed > self.table.shape[2]:
                extra = [
                    self.model.covariance(self.distance, lag_index * self.step)
                    for lag_index in range(self.table.shape[2], needed)
                ]
                self.table = np.ascontiguousarray(np.concatenate([self.table, np.stack(extra, axis=-1)], axis=-1))
            table = self.table
        # one gather from the flat table: index (s_i·S + s_j)·L + |t_i − t_j|, built in place (int32 where it fits)
        lags, stations = table.shape[2], table.shape[0]
        dtype = np.int32 if table.size < 2**31 else np.int64
        s, ti = s.astype(dtype), ti.astype(dtype)
        flat = ti[:, :, None] - ti[:, None, :]
        np.abs(flat, out=flat)
        flat += (s * (stations * lags))[:, :, None]
        flat += (s * lags)[:, None, :]
        return table.ravel().take(flat)


def default_st_ani(model: SpaceTimeModel) -> float:
    """stAni of the model, else spatial range / temporal range (distance units per time unit)."""
    if model.stAni:
        return float(model.stAni)
    if model.is_spatial_only:
        return 1.0  # each time is kriged from its own observations: the time axis never separates neighbours
    return float(model.space.structure.range / model.time.structure.range)


DEFAULT_NMAX = 50  # neighbours per prediction unless asked otherwise


ALL_DATA = -1  # a request's nmax for kriging with all data (0 asks for the choice by cross-validation)


def requested_nmax(nmax: int | None) -> int | None:
    """A neighbourhood size as requests give it (−1 or None = all data, 0 = choose by cross-validation, else that
    many) as the engine takes it (None = all data; 0 is resolved by :func:`backend.kriging.workflow.model_for`)."""
    if nmax is None or int(nmax) == ALL_DATA:
        return None
    if int(nmax) < ALL_DATA or int(nmax) == 1:
        raise UserInputError(f"NMAX must be −1 (all data), 0 (choose by cross-validation) or at least 2, got {nmax}.")
    return int(nmax)


@dataclass
class KrigingOptions:
    """How to krige: ``nmax`` nearest observations in scaled space-time distance (None = all data), searched among
    ``buffer_nmax`` × nmax candidates; ``st_ani`` metres per time unit (None = from the model); ``mean`` a known mean
    (simple kriging; None = ordinary); ``device`` numpy or a torch device; ``batch_size`` targets per batch;
    ``threads`` batches solved at once (0 = all cores; 1 where the caller runs chunks in parallel itself)."""

    nmax: int | None = DEFAULT_NMAX
    buffer_nmax: float = 2.0
    st_ani: float | None = None  # neighbourhood scaling; default from the model
    mean: float | None = None  # simple kriging with this known mean; None = ordinary kriging
    device: str = "numpy"  # "numpy", or a torch device ("cpu", "cuda")
    batch_size: int = 2048
    threads: int = 0


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
    """Predictions and kriging variances (float64[m]) at the targets. A spatial-only model
    (:attr:`SpaceTimeModel.is_spatial_only`) kriges each target time from the observations at that time only (NaN
    where fewer than 2)."""
    options = options or KrigingOptions()
    reporter = reporter or Reporter()
    if data.t.size < 2:
        raise UserInputError("Kriging needs at least 2 observations.")
    if model.is_spatial_only:
        return _krige_each_time(data, targets, model, options, reporter)
    return _krige_systems(data, targets, model, options, reporter)


def _krige_each_time(data, targets, model, options, reporter) -> tuple[np.ndarray, np.ndarray]:
    m = targets.t.size
    predictions, variances = np.full(m, np.nan), np.full(m, np.nan)
    times, inverse = np.unique(targets.t, return_inverse=True)
    for i, t in enumerate(times):
        at = np.abs(data.t - t) <= 1e-9 * max(1.0, abs(t))
        if at.sum() < 2:
            continue
        rows = np.flatnonzero(inverse == i)
        same_time = SpaceTimePoints(
            data.xy[at], data.t[at], data.z[at], None if data.station is None else data.station[at]
        )
        predictions[rows], variances[rows] = _krige_systems(
            same_time, SpaceTimePoints(targets.xy[rows], targets.t[rows]), model, options, Reporter()
        )
        reporter.progress(100.0 * (i + 1) / times.size, f"time {i + 1} of {times.size}")
    return predictions, variances


def _krige_systems(data, targets, model, options, reporter) -> tuple[np.ndarray, np.ndarray]:
    n, m = data.t.size, targets.t.size
    if options.nmax is None or options.nmax >= n:
        system = _AllData(data, targets, model, options, reporter.warning)
    else:
        if int(options.nmax) < 2:
            raise UserInputError(f"nmax must be at least 2, got {options.nmax}.")
        system = _Neighbourhood(data, targets, model, options, reporter.warning)
    batches = [(start, min(m, start + options.batch_size)) for start in range(0, m, options.batch_size)]
    predictions, variances = np.empty(m), np.empty(m)
    with _batch_runner(options.threads if system.batches_in_threads else 1, len(batches)) as run:
        for (start, stop), (prediction, variance) in zip(batches, run(system.krige, batches)):
            predictions[start:stop], variances[start:stop] = prediction, variance
            reporter.progress(100.0 * stop / m, f"{stop} of {m} predictions")
    return predictions, variances


class _AllData:
    """Kriging from all observations: the n×n system factored once (Cholesky V = L·Lᵀ), then per batch of targets
    one triangular solve y = L⁻¹·v0, with v0ᵀV⁻¹v0 = |y|² and 1ᵀV⁻¹v0 = (L⁻¹1)ᵀy."""

    batches_in_threads = False  # BLAS trsm holds the GIL; its own threads solve each batch

    def __init__(self, data: SpaceTimePoints, targets: SpaceTimePoints, model: SpaceTimeModel, options, warn) -> None:
        n = data.t.size
        if n > GLOBAL_LIMIT:
            raise UserInputError(
                f"Kriging with all {n} observations needs a {n}×{n} system; set a neighbourhood "
                f"(nmax, e.g. 50) or use fewer than {GLOBAL_LIMIT} observations."
            )
        self.data, self.targets, self.model, self.options = data, targets, model, options
        self.c0 = model.total_sill
        v = covariance_between(model, data.xy, data.t, data.xy, data.t)
        try:
            self.lower = np.asfortranarray(cholesky(v, lower=True))
        except np.linalg.LinAlgError:
            warn("The kriging system is not positive definite; a jitter of 1e-9 × sill was added.")
            self.lower = np.asfortranarray(cholesky(v + 1e-9 * self.c0 * np.eye(n), lower=True))
        self.w = solve_triangular(self.lower, np.ones(n), lower=True)  # L⁻¹1
        self.denominator = float(self.w @ self.w)  # 1ᵀV⁻¹1
        u = solve_triangular(self.lower, data.z, lower=True)  # L⁻¹z
        self.beta = float(self.w @ u) / self.denominator if options.mean is None else float(options.mean)
        self.u = u - self.beta * self.w  # L⁻¹(z − β)

    def krige(self, rows: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Predictions and variances float64[stop − start] of targets ``rows`` = (start, stop)."""
        start, stop = rows
        data, targets = self.data, self.targets
        # v0 [n, b] in Fortran order (the transpose of the targets × data matrix) for BLAS trsm in place
        v0 = covariance_between(self.model, targets.xy[start:stop], targets.t[start:stop], data.xy, data.t).T
        y = dtrsm(1.0, self.lower, v0, lower=1, overwrite_b=1)  # L⁻¹v0 [n, b]
        prediction = self.beta + y.T @ self.u
        variance = self.c0 - np.einsum("ij,ij->j", y, y)
        if self.options.mean is None:
            q = 1.0 - self.w @ y
            variance += q * q / self.denominator
        return prediction, variance


class _Neighbourhood:
    """Kriging from the ``nmax`` observations of largest covariance among the ``buffer_nmax``·nmax nearest in scaled
    space-time (x, y, stAni·t), one batch of targets at a time (thread-safe: batches may run in parallel)."""

    batches_in_threads = True  # small solves release the GIL: one batch per thread, one BLAS thread each

    def __init__(self, data: SpaceTimePoints, targets: SpaceTimePoints, model: SpaceTimeModel, options, warn) -> None:
        self.data, self.targets, self.model, self.options, self.warn = data, targets, model, options, warn
        self.st_ani = options.st_ani or default_st_ani(model)
        self.tree = cKDTree(np.column_stack([data.xy, self.st_ani * data.t]))
        self.lookup = CovarianceLookup(model, data)
        self.nmax = int(options.nmax)
        self.k = min(data.t.size, max(self.nmax, math.ceil(options.buffer_nmax * self.nmax)))

    def krige(self, rows: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Predictions and variances float64[stop − start] of targets ``rows`` = (start, stop)."""
        data, model = self.data, self.model
        start, stop = rows
        target_xy, target_t = self.targets.xy[start:stop, None, :], self.targets.t[start:stop, None]
        query = np.column_stack([self.targets.xy[start:stop], self.st_ani * self.targets.t[start:stop]])
        _, candidates = self.tree.query(query, k=self.k)
        candidates = np.sort(candidates.reshape(stop - start, self.k), axis=1)
        v0 = _batched_cov(model, data.xy[candidates], data.t[candidates], target_xy, target_t)[:, :, 0]
        if self.k > self.nmax:  # keep the nmax of largest covariance, in the order of their data index
            best = np.sort(np.argsort(-v0, axis=1, kind="stable")[:, : self.nmax], axis=1)
            candidates, v0 = np.take_along_axis(candidates, best, axis=1), np.take_along_axis(v0, best, axis=1)
        if self.lookup.usable:
            v = self.lookup.matrices(candidates)
        else:
            xy, t = data.xy[candidates], data.t[candidates]
            v = _batched_cov(model, xy, t, xy, t)
        return krige_batch(
            v, v0, data.z[candidates], model.total_sill, self.options.mean, self.options.device, self.warn
        )


@contextmanager
def _batch_runner(threads: int, batches: int):
    """A ``map(function, items)`` that runs on ``threads`` threads (0 = all cores) with one BLAS thread each, in
    order; plain ``map`` for one thread or one batch."""
    from backend.scale.scheduler import local_cores

    threads = min(batches, threads or local_cores())
    if threads <= 1:
        yield map
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(threads) as pool:
        try:
            yield pool.map
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


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
    one_thread = dataclasses.replace(options, threads=1)  # the chunks run in parallel
    prediction, variance = krige(data, SpaceTimePoints(xy, np.full(xy.shape[0], t)), model, one_thread)
    return prediction.reshape(stop - start, width), variance.reshape(stop - start, width)
