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

from collections import deque
from collections.abc import Callable, Iterable, Iterator
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
class StepOutliers:
    """One step's statistic per location float64[N] (NaN = not observed): ``local_i``, ``z`` (standardised value),
    ``lag`` (mean z of the neighbours), ``p`` (pseudo p-value), ``p_z`` (esda's p_z_sim), ``p_fdr``
    (Benjamini–Hochberg within the step); ``category`` int8[N] (index into :data:`TYPES`; −1 = not observed)."""

    local_i: np.ndarray
    z: np.ndarray
    lag: np.ndarray
    p: np.ndarray
    p_z: np.ndarray
    p_fdr: np.ndarray
    category: np.ndarray


@dataclass
class OutlierTally:
    """Each location's types over the steps seen so far: ``counts`` int32[N, 4] (steps of each significant type),
    ``last`` int8[N] (the latest observed category, −1 = none), ``seen`` bool[N] (observed at some step), and
    ``per_step`` int[T, 4] (locations of each significant type per step)."""

    counts: np.ndarray
    last: np.ndarray
    seen: np.ndarray
    per_step: list

    @classmethod
    def empty(cls, locations: int) -> OutlierTally:
        return cls(np.zeros((locations, 4), np.int32), np.full(locations, -1, np.int8), np.zeros(locations, bool), [])

    def add(self, step: StepOutliers) -> None:
        for c in range(1, 5):
            self.counts[:, c - 1] += step.category == c
        observed = step.category >= 0
        self.last[observed] = step.category[observed]
        self.seen |= observed
        self.per_step.append(np.array([(step.category == c).sum() for c in range(1, 5)]))

    @property
    def summary(self) -> np.ndarray:
        """int8[N]: index into :data:`SUMMARIES` (−1 = never observed)."""
        kinds = (self.counts > 0).sum(axis=1)
        summary = np.where(kinds == 0, 0, np.where(kinds == 1, 1 + np.argmax(self.counts > 0, axis=1), 5))
        return np.where(self.seen, summary, -1).astype(np.int8)


@dataclass
class LocalOutliers(StepOutliers):
    """Per step and location [T, N]: the fields of :class:`StepOutliers` stacked over the steps; per location:
    ``summary`` int8[N] (index into :data:`SUMMARIES`, −1 = never observed), ``tally`` (counts of each type, the
    latest type)."""

    tally: OutlierTally

    @property
    def summary(self) -> np.ndarray:
        return self.tally.summary

    @property
    def counts(self) -> np.ndarray:
        return self.tally.counts


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
    values = np.asarray(values, dtype=np.float64)
    t_count, n = values.shape
    most_observed = int(np.isfinite(values).sum(axis=1).max(initial=0))
    tally = OutlierTally.empty(n)
    steps = []
    for step in outlier_steps(
        values, neighbour_sums, time_steps, permutations, alpha, seed, most_observed, reporter, t_count
    ):
        tally.add(step)
        steps.append(step)
    fields = ("local_i", "z", "lag", "p", "p_z", "p_fdr")
    stacked = {f: np.stack([getattr(s, f) for s in steps]) if steps else np.zeros((0, n)) for f in fields}
    category = np.stack([s.category for s in steps]) if steps else np.zeros((0, n), np.int8)
    return LocalOutliers(**stacked, category=category, tally=tally)


def outlier_steps(
    steps: Iterable[np.ndarray],
    neighbour_sums: Callable[[np.ndarray], np.ndarray],
    time_steps: int,
    permutations: int,
    alpha: float,
    seed: int,
    most_observed: int,
    reporter: Reporter | None = None,
    step_count: int = 0,
) -> Iterator[StepOutliers]:
    """Local Moran's I step by step: for each step's values float[N] (NaN = not observed) in time order, its
    :class:`StepOutliers`; only the last ``time_steps`` steps are kept, so a stack of any length streams through.
    ``most_observed``: the most locations observed at one step (sets the permutations the FDR needs);
    ``step_count``: the steps to come, for progress."""
    reporter = reporter or Reporter()
    check_settings(time_steps, permutations, alpha)
    permutations, tested = _permutations_for_fdr(permutations, most_observed, alpha, reporter)
    rng = np.random.default_rng(seed)
    previous: deque = deque(maxlen=time_steps)  # (z, present, spatial sums of both) of the steps before, latest first
    for t, y in enumerate(steps):
        y = np.asarray(y, dtype=np.float64)
        observed = np.isfinite(y)
        count = int(observed.sum())
        mean = np.nansum(y) / max(count, 1)
        centred = np.where(observed, y - mean, 0.0)
        sd = np.sqrt((centred**2).sum() / max(count, 1))
        z = np.where(observed, centred / sd, 0.0) if sd > 0 else np.zeros_like(y)
        present = observed.astype(np.float64)
        spatial_total, spatial_count = neighbour_sums(z[None])[0], neighbour_sums(present[None])[0]
        total, neighbours = spatial_total.copy(), spatial_count.copy()
        for z_before, present_before, total_before, count_before in previous:  # i itself and its neighbours
            total += z_before + total_before
            neighbours += present_before + count_before
        previous.appendleft((z, present, spatial_total, spatial_count))
        with np.errstate(invalid="ignore", divide="ignore"):
            lag = np.where(neighbours > 0, total / np.where(neighbours > 0, neighbours, 1.0), 0.0)
        scale = (count - 1) / max(float((z**2).sum()), 1e-300) if count > 1 else 0.0
        local_i = scale * z * lag
        p, p_z = _pseudo_p(z, observed, neighbours.astype(np.int64), local_i, scale, permutations, rng)
        usable = observed & (count > 2)
        p, p_z = np.where(usable, p, np.nan), np.where(usable, p_z, np.nan)
        p_fdr = fdr_adjust((p if tested == "p_sim" else p_z)[None], axis=1)[0]
        significant = usable & (p_fdr <= alpha)
        high, high_lag = z > 0, lag > 0
        category = np.where(high, np.where(high_lag, 1, 3), np.where(high_lag, 4, 2))
        category = np.where(significant, category, 0)
        category = np.where(observed, category, -1).astype(np.int8)
        nan = ~observed
        yield StepOutliers(
            np.where(nan, np.nan, local_i),
            np.where(nan, np.nan, z),
            np.where(nan, np.nan, lag),
            p,
            p_z,
            p_fdr,
            category,
        )
        if step_count:
            reporter.progress(100.0 * (t + 1) / step_count, f"step {t + 1} of {step_count}")


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
