"""Emerging hot spots of a raster stack chunk by chunk, equal to the in-memory engine (:mod:`.hotspots`).

Three passes over the chunks, each on the run's scheduler:
1. the per-step moments (count, Σx, Σx²) of every chunk, added up: Gi*'s x̄ and S of the whole grid per step;
2. Gi* z of every chunk, read with a halo of the kernel's radius so that cells at a chunk's edge see their
   neighbours in the next chunk; the caller keeps the z of all cells on disk and derives per step the
   Benjamini–Hochberg threshold of the whole grid (:func:`.hotspots.fdr_threshold`);
3. z again (the same function of the same inputs), significance by those thresholds, the Mann-Kendall trend of
   each cell's z and its category — the output bands of the chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.diagnostics.hotspots import CATEGORIES, StepMoments, classify_locations, gi_star_grid, p_two_sided
from backend.diagnostics.sources import StackAxis

RASTER_BANDS = ("category_code", "trend_z", "trend_p", "hot_steps", "cold_steps")
# Peak working memory of a chunk (tracemalloc, 62×62 cells of 744 hourly bands, as they are and as 31 daily means),
# with a margin: per cell and band read (the values, their float64 copy on the regular axis, the aggregation);
# per cell and series step (z, p, flags, the trend test's pairs); a fixed part for the batched pairs.
BYTES_PER_BAND = 16
BYTES_PER_STEP = 80
WORK_BYTES_PER_CHUNK = 32 * 2**20


@dataclass(frozen=True)
class GridHotSpotPlan:
    """What every chunk needs: the stack's series axis, the binary kernel float[2r+1, 2r+1], and once known the
    whole grid's ``moments`` (pass 2 on) and per-step significance ``thresholds`` float64[T] (pass 3)."""

    axis: StackAxis
    kernel: np.ndarray
    alpha: float = 0.05
    moments: StepMoments | None = None
    thresholds: np.ndarray | None = None

    @property
    def halo(self) -> int:
        return self.kernel.shape[0] // 2


@dataclass
class ChunkHotSpots:
    """Pass 3's result for a chunk of h×w cells: ``bands`` float32[5, h, w] (:data:`RASTER_BANDS`, NaN where a
    cell has no value), significant ``hot``/``cold`` cells per step int64[T] and locations per category."""

    bands: np.ndarray
    hot: np.ndarray
    cold: np.ndarray
    counts: dict[str, int]


def chunk_moments(values: np.ndarray, plan: GridHotSpotPlan) -> StepMoments:
    """Pass 1: moments of a chunk float32[T_bands, h, w] on the series axis."""
    return StepMoments.of(plan.axis.cells(values))


def chunk_z(values: np.ndarray, inner: tuple[tuple[int, int], tuple[int, int]], plan: GridHotSpotPlan) -> np.ndarray:
    """Pass 2: Gi* z float64[T, h, w] of the chunk ``values[:, rows, cols]`` (``inner``) of a chunk read with its
    halo float32[T_bands, h + halos, w + halos]."""
    return _z_and_series(values, inner, plan)[0]


def chunk_hot_spots(
    values: np.ndarray, inner: tuple[tuple[int, int], tuple[int, int]], plan: GridHotSpotPlan
) -> ChunkHotSpots:
    """Pass 3: the output bands of the chunk (see :func:`chunk_z` for the arguments)."""
    z, series = _z_and_series(values, inner, plan)
    steps, h, w = z.shape
    flat_z = z.reshape(steps, -1)
    with np.errstate(invalid="ignore"):
        significant = p_two_sided(flat_z) <= plan.thresholds[:, None]
    result = classify_locations(flat_z, significant, series.reshape(steps, -1), plan.alpha)
    observed = result.observed
    bands = np.stack(
        [
            np.where(observed, np.asarray(result.columns[b], dtype=np.float64), np.nan).reshape(h, w)
            for b in RASTER_BANDS
        ]
    ).astype(np.float32)
    return ChunkHotSpots(
        bands,
        (result.hot & observed).sum(axis=1),
        (result.cold & observed).sum(axis=1),
        {str(k): int(v) for k, v in result.counts.items()},
    )


def _z_and_series(values, inner, plan: GridHotSpotPlan) -> tuple[np.ndarray, np.ndarray]:
    (row0, row1), (col0, col1) = inner
    series = plan.axis.cells(values).reshape(-1, *values.shape[1:])
    z = gi_star_grid(series, plan.kernel, plan.moments)
    return z[:, row0:row1, col0:col1], series[:, row0:row1, col0:col1]


def category_tags() -> dict[str, str]:
    """The output raster's CATEGORIES tag: code=name;…"""
    return {"CATEGORIES": ";".join(f"{i}={c}" for i, c in enumerate(CATEGORIES))}
