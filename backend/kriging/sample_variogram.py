"""Sample space-time variogram of a PointPanel: spatial distance bins × time lags (gstat ``variogramST``).

For time lag k, every pair (station i at t, station j at t + k) with both values observed
contributes ½·(z_i(t) − z_j(t+k))². Lag 0 uses each unordered pair once; for k > 0 the
same-station pairs (distance 0) form their own first bin, as in gstat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from backend.data.point_panel import PointPanel
from backend.errors import UserInputError
from backend.progress import Reporter


@dataclass
class SampleVariogram:
    """Binned semivariances; all arrays are [n_bins] (rows = spatial bin × time lag).

    dist: mean pair distance (model distance unit); timelag: time lag (model time unit);
    gamma: semivariance; np: number of pairs.
    """

    dist: np.ndarray
    timelag: np.ndarray
    gamma: np.ndarray
    np: np.ndarray
    spacelag: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"spacelag": self.spacelag, "dist": self.dist, "timelag": self.timelag, "gamma": self.gamma, "np": self.np}
        )

    def valid(self) -> SampleVariogram:
        keep = self.np > 0
        return SampleVariogram(
            self.dist[keep], self.timelag[keep], self.gamma[keep], self.np[keep], self.spacelag[keep]
        )


def lag_sums(values_nt: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum of squared differences and pair counts for every station pair at time lag ``k``.

    Returns (sq[N, N], count[N, N]) where entry (i, j) pairs z_i(t) with z_j(t + k).
    """
    t = values_nt.shape[1]
    a, b = values_nt[:, : t - k].astype(np.float64), values_nt[:, k:].astype(np.float64)
    ma, mb = np.isfinite(a).astype(np.float64), np.isfinite(b).astype(np.float64)
    a0, b0 = np.where(ma > 0, a, 0.0), np.where(mb > 0, b, 0.0)
    count = ma @ mb.T
    sq = (a0**2) @ mb.T + ma @ (b0**2).T - 2.0 * (a0 @ b0.T)
    return np.maximum(sq, 0.0), count


def check_kriging_data(panel: PointPanel) -> None:
    """Raise unless the panel has ≥ 3 stations, ≥ 2 time steps and values that are not all equal."""
    if panel.n_stations < 3:
        raise UserInputError(
            f"Space-time variograms and kriging need at least 3 stations; the layer has {panel.n_stations}."
        )
    if panel.times.size < 2:
        raise UserInputError("Space-time variograms and kriging need at least 2 time steps.")
    finite = panel.values[np.isfinite(panel.values)]
    if finite.size == 0:
        raise UserInputError("Every value is missing: there is nothing to fit or krige.")
    if np.ptp(finite) == 0:
        raise UserInputError(
            f"All values are equal ({finite[0]:g}): a constant field has no variogram and cannot be kriged."
        )


def sample_variogram(
    panel: PointPanel,
    cutoff: float,
    width: float,
    tlags: int,
    time_step_seconds: float,
    distance_scale: float = 1.0,
    time_scale: float = 86400.0,
    reporter: Reporter | None = None,
) -> SampleVariogram:
    """Sample variogram for spatial bins of ``width`` up to ``cutoff`` (metres) and time lags 0..``tlags``.

    The panel's time axis must be regular (``time_step_seconds`` per step). Distances are divided by
    ``distance_scale`` (m per model unit) and lags expressed in model time units (``time_scale`` s).
    """
    check_kriging_data(panel)
    if width <= 0 or cutoff <= width:
        raise UserInputError(
            f"Spatial bins: the width ({width:g}) must be > 0 and smaller than the cutoff ({cutoff:g})."
        )
    tlags = int(min(tlags, panel.times.size - 1))
    distance = cdist(panel.xy, panel.xy)
    edges = np.concatenate([[0.0, width * 1e-6], np.arange(width, cutoff + width * 0.5, width)])
    edges[-1] = max(edges[-1], cutoff)
    spacelag = np.concatenate([[0.0], (edges[1:-1] + np.diff(edges)[1:] / 2)]) / distance_scale
    bin_of = np.digitize(distance, edges[1:], right=False)  # 0 = zero distance, 1.. = bins
    upper = np.triu(np.ones_like(distance, dtype=bool), k=1)
    rows = []
    for k in range(tlags + 1):
        sq, count = lag_sums(panel.values, k)
        use = (upper if k == 0 else np.ones_like(upper)) & (distance <= cutoff) & (count > 0)
        nb = len(edges) - 1
        pairs = np.bincount(bin_of[use], weights=count[use], minlength=nb)[:nb]
        gamma_sum = np.bincount(bin_of[use], weights=sq[use], minlength=nb)[:nb]
        dist_sum = np.bincount(bin_of[use], weights=(distance * count)[use], minlength=nb)[:nb]
        with np.errstate(invalid="ignore", divide="ignore"):
            rows.append(
                (
                    dist_sum / pairs / distance_scale,
                    np.full(nb, k * time_step_seconds / time_scale),
                    0.5 * gamma_sum / pairs,
                    pairs,
                    spacelag[:nb],
                )
            )
        if reporter:
            reporter.progress(100.0 * (k + 1) / (tlags + 1), f"time lag {k}")
    dist, timelag, gamma, pairs, lag = (np.concatenate(parts) for parts in zip(*rows))
    return SampleVariogram(np.nan_to_num(dist), timelag, gamma, pairs.astype(np.int64), lag)
