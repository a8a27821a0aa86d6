"""Sensor graphs as dense weight matrices (numpy/scipy; no compiled graph extensions).

Weights follow DCRNN (Li et al. 2018): w_ij = exp(-(d_ij / σ)²) with σ the standard deviation of the
distances, entries below a threshold set to 0, self-loops 1. Distances are ellipsoidal (WGS 84 geodesic)
for geographic coordinates and Euclidean for projected ones (metres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.data.distances import station_distances
from backend.errors import UserInputError
from backend.progress import Reporter

GRAPH_KINDS = ("gaussian", "knn", "edges")


@dataclass
class GraphSettings:
    """kind: gaussian (kernel with ``threshold``), knn (``k`` nearest, kernel weights) or edges (``edges`` table:
    from, to and weight or distance columns, e.g. road distances); sigma in metres (None = std of distances)."""

    kind: str = "gaussian"
    threshold: float = 0.1
    k: int = 8
    sigma: float | None = None
    edges: str | None = None


def _kernel(distances: np.ndarray, sigma: float | None) -> np.ndarray:
    finite = distances[np.isfinite(distances) & (distances > 0)]
    sigma = sigma or (float(finite.std()) if finite.size > 1 else 1.0) or 1.0
    return np.exp(-np.square(distances / sigma))


def gaussian_adjacency(distances: np.ndarray, threshold: float = 0.1, sigma: float | None = None) -> np.ndarray:
    weights = _kernel(distances, sigma)
    weights[weights < threshold] = 0.0
    np.fill_diagonal(weights, 1.0)
    return weights.astype(np.float32)


def knn_adjacency(distances: np.ndarray, k: int, sigma: float | None = None) -> np.ndarray:
    """Each station linked to its k nearest (made symmetric), kernel weights."""
    n = distances.shape[0]
    if k < 1:
        raise UserInputError("The number of neighbours must be at least 1.")
    order = np.argsort(np.where(np.eye(n, dtype=bool), np.inf, distances), axis=1)[:, : min(k, n - 1)]
    linked = np.zeros((n, n), dtype=bool)
    linked[np.repeat(np.arange(n), order.shape[1]), order.ravel()] = True
    linked |= linked.T
    weights = np.where(linked, np.maximum(_kernel(distances, sigma), 1e-6), 0.0)  # far links stay links
    np.fill_diagonal(weights, 1.0)
    return weights.astype(np.float32)


def edges_adjacency(path: str, ids: np.ndarray, sigma: float | None = None, threshold: float = 0.0) -> np.ndarray:
    """Directed weights from an edge table: columns from, to and weight (used as is) or distance/cost (kernel)."""
    from backend.data.sensor_io import normalise_id, read_table

    table = read_table(path)
    columns = {c.lower(): c for c in table.columns}
    if "from" not in columns or "to" not in columns:
        raise UserInputError(f"The edge table needs 'from' and 'to' columns; it has: {', '.join(table.columns)}.")
    position = {key: i for i, key in enumerate(ids)}
    src = table[columns["from"]].map(normalise_id).map(position)
    dst = table[columns["to"]].map(normalise_id).map(position)
    known = src.notna() & dst.notna()
    if not known.any():
        raise UserInputError(
            "No edge of the edge table joins two of the sensors (compare the ids in 'from'/'to' "
            "with the sensor id field)."
        )
    n = ids.size
    weights = np.zeros((n, n))
    if "weight" in columns:
        values = pd.to_numeric(table[columns["weight"]], errors="coerce").to_numpy()[known]
    else:
        name = next((columns[c] for c in ("distance", "cost", "length") if c in columns), None)
        if name is None:
            raise UserInputError("The edge table needs a 'weight' column or a 'distance' (or 'cost') column.")
        values = pd.to_numeric(table[name], errors="coerce").to_numpy()[known]
        values = _kernel(values, sigma)
    weights[src[known].astype(int).to_numpy(), dst[known].astype(int).to_numpy()] = np.nan_to_num(values)
    weights[weights < threshold] = 0.0
    np.fill_diagonal(weights, 1.0)
    return weights.astype(np.float32)


def build_adjacency(
    settings: GraphSettings, ids: np.ndarray, xy: np.ndarray, crs: str, reporter: Reporter | None = None
) -> np.ndarray:
    """float32[N, N] weights (row = from, column = to) for the chosen graph; isolated stations are reported."""
    reporter = reporter or Reporter()
    if settings.kind not in GRAPH_KINDS:
        raise UserInputError(f"Unknown graph {settings.kind!r}; use one of {', '.join(GRAPH_KINDS)}.")
    if settings.kind == "edges" or settings.edges:
        if not settings.edges:
            raise UserInputError("The 'edges' graph needs an edge table (EDGES).")
        weights = edges_adjacency(settings.edges, ids, settings.sigma)
    else:
        distances = station_distances(xy, crs)
        weights = (
            knn_adjacency(distances, settings.k, settings.sigma)
            if settings.kind == "knn"
            else gaussian_adjacency(distances, settings.threshold, settings.sigma)
        )
    isolated = (weights > 0).sum(axis=1) + (weights > 0).sum(axis=0) <= 2
    if ids.size > 1 and isolated.any():
        reporter.warning(
            f"{int(isolated.sum())} of {ids.size} sensors have no neighbour in the graph (they are "
            f"forecast from their own history only): {', '.join(ids[isolated][:8])}. Use a larger "
            "threshold/sigma or the k-nearest graph to link them."
        )
    return weights


def transition_matrices(weights: np.ndarray) -> np.ndarray:
    """float32[2, N, N]: forward and backward random-walk matrices D⁻¹W and D⁻¹Wᵀ (diffusion convolution)."""

    def random_walk(w):
        degree = w.sum(axis=1, keepdims=True)
        return np.where(degree > 0, w / np.where(degree > 0, degree, 1.0), 0.0)

    return np.stack([random_walk(weights), random_walk(weights.T)]).astype(np.float32)
