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

import numpy as np
from scipy.stats import norm

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


def gi_star_grid(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Gi* z float[T, H, W] of raster cells with a binary kernel (same formula as :func:`gi_star`; no-data cells
    are neither scored nor counted as neighbours)."""
    from scipy.ndimage import convolve

    x = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x)
    xz = np.where(ok, x, 0.0)
    out = np.full(x.shape, np.nan)
    for t in range(x.shape[0]):
        n = ok[t].sum()
        if n < 3:
            continue
        mean = xz[t].sum() / n
        s = np.sqrt((xz[t] ** 2).sum() / n - mean**2)
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
