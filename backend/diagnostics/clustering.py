"""Time-series clustering: k-means (scikit-learn) on standardised series.

features = "value": series standardised with the overall mean and standard deviation (level and shape count);
features = "shape": each series z-normalised on its own (Euclidean distance ∝ √(1 − correlation)), so series
with the same pattern cluster whatever their level. Gaps are filled with the series mean (0 after scaling).
With n_clusters = 0 the number is chosen among 2…8 by the silhouette score (on at most 5,000 series).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.errors import UserInputError

FEATURES = ("value", "shape")


@dataclass
class ClusterModel:
    features: str
    center: float  # overall mean (value features)
    scale: float  # overall std
    kmeans: object
    silhouette: dict[int, float]

    def transform(self, series: np.ndarray) -> np.ndarray:
        """float[M, T] standardised rows (as fitted)."""
        x = np.asarray(series, dtype=np.float64)
        if self.features == "shape":
            with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # rows without values: all NaN, then 0
                mean = np.nanmean(x, axis=1, keepdims=True)
                std = np.nanstd(x, axis=1, keepdims=True)
                z = (x - mean) / np.where(std > 0, std, 1.0)
        else:
            z = (x - self.center) / self.scale
        return np.nan_to_num(z, nan=0.0)

    def predict(self, series: np.ndarray) -> np.ndarray:
        """Cluster ids 1…k per row; 0 for rows without any value."""
        labels = self.kmeans.predict(self.transform(series)) + 1
        return np.where(np.isfinite(series).any(axis=1), labels, 0)


MAX_FIT_ROWS = 50_000  # series in the k-means fit; larger inputs are sampled


def fit_sample(n_rows: int, seed: int, limit: int = MAX_FIT_ROWS) -> tuple[np.ndarray, np.random.Generator]:
    """Which of ``n_rows`` series the fit uses (all, or ``limit`` drawn at random, in the order drawn) and the
    random generator that drew them (it goes on to draw the silhouette sample)."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n_rows, limit, replace=False) if n_rows > limit else np.arange(n_rows)
    return chosen, rng


def fit_clusters(
    series: np.ndarray, n_clusters: int = 0, features: str = "value", seed: int = 0, max_k: int = 8
) -> ClusterModel:
    """Fit on rows of ``series`` float[M, T] that have values (a random sample of ≤ 50,000 rows for large inputs)."""
    x = np.asarray(series, dtype=np.float64)
    rows = x[np.isfinite(x).any(axis=1)]
    require_series(rows.shape[0])
    chosen, rng = fit_sample(rows.shape[0], seed)
    return fit_clusters_to_sample(rows[chosen], n_clusters, features, seed, rng, max_k)


def require_series(count: int) -> None:
    if count < 3:
        raise UserInputError(f"Clustering needs at least 3 series with values; there are {count}.")


def fit_clusters_to_sample(
    rows: np.ndarray, n_clusters: int, features: str, seed: int, rng: np.random.Generator, max_k: int = 8
) -> ClusterModel:
    """Fit on the series float[S, T] (each with a value) drawn by :func:`fit_sample` with ``rng``."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    if features not in FEATURES:
        raise UserInputError(f"Unknown features {features!r}; use one of {', '.join(FEATURES)}.")
    finite = rows[np.isfinite(rows)]
    model = ClusterModel(features, float(finite.mean()), float(finite.std()) or 1.0, None, {})
    z = model.transform(rows)
    distinct = np.unique(np.round(z, 12), axis=0).shape[0]
    if n_clusters > rows.shape[0]:
        raise UserInputError(f"{n_clusters} clusters asked for {rows.shape[0]} series; ask for fewer.")
    if n_clusters <= 0:
        sample = z if z.shape[0] <= 5000 else z[rng.choice(z.shape[0], 5000, replace=False)]
        candidates = [k for k in range(2, max_k + 1) if k < min(distinct, sample.shape[0])]
        if not candidates:
            n_clusters = 1
        for k in candidates:
            labels = KMeans(k, n_init=10, random_state=seed).fit_predict(sample)
            model.silhouette[k] = float(silhouette_score(sample, labels))
        if candidates:
            n_clusters = max(model.silhouette, key=model.silhouette.get)
    model.kmeans = KMeans(n_clusters, n_init=10, random_state=seed).fit(z)
    return model


@dataclass
class ClusterTotals:
    """Per cluster 1…k (rows 0…k−1): ``members`` int64[k], and per time step the sum and count of the members'
    values float64[k, T] — what chunks add up to for the exact cluster means."""

    members: np.ndarray
    sums: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, series: np.ndarray, labels: np.ndarray, k: int) -> ClusterTotals:
        """Totals of series float[N, T] with labels int[N] (0 = no values)."""
        ok = np.isfinite(series)
        values = np.where(ok, series, 0.0)
        members, sums, counts = np.zeros(k, np.int64), np.zeros((k, series.shape[1])), np.zeros((k, series.shape[1]))
        for cluster in range(1, k + 1):
            rows = labels == cluster
            members[cluster - 1] = rows.sum()
            sums[cluster - 1] = values[rows].sum(axis=0)
            counts[cluster - 1] = ok[rows].sum(axis=0)
        return cls(members, sums, counts)

    def __add__(self, other: ClusterTotals) -> ClusterTotals:
        return ClusterTotals(self.members + other.members, self.sums + other.sums, self.counts + other.counts)


def cluster_profiles(
    times: np.ndarray, series: np.ndarray, labels: np.ndarray, k: int, totals: ClusterTotals | None = None
) -> pd.DataFrame:
    """Per cluster 1…k and time: members, mean and the 10/90 % percentiles of the member series float[N, T].
    With ``totals`` (of all series, when ``series`` is a sample of them) the members and means are the totals'
    and the percentiles the sample's."""
    rows = []
    for cluster in range(1, k + 1):
        members = series[labels == cluster]
        if totals is not None and totals.members[cluster - 1] == 0 or totals is None and not members.size:
            continue
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if totals is None:
                count, mean = members.shape[0], np.nanmean(members, axis=0)
            else:
                count = int(totals.members[cluster - 1])
                mean = totals.sums[cluster - 1] / totals.counts[cluster - 1]
            if members.size:
                low, high = np.nanpercentile(members, [10, 90], axis=0)
            else:
                low = high = np.full(times.size, np.nan)
        rows.append(
            pd.DataFrame({"cluster": cluster, "time": times, "members": count, "mean": mean, "p10": low, "p90": high})
        )
    return pd.concat(rows, ignore_index=True)
