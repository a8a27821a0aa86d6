"""Space-time local outliers: Anselin's Local Moran's I per location and time step, with a permutation pseudo
p-value, FDR per step, the cluster/outlier type per step and each location's summary over time (as ArcGIS Pro's
Local Outlier Analysis).

Per step t, the values of the observed locations are standardised, z = (y − mean) / sd (population sd), and
Iᵢ = (n − 1) / Σz² · zᵢ · lagᵢ with lagᵢ the mean z of i's neighbours: its spatial neighbours at step t and, with
``time_steps`` k > 0, i itself and its spatial neighbours at the k previous steps (each standardised within its
own step). With k = 0 this is PySAL esda's ``Moran_Local`` of each step (row-standardised binary weights).
The pseudo p-value is esda's folded one: conditional randomisation, i's neighbours drawn at random from the
other locations of the step, p = (min(#{I* ≥ Iᵢ}, P − #{I* ≥ Iᵢ}) + 1) / (P + 1); the Benjamini–Hochberg FDR
within each step uses it when P is large enough for its resolution (raised up to :data:`MAX_PERMUTATIONS`), else
esda's p_z_sim (the normal p-value of I against the permutations' mean and deviation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from backend.diagnostics.hotspots import fdr_adjust
from backend.errors import UserInputError
from backend.progress import Reporter

TYPES = ("not significant", "high-high cluster", "low-low cluster", "high-low outlier", "low-high outlier")
SUMMARIES = (
    "never significant",
    "only high-high cluster",
    "only low-low cluster",
    "only high-low outlier",
    "only low-high outlier",
    "multiple types",
)
MAX_PERMUTATIONS = 9_999  # raised up to this for the FDR's resolution (see _permutations_for_fdr)
CELLS_PER_PERMUTATION_BATCH = 4096  # locations whose P random lags are drawn at once (P × 4096 float64)


@dataclass
class LocalOutliers:
    """Per step and location float64[T, N]: ``local_i``, ``z`` (standardised value), ``lag`` (mean z of the
    neighbours), ``p`` (pseudo p-value), ``p_fdr`` (Benjamini–Hochberg within the step), ``category`` int8[T, N]
    (index into :data:`TYPES`; −1 = not observed); per location: ``summary`` int8[N] (index into
    :data:`SUMMARIES`, −1 = never observed) and ``counts`` int32[N, 4] (steps of each significant type)."""

    local_i: np.ndarray
    z: np.ndarray
    lag: np.ndarray
    p: np.ndarray
    p_z: np.ndarray
    p_fdr: np.ndarray
    category: np.ndarray
    summary: np.ndarray
    counts: np.ndarray


def point_neighbour_sums(weights: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Sums over each location's neighbours of x float[T, N] for binary ``weights`` [N, N] (self-links ignored)."""
    w = np.array(weights, dtype=np.float64)
    np.fill_diagonal(w, 0.0)
    return lambda x: x @ w.T


