"""Robust z-scores of residuals (median / MAD), over the whole series or causally (past only)."""

from __future__ import annotations

import numpy as np
import pandas as pd

MAD_SCALE = 1.4826  # MAD → standard deviation for normal data


def _scale(deviation_median: float, residuals: np.ndarray) -> float:
    """MAD-based scale; when MAD is 0 (mostly constant residuals) fall back to the mean absolute deviation."""
    scale = MAD_SCALE * deviation_median
    if scale > 0:
        return scale
    finite = residuals[np.isfinite(residuals)]
    mean_abs = float(np.mean(np.abs(finite - np.median(finite)))) if finite.size else 0.0
    return 1.2533 * mean_abs if mean_abs > 0 else np.inf  # all equal: nothing is anomalous


def robust_z(residuals: np.ndarray) -> np.ndarray:
    """(r − median r) / (1.4826·MAD r), NaN kept; constant residuals give 0."""
    finite = residuals[np.isfinite(residuals)]
    if finite.size == 0:
        return np.full(residuals.shape, np.nan)
    center = float(np.median(finite))
    scale = _scale(float(np.median(np.abs(finite - center))), residuals)
    return (residuals - center) / scale


def causal_robust_z(times: np.ndarray, residuals: np.ndarray, window: str = "7D", min_points: int = 10) -> np.ndarray:
    """Robust z of each residual against the median/MAD of the residuals in the preceding ``window`` only."""
    series = pd.Series(residuals, index=pd.DatetimeIndex(times))
    past = series.shift(1)
    center = past.rolling(pd.Timedelta(window), min_periods=min_points).median()
    mad = (past - center).abs().rolling(pd.Timedelta(window), min_periods=min_points).median()
    fallback = (past - center).abs().rolling(pd.Timedelta(window), min_periods=min_points).mean() * 1.2533 / MAD_SCALE
    scale = MAD_SCALE * mad.where(mad > 0, fallback)
    z = (series - center) / scale.where(scale > 0)
    return z.to_numpy(dtype=np.float64)


def rolling_robust_z(times: np.ndarray, values: np.ndarray, window: str = "1D", min_points: int = 10) -> np.ndarray:
    """The plain reference detector: robust z of each value against the trailing window's median and MAD."""
    return causal_robust_z(times, values, window, min_points)
