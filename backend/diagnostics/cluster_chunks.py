"""Time-series clustering of a raster stack chunk by chunk (:mod:`.clustering` holds the model).

Three passes over the chunks on the run's scheduler: which cells have values (pass 1), the series of the cells
drawn for the fit (pass 2: at most :data:`~.clustering.MAX_FIT_ROWS`, as for series in memory, so a stack of
that many cells or fewer gets the in-memory result), and each cell's cluster with the clusters' running sums for
their exact mean profiles (pass 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.diagnostics.clustering import ClusterModel, ClusterTotals
from backend.diagnostics.sources import StackAxis

# Peak working memory of a chunk (tracemalloc, as for hot spots), with a margin: per cell and band read, and per
# cell and series step (the float64 series, its standardised copy).
BYTES_PER_BAND = 16
BYTES_PER_STEP = 24


@dataclass
class ChunkClusters:
    """Pass 3's result for a chunk: cluster ids int32[h·w] (0 = no value) and its part of the totals."""

    labels: np.ndarray
    totals: ClusterTotals


def chunk_has_values(values: np.ndarray) -> np.ndarray:
    """Pass 1: bool[h·w], cells of a chunk float32[T, h, w] with at least one value."""
    return np.isfinite(values).any(axis=0).ravel()


def chunk_series(values: np.ndarray, axis: StackAxis, positions: np.ndarray) -> np.ndarray:
    """Pass 2: the series float64[len(positions), T'] of the chunk's cells at ``positions`` (row-major in the chunk)."""
    return axis.cells(values)[:, positions].T


def chunk_clusters(values: np.ndarray, axis: StackAxis, model: ClusterModel) -> ChunkClusters:
    """Pass 3: every cell's cluster and the chunk's totals."""
    series = axis.cells(values).T
    labels = model.predict(series)
    return ChunkClusters(labels.astype(np.int32), ClusterTotals.of(series, labels, int(model.kmeans.n_clusters)))