def grid_neighbour_sums(kernel: np.ndarray, height: int, width: int) -> Callable[[np.ndarray], np.ndarray]:
    """Sums over each cell's neighbours (binary ``kernel`` float[2r+1, 2r+1] without its centre) of x float[T, H·W]
    on an ``height`` × ``width`` grid (cells outside the grid count as absent)."""
    from scipy.ndimage import correlate

    k = np.array(kernel, dtype=np.float64)
    k[k.shape[0] // 2, k.shape[1] // 2] = 0.0
    footprint = np.zeros((1,) + k.shape)
    footprint[0] = k

    def sums(x: np.ndarray) -> np.ndarray:
        grid = x.reshape(x.shape[0], height, width)
        return correlate(grid, footprint, mode="constant", cval=0.0).reshape(x.shape)

    return sums


def check_settings(time_steps: int, permutations: int, alpha: float) -> None:
    if time_steps < 0:
        raise UserInputError("TIME_STEPS (previous steps in the neighbourhood) must be 0 or more.")
    if permutations < 99:
        raise UserInputError("Use at least 99 permutations (999 by default) for pseudo p-values.")
    if not 0 < alpha < 0.5:
        raise UserInputError("ALPHA must be between 0 and 0.5 (e.g. 0.05).")


def local_outliers(
    values: np.ndarray,
    neighbour_sums: Callable[[np.ndarray], np.ndarray],
    time_steps: int = 1,
    permutations: int = 999,
    alpha: float = 0.05,
    seed: int = 0,
    reporter: Reporter | None = None,
) -> LocalOutliers:
    """Local Moran's I of ``values`` float[T, N] (NaN = not observed) with the spatial neighbourhood
    ``neighbour_sums`` (:func:`point_neighbour_sums` or :func:`grid_neighbour_sums`) and ``time_steps`` previous
    steps; ``permutations`` draws per location and step (random generator ``seed``); FDR at ``alpha`` per step."""
    reporter = reporter or Reporter()
    check_settings(time_steps, permutations, alpha)
    values = np.asarray(values, dtype=np.float64)
    t_count, n = values.shape
    observed = np.isfinite(values)
    count = observed.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(values, axis=1) / np.maximum(count, 1)
        centred = np.where(observed, values - mean[:, None], 0.0)
        sd = np.sqrt((centred**2).sum(axis=1) / np.maximum(count, 1))
        z = np.where(observed & (sd[:, None] > 0), centred / np.where(sd > 0, sd, 1.0)[:, None], 0.0)
    present = observed.astype(np.float64)
    spatial_total, spatial_count = neighbour_sums(z), neighbour_sums(present)
    total, neighbours = spatial_total.copy(), spatial_count.copy()
    for k in range(1, time_steps + 1):  # i itself and its neighbours k steps before
        total[k:] += z[:-k] + spatial_total[:-k]
        neighbours[k:] += present[:-k] + spatial_count[:-k]
    with np.errstate(invalid="ignore", divide="ignore"):
        lag = np.where(neighbours > 0, total / np.where(neighbours > 0, neighbours, 1.0), 0.0)
        scale = np.where(count > 1, (count - 1) / np.maximum((z**2).sum(axis=1), 1e-300), 0.0)
    local_i = scale[:, None] * z * lag
    permutations, tested = _permutations_for_fdr(permutations, int(count.max(initial=0)), alpha, reporter)
    rng = np.random.default_rng(seed)
    p, p_z = np.full((t_count, n), np.nan), np.full((t_count, n), np.nan)
    for t in range(t_count):
        p[t], p_z[t] = _pseudo_p(
            z[t], observed[t], neighbours[t].astype(np.int64), local_i[t], scale[t], permutations, rng
        )
        reporter.progress(100.0 * (t + 1) / t_count, f"step {t + 1} of {t_count}")
    usable = observed & (count[:, None] > 2)
    p, p_z = np.where(usable, p, np.nan), np.where(usable, p_z, np.nan)
    p_fdr = fdr_adjust(p if tested == "p_sim" else p_z, axis=1)
    significant = usable & (p_fdr <= alpha)
    high, high_lag = z > 0, lag > 0
    category = np.where(high, np.where(high_lag, 1, 3), np.where(high_lag, 4, 2))
    category = np.where(significant, category, 0)
    category = np.where(observed, category, -1).astype(np.int8)
    counts = np.stack([(category == c).sum(axis=0) for c in range(1, 5)], axis=1).astype(np.int32)
    kinds = (counts > 0).sum(axis=1)
    summary = np.where(kinds == 0, 0, np.where(kinds == 1, 1 + np.argmax(counts > 0, axis=1), 5))
    summary = np.where(observed.any(axis=0), summary, -1).astype(np.int8)
    nan = ~observed
    return LocalOutliers(
        np.where(nan, np.nan, local_i),
        np.where(nan, np.nan, z),
        np.where(nan, np.nan, lag),
        p,
        p_z,
        p_fdr,
        category,
        summary,
        counts,
    )


def _permutations_for_fdr(requested: int, locations: int, alpha: float, reporter: Reporter) -> tuple[int, str]:
    """(permutations, p-value the FDR uses): the smallest pseudo p-value, 1/(P + 1), must pass the FDR threshold
    of the most extreme of ``locations`` (α / m), so P is raised to 2m/α − 1 where that stays within
    :data:`MAX_PERMUTATIONS`; beyond, the FDR uses esda's p_z_sim (normal p of I against the permutations)."""
    needed = int(np.ceil(2 * locations / alpha)) - 1
    if needed <= requested:
        return requested, "p_sim"
    if needed <= MAX_PERMUTATIONS:
        reporter.log(
            f"{requested} permutations give pseudo p-values no smaller than {1 / (requested + 1):.2g}, too coarse for "
            f"the FDR over {locations} locations at {alpha:g}; {needed} are used."
        )
        return needed, "p_sim"
    reporter.log(
        f"Pseudo p-values of {requested} permutations cannot pass the FDR over {locations} locations at {alpha:g}; "
        "the FDR uses the normal p-value of each I against its permutations' mean and deviation (esda p_z_sim)."
    )
    return requested, "p_z_sim"


def _pseudo_p(z, observed, neighbours, local_i, scale, permutations, rng) -> np.ndarray:
    """esda's folded pseudo p-values of one step float64[N] (``p_sim``) and the normal p-values of I's z-score
    against the permutations' mean and deviation (``p_z_sim``): for each observed location i, ``permutations``
    random sets of its neighbour count drawn without replacement from the step's other observed locations."""
    from scipy.stats import norm

    out, out_z = np.full(z.size, np.nan), np.full(z.size, np.nan)
    ids = np.flatnonzero(observed)
    n = ids.size
    if n < 3:
        return out, out_z
    pool = z[ids]
    k = np.minimum(neighbours[ids], n - 1)
    k_max = int(k.max(initial=0))
    if k_max == 0:
        return out, out_z
    draws = np.stack([rng.choice(n, k_max + 1, replace=False) for _ in range(permutations)])  # positions in pool
    sums = np.concatenate([np.zeros((permutations, 1)), np.cumsum(pool[draws], axis=1)], axis=1)
    for start in range(0, n, CELLS_PER_PERMUTATION_BATCH):
        stop = min(n, start + CELLS_PER_PERMUTATION_BATCH)
        own = np.arange(start, stop)
        kk = k[start:stop]
        # where i is among its first k draws, the (k+1)-th draw takes its place
        hit = (draws[:, None, :k_max] == own[None, :, None]) & (np.arange(k_max) < kk[:, None])[None]
        taken = np.where(hit.any(axis=2), kk + 1, kk)  # draws used [P, b]
        drawn = np.take_along_axis(sums, taken, axis=1) - np.where(hit.any(axis=2), pool[own][None, :], 0.0)
        lag = np.where(kk > 0, drawn / np.maximum(kk, 1), 0.0)
        random_i = scale * pool[own][None, :] * lag
        observed_i = local_i[ids[start:stop]]
        larger = (random_i >= observed_i[None, :]).sum(axis=0)
        larger = np.where(permutations - larger < larger, permutations - larger, larger)
        out[ids[start:stop]] = np.where(kk > 0, (larger + 1.0) / (permutations + 1.0), np.nan)
        spread = random_i.std(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z_sim = (observed_i - random_i.mean(axis=0)) / np.where(spread > 0, spread, np.nan)
        out_z[ids[start:stop]] = np.where(kk > 0, norm.sf(np.abs(z_sim)), np.nan)
    return out, out_z
