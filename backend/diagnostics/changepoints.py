"""Change points in the mean by binary segmentation (least-squares cost), vectorised over series.

Greedy binary segmentation as ``ruptures.Binseg(model="l2", jump=1)``: repeatedly split the segment whose best
split lowers the squared-error cost most, while that gain exceeds the penalty. The default penalty is BIC-like,
2·σ²·ln T, with σ estimated robustly from first differences (MAD/√2), so a series' noise level sets its own scale.
Missing values are filled with the series mean before segmenting (they neither create nor hide a shift).
"""

from __future__ import annotations

import numpy as np

MAD_SCALE = 1.4826


def noise_scale(values: np.ndarray) -> np.ndarray:
    """σ per series from the MAD of first differences (robust to the shifts themselves)."""
    diff = np.diff(values, axis=0)
    with np.errstate(invalid="ignore"):
        mad = np.nanmedian(np.abs(diff - np.nanmedian(diff, axis=0)), axis=0)
    return MAD_SCALE * mad / np.sqrt(2.0)


def binary_segmentation(
    values: np.ndarray, max_changes: int = 5, min_size: int = 5, penalty: np.ndarray | float | None = None
) -> np.ndarray:
    """Change-point indices per series: int[M, max_changes] (index of the first step of a new segment; −1 = none).

    values float[T, M]; penalty per series (None = 2σ² ln T).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    t, m = x.shape
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(x, axis=0)
    x = np.where(np.isfinite(x), x, np.where(np.isfinite(mean), mean, 0.0)[None])
    if penalty is None:
        sigma = np.nan_to_num(noise_scale(x), nan=0.0)
        penalty = 2 * np.maximum(sigma, 1e-12) ** 2 * np.log(t)
    penalty = np.broadcast_to(np.asarray(penalty, dtype=np.float64), (m,))
    c1 = np.vstack([np.zeros((1, m)), np.cumsum(x, axis=0)])
    c2 = np.vstack([np.zeros((1, m)), np.cumsum(x * x, axis=0)])
    start = np.zeros((t, m), dtype=np.int64)  # segment [start, end) holding each step
    end = np.full((t, m), t, dtype=np.int64)
    changes = np.full((m, max_changes), -1, dtype=np.int64)
    cols = np.arange(m)
    split = np.arange(t)[:, None]  # candidate: new segment starts at this step

    def cost(a, b):
        s1 = np.take_along_axis(c1, b, 0) - np.take_along_axis(c1, a, 0)
        s2 = np.take_along_axis(c2, b, 0) - np.take_along_axis(c2, a, 0)
        return s2 - s1**2 / np.maximum(b - a, 1)

    active = np.ones(m, dtype=bool)
    for k in range(max_changes):
        allowed = (split - start >= min_size) & (end - split >= min_size)
        gain = np.where(
            allowed,
            cost(start, end) - cost(start, np.broadcast_to(split, (t, m))) - cost(np.broadcast_to(split, (t, m)), end),
            -np.inf,
        )
        best = np.argmax(gain, axis=0)
        accept = active & (gain[best, cols] > penalty)
        if not accept.any():
            break
        changes[accept, k] = best[accept]
        a, b = start[best, cols], end[best, cols]
        inside = (split >= a[None]) & (split < b[None]) & accept[None]
        end = np.where(inside & (split < best[None]), best[None], end)
        start = np.where(inside & (split >= best[None]), best[None], start)
        active = accept
    return _sorted_changes(changes)


def _sorted_changes(changes: np.ndarray) -> np.ndarray:
    """Found change points first, in time order; −1 after them."""
    keyed = np.where(changes < 0, np.iinfo(np.int64).max, changes)
    keyed.sort(axis=1)
    return np.where(keyed == np.iinfo(np.int64).max, -1, keyed)
