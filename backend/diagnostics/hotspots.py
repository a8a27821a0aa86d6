"""Getis-Ord Gi* per time step, Benjamini–Hochberg FDR, and emerging hot spot categories.

Gi* (Getis & Ord 1992; Ord & Getis 1995) with binary weights that include the location itself:
    Gi* = (Σ_j w_ij x_j − x̄ W_i) / (S √((n Σ_j w_ij² − W_i²) / (n − 1))),  W_i = Σ_j w_ij,
x̄ and S (population standard deviation) over the n locations observed at that time step; locations without a
value at a step get NaN. This is the z-score ``Zs`` of PySAL ``esda.G_Local(star=True)`` with binary weights.

Emerging hot spot categories follow the published ArcGIS Pro definitions ("How Emerging Hot Spot Analysis works"),
evaluated on each location's series of significant hot (z > 0, FDR-adjusted p < α) and cold steps, and the
Mann-Kendall trend of its Gi* z series (see ``categorise``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from backend.data.distances import station_distances
from backend.data.point_panel import PointPanel
from backend.data.units import readable_length
from backend.errors import UserInputError

CATEGORIES = [
    "no pattern",
    "new hot spot",
    "consecutive hot spot",
    "intensifying hot spot",
    "persistent hot spot",
    "diminishing hot spot",
    "sporadic hot spot",
    "oscillating hot spot",
    "historical hot spot",
    "new cold spot",
    "consecutive cold spot",
    "intensifying cold spot",
    "persistent cold spot",
    "diminishing cold spot",
    "sporadic cold spot",
    "oscillating cold spot",
    "historical cold spot",
]
CODE = {name: i for i, name in enumerate(CATEGORIES)}


def gi_star(values: np.ndarray, weights) -> np.ndarray:
    """Gi* z-scores float[T, N] for values float[T, N] and binary weights [N, N] (dense or scipy sparse, with
    self-links)."""
    x = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x)
    xz = np.where(ok, x, 0.0)
    n = ok.sum(axis=1, keepdims=True).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = xz.sum(axis=1, keepdims=True) / n
        s = np.sqrt((xz**2).sum(axis=1, keepdims=True) / n - mean**2)
        w_sum = (weights @ ok.T.astype(np.float64)).T  # Σ_j w_ij over observed j, per step
        w_sq = (weights.multiply(weights) if hasattr(weights, "multiply") else weights**2) @ ok.T.astype(np.float64)
        lag = (weights @ xz.T).T
        z = (lag - mean * w_sum) / (s * np.sqrt((n * w_sq.T - w_sum**2) / (n - 1)))
    return np.where(ok & np.isfinite(z), z, np.nan)


def p_two_sided(z: np.ndarray) -> np.ndarray:
    return 2 * norm.sf(np.abs(z))


def fdr_adjust(p: np.ndarray, axis: int = 1) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values along ``axis`` (NaN ignored), vectorised."""
    p = np.moveaxis(np.asarray(p, dtype=np.float64), axis, -1)
    order = np.argsort(np.where(np.isfinite(p), p, np.inf), axis=-1)
    ranked = np.take_along_axis(p, order, -1)
    m = np.isfinite(p).sum(axis=-1, keepdims=True)
    rank = np.arange(1, p.shape[-1] + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = ranked * m / rank
    scaled = np.where(np.isfinite(scaled), scaled, np.inf)
    adjusted = np.minimum.accumulate(scaled[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, np.minimum(adjusted, 1.0), -1)
    return np.moveaxis(np.where(np.isfinite(p), out, np.nan), -1, axis)


def categorise(
    hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray, alpha: float = 0.05
) -> np.ndarray:
    """Category code per location from bool hot/cold [T, N] (significant) and the MK trend of Gi* z.

    Rules, for hot spots (cold spots mirror them with the trend sign reversed), with f = share of steps hot:
    - new: hot at the last step only, never before;
    - consecutive: an uninterrupted run of ≥ 2 hot steps ending at the last step, never hot before the run, f < 90 %;
    - intensifying / diminishing: f ≥ 90 % and hot at the last step, significant increasing / decreasing trend;
    - historical: not hot at the last step, f ≥ 90 %;
    - persistent: f ≥ 90 % (hot at the last step, else historical), no significant trend;
    - oscillating: hot at the last step, f < 90 %, cold at some earlier step;
    - sporadic: hot at the last step, f < 90 %, hot before (on-again off-again), never cold;
    - otherwise no pattern. The rules are tried in this order; hot rules before cold ones.
    """
    t, n = hot.shape
    codes = np.zeros(n, dtype=np.int64)
    for kind, mine, other, sign in (("hot", hot, cold, 1.0), ("cold", cold, hot, -1.0)):
        share = mine.sum(axis=0) / t
        last = mine[-1]
        before_last = mine[:-1].any(axis=0)
        run = _run_length_at_end(mine)
        before_run = np.array([mine[: t - r, j].any() if r < t else False for j, r in enumerate(run)])
        rising = (sign * trend_z > 0) & (trend_p < alpha)
        falling = (sign * trend_z < 0) & (trend_p < alpha)
        mostly = share >= 0.9
        rules = [
            (last & ~before_last, "new"),
            (last & (run >= 2) & ~before_run & ~mostly, "consecutive"),
            (last & mostly & rising, "intensifying"),
            (last & mostly & falling, "diminishing"),
            (~last & mostly, "historical"),
            (mostly & ~rising & ~falling, "persistent"),
            (last & ~mostly & other[:-1].any(axis=0), "oscillating"),
            (last & ~mostly & ~other.any(axis=0), "sporadic"),
        ]
        undecided = codes == 0
        for condition, name in rules:
            chosen = undecided & condition
            codes[chosen] = CODE[f"{name} {kind} spot"]
            undecided &= ~chosen
    return codes


def _run_length_at_end(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True ending at the last step, per column."""
    reversed_flags = flags[::-1]
    broken = ~reversed_flags
    first_false = np.where(broken.any(axis=0), np.argmax(broken, axis=0), flags.shape[0])
    return first_false


def grid_kernel(kind: str, radius_cells: float = 1.0) -> np.ndarray:
    """Binary neighbourhood of a cell, itself included: queen (3×3), rook (cross) or a disc of ``radius_cells``."""
    if kind == "queen":
        return np.ones((3, 3))
    if kind == "rook":
        return np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=float)
    r = max(1, int(np.floor(radius_cells)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (np.hypot(yy, xx) <= radius_cells + 1e-9).astype(float)


@dataclass(frozen=True)
class StepMoments:
    """Per time step over all locations: ``count``, ``total`` and ``squares`` (sums of x and x²) of the observed
    values, float64[T] each; chunks' moments add up to the whole grid's."""

    count: np.ndarray
    total: np.ndarray
    squares: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> StepMoments:
        """Moments of float[T, ...] (NaN = not observed)."""
        x = np.asarray(values, dtype=np.float64).reshape(values.shape[0], -1)
        ok = np.isfinite(x)
        xz = np.where(ok, x, 0.0)
        return cls(ok.sum(axis=1).astype(np.float64), xz.sum(axis=1), (xz**2).sum(axis=1))

    def __add__(self, other: StepMoments) -> StepMoments:
        return StepMoments(self.count + other.count, self.total + other.total, self.squares + other.squares)

    def mean_and_sd(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population standard deviation per step (NaN where nothing was observed)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.total / self.count
            return mean, np.sqrt(self.squares / self.count - mean**2)


def gi_star_grid(values: np.ndarray, kernel: np.ndarray, moments: StepMoments | None = None) -> np.ndarray:
    """Gi* z float[T, H, W] of raster cells with a binary kernel (same formula as :func:`gi_star`; no-data cells
    are neither scored nor counted as neighbours). ``moments``: those of the whole grid when ``values`` is a part
    of it (with a halo of the kernel's radius, whose cells get meaningless z); default those of ``values``."""
    from scipy.ndimage import convolve

    x = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x)
    xz = np.where(ok, x, 0.0)
    moments = moments or StepMoments.of(x)
    means, sds = moments.mean_and_sd()
    out = np.full(x.shape, np.nan)
    for t in range(x.shape[0]):
        n, mean, s = moments.count[t], means[t], sds[t]
        if n < 3:
            continue
        lag = convolve(xz[t], kernel, mode="constant")
        w_sum = convolve(ok[t].astype(np.float64), kernel, mode="constant")
        w_sq = convolve(ok[t].astype(np.float64), kernel**2, mode="constant")
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (lag - mean * w_sum) / (s * np.sqrt((n * w_sq - w_sum**2) / (n - 1)))
        out[t] = np.where(ok[t] & np.isfinite(z), z, np.nan)
    return out


def point_weights(distances: np.ndarray, kind: str, distance: float = 0.0, k: int = 8):
    """Binary weights [N, N] with self-links: a distance band (0 = the smallest band giving every location a
    neighbour) or the k nearest (made symmetric). Returns (weights, band used in metres or None)."""
    n = distances.shape[0]
    off = np.where(np.eye(n, dtype=bool), np.inf, distances)
    if kind == "knn":
        order = np.argsort(off, axis=1)[:, : min(k, n - 1)]
        w = np.zeros((n, n))
        w[np.repeat(np.arange(n), order.shape[1]), order.ravel()] = 1.0
        w = np.maximum(w, w.T)
        np.fill_diagonal(w, 1.0)
        return w, None
    band = distance if distance > 0 else float(off.min(axis=1).max())
    w = (distances <= band).astype(float)
    np.fill_diagonal(w, 1.0)
    return w, band


@dataclass
class HotSpotSeries:
    """Gi* z-scores float64[T, N] of N locations (points, or raster cells row by row) with their values
    float64[T, N], the neighbourhood used (``kind``) and, for a point distance band, its width in metres."""

    z: np.ndarray
    values: np.ndarray
    kind: str
    band: float | None = None


def raster_kernel(cell_size: float, neighbourhood: str, distance: float) -> tuple[str, np.ndarray]:
    """(kind, binary kernel float[2r+1, 2r+1]) of a raster neighbourhood: queen, rook or distance_band of
    ``distance`` map units (auto = queen)."""
    kind = "queen" if neighbourhood in ("auto", "") else neighbourhood
    if kind not in ("queen", "rook", "distance_band"):
        raise UserInputError(f"Raster neighbourhoods are queen, rook or distance_band, not {kind!r}.")
    radius = distance / cell_size if kind == "distance_band" else 1.0
    if kind == "distance_band" and radius < 1:
        raise UserInputError(
            f"The distance band ({distance:g}) is smaller than one cell ({cell_size:g}); use a larger DISTANCE."
        )
    return kind, grid_kernel(kind, radius)


def raster_hot_spot_series(values: np.ndarray, cell_size: float, neighbourhood: str, distance: float) -> HotSpotSeries:
    """Gi* of every cell of float64[T, H, W] held in memory (see :func:`raster_kernel`; the emerging hot spots
    command works chunk by chunk: :mod:`backend.diagnostics.hotspot_chunks`)."""
    kind, kernel = raster_kernel(cell_size, neighbourhood, distance)
    z = gi_star_grid(values, kernel).reshape(values.shape[0], -1)
    return HotSpotSeries(z, values.reshape(values.shape[0], -1), kind)


def point_neighbourhood(
    panel: PointPanel, neighbourhood: str, distance: float, k: int, reporter, what: str = "Hot spot analysis"
) -> tuple[np.ndarray, str, float | None]:
    """(binary weights [N, N] with self-links, kind, distance band in metres or None) of the panel's stations
    (ellipsoidal distances for geographic layers; ``neighbourhood`` distance_band of ``distance`` metres, 0 = the
    smallest band giving every station a neighbour, or knn with ``k``); isolated stations are warned about."""
    n = panel.n_stations
    if n < 3:
        raise UserInputError(f"{what} needs at least 3 locations; the layer has {n}.")
    distances = station_distances(panel.xy, panel.crs)
    kind = "distance_band" if neighbourhood in ("auto", "") else neighbourhood
    if kind not in ("distance_band", "knn"):
        raise UserInputError(f"Point neighbourhoods are distance_band or knn, not {kind!r}.")
    weights, band = point_weights(distances, kind, distance, k)
    isolated = int((weights.sum(axis=1) <= 1).sum())
    if isolated:
        reporter.warning(
            f"{isolated} of {n} locations have no neighbour within the distance band ({readable_length(band)}); "
            "they are compared with no neighbour. Use a larger DISTANCE or knn."
        )
    if band is not None:
        reporter.log(f"Distance band: {readable_length(band)} (ellipsoidal distances for geographic layers).")
    return weights, kind, band


def point_hot_spot_series(panel: PointPanel, neighbourhood: str, distance: float, k: int, reporter) -> HotSpotSeries:
    """Gi* of the panel's N stations in the neighbourhood of :func:`point_neighbourhood`."""
    weights, kind, band = point_neighbourhood(panel, neighbourhood, distance, k, reporter)
    values = panel.values.T.astype(np.float64)
    return HotSpotSeries(gi_star(values, weights), values, kind, band)


@dataclass
class EmergingHotSpots:
    """Per location: ``columns`` (category, category_code, trend_z, trend_p, hot_steps, cold_steps, last_z);
    ``hot``/``cold`` bool[T, N] significant steps; ``observed`` bool[N]; ``counts`` locations per category."""

    columns: dict[str, np.ndarray]
    hot: np.ndarray
    cold: np.ndarray
    observed: np.ndarray
    counts: pd.Series


def check_emerging_settings(steps: int, alpha: float) -> None:
    if not 0 < alpha < 0.5:
        raise UserInputError("The significance level must be between 0 and 0.5.")
    if steps < 4:
        raise UserInputError(
            f"{steps} time steps after aggregation: emerging hot spots need at least 4 "
            "(the trend test needs them). Use a shorter TIME_STEP."
        )


def emerging_hot_spots(series: HotSpotSeries, alpha: float) -> EmergingHotSpots:
    """FDR-adjusted significance of each step's Gi* z, the Mann-Kendall trend of each location's z and the
    emerging hot spot category (see :func:`categorise`); at least 4 time steps."""
    z = series.z
    check_emerging_settings(z.shape[0], alpha)
    significant = fdr_adjust(p_two_sided(z), axis=1) < alpha
    return classify_locations(z, significant, series.values, alpha)


def fdr_threshold(p: np.ndarray, alpha: float) -> float:
    """The largest p-value of float[N] (NaN ignored) whose Benjamini–Hochberg adjusted p-value is below ``alpha``
    (−1 when none is): ``p <= fdr_threshold(p, alpha)`` equals ``fdr_adjust(p) < alpha`` (alpha < 1)."""
    ranked = np.sort(p[np.isfinite(p)])
    m = ranked.size
    with np.errstate(invalid="ignore", divide="ignore"):
        below = np.flatnonzero(ranked * m / np.arange(1, m + 1) < alpha)
    return float(ranked[below[-1]]) if below.size else -1.0


def classify_locations(z: np.ndarray, significant: np.ndarray, values: np.ndarray, alpha: float) -> EmergingHotSpots:
    """Categories of N locations from their Gi* z float[T, N], significant steps bool[T, N] and values float[T, N]
    (see :class:`EmergingHotSpots`)."""
    from backend.diagnostics.trend import mann_kendall

    hot, cold = significant & (z > 0), significant & (z < 0)
    trend = mann_kendall(z, hamed_rao=False)
    codes = categorise(hot, cold, trend.z, trend.p, alpha)
    observed = np.isfinite(values).any(axis=0)
    columns = {
        "category": np.array(CATEGORIES)[codes],
        "category_code": codes.astype(np.int32),
        "trend_z": trend.z,
        "trend_p": trend.p,
        "hot_steps": hot.sum(axis=0).astype(np.int32),
        "cold_steps": cold.sum(axis=0).astype(np.int32),
        "last_z": z[-1],
    }
    counts = pd.Series(columns["category"][observed]).value_counts()
    return EmergingHotSpots(columns, hot, cold, observed, counts)
