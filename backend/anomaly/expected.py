"""Expected values of a time series, for residual-based anomaly scores.

Series may be irregular: times are datetime64[s] and windows are durations, not counts.
- seasonal: robust profile, the median by hour of day (and weekday/weekend when the series spans
  two weeks or more), for sub-daily data; by day of year (±15 days) for daily data; by calendar month for
  monthly and coarser data.
- rolling_median: the median of the preceding ``window`` (causal) or of a centred window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backend.data.time_axis import median_step_seconds
from backend.data.time_parsing import parse_duration
from backend.errors import UserInputError

EXPECTED_METHODS = ("seasonal", "rolling_median")


MONTHLY_SECONDS = 28 * 86400  # steps this long or longer are monthly (or coarser): profiles by calendar month


def seasonal_keys(times: np.ndarray, span_seconds: float, step_seconds: float) -> np.ndarray:
    """Profile bin of each time: hour of day (+ weekend flag over ≥ 2 weeks) for sub-daily data, day of year
    for daily data, calendar month for monthly, quarterly or yearly data."""
    index = pd.DatetimeIndex(times)
    if step_seconds >= MONTHLY_SECONDS:
        return index.month.to_numpy()
    if step_seconds >= 86400:
        return index.dayofyear.to_numpy()
    keys = index.hour.to_numpy()
    if span_seconds >= 14 * 86400:
        keys = keys + 24 * (index.dayofweek.to_numpy() >= 5)
    return keys


def seasonal_profile_problem(times: np.ndarray) -> str | None:
    """Why a seasonal profile cannot be learnt from observed ``times`` (None when it can): it needs 3 values and
    two whole cycles (two days for sub-daily data, two years for daily or monthly data)."""
    times = np.asarray(times, dtype="datetime64[s]")
    if times.size < 3:
        return "The series has fewer than 3 values; nothing to learn a seasonal profile from."
    step = median_step_seconds(times)
    span = float((times[-1] - times[0]).astype(np.int64)) + step
    period, unit = (365 * 86400, "years") if step >= 86400 else (86400, "days")
    if span < 2 * period:
        return f"The series spans {span / 86400:.1f} days: too short for a seasonal profile (needs 2 {unit})."
    return None


def seasonal_expected(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Robust seasonal profile value at each time (NaN values are ignored when fitting)."""
    times = np.asarray(times, dtype="datetime64[s]")
    ok = np.isfinite(values)
    problem = seasonal_profile_problem(times[ok])
    if problem:
        raise UserInputError(problem + " Use the rolling median method (or METHOD auto) instead.")
    span = float((times[ok][-1] - times[ok][0]).astype(np.int64))
    step = median_step_seconds(times[ok])
    keys = seasonal_keys(times, span, step)
    frame = pd.DataFrame({"key": keys[ok], "value": values[ok]})
    profile = frame.groupby("key")["value"].median()
    if 86400 <= step < MONTHLY_SECONDS:  # smooth day of year over ±15 days, circularly
        full = profile.reindex(range(1, 367)).to_numpy()
        padded = np.concatenate([full[-15:], full, full[:15]])
        smooth = pd.Series(padded).rolling(31, center=True, min_periods=1).median().to_numpy()[15:-15]
        profile = pd.Series(smooth, index=range(1, 367))
    expected = profile.reindex(keys).to_numpy(dtype=np.float64)
    return np.where(np.isfinite(expected), expected, float(np.nanmedian(values)))


def rolling_median_expected(
    times: np.ndarray, values: np.ndarray, window: str = "6h", causal: bool = True
) -> np.ndarray:
    """Median of the values in the preceding ``window`` (excluding the current one when causal), or centred."""
    width = parse_duration(window, "rolling window (WINDOW)")
    series = pd.Series(values, index=pd.DatetimeIndex(times))
    if causal:
        median = series.shift(1).rolling(width, min_periods=1).median()
    else:
        shifted = pd.Series(values, index=pd.DatetimeIndex(times) - width / 2)
        median = shifted.rolling(width, min_periods=1).median()
        median.index = series.index
    out = median.to_numpy(dtype=np.float64)
    return np.where(np.isfinite(out), out, float(np.nanmedian(values)))


def expected_values(
    method: str, times: np.ndarray, values: np.ndarray, window: str = "6h", causal: bool = True
) -> np.ndarray:
    if method == "seasonal":
        return seasonal_expected(times, values)
    if method == "rolling_median":
        return rolling_median_expected(times, values, window, causal)
    raise UserInputError(f"Unknown method {method!r}; use one of {', '.join(EXPECTED_METHODS)}.")
