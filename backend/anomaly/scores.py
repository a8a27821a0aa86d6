"""Robust z-scores of residuals (median / MAD), over the whole series or causally (past only)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

MAD_SCALE = 1.4826  # MAD → standard deviation for normal data


def robust_z(residuals: np.ndarray, axis: int = 0) -> np.ndarray:
    """(r − median r) / (1.4826·MAD r) along ``axis`` (time), NaN ignored and kept.

    Where the MAD is 0 (mostly constant residuals) the mean absolute deviation sets the scale; constant
    residuals give 0 (nothing is anomalous).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN series or cells
        center = np.nanmedian(residuals, axis=axis, keepdims=True)
        deviation = np.abs(residuals - center)
        scale = MAD_SCALE * np.nanmedian(deviation, axis=axis, keepdims=True)
        fallback = 1.2533 * np.nanmean(deviation, axis=axis, keepdims=True)
    scale = np.where(scale > 0, scale, np.where(fallback > 0, fallback, np.inf))
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
