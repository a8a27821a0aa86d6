"""Per-series seasonality (STL strength, dominant period) and stationarity (ADF + KPSS) with statsmodels.

Seasonality strength F_S = max(0, 1 − Var(R) / Var(S + R)) of an STL decomposition (non-robust) (Wang, Smith & Hyndman
2006; Hyndman & Athanasopoulos, FPP3 §4.3). The dominant period is the period (in time steps) of the largest
periodogram peak (scipy, vectorised, mean-filled gaps). ADF (H0: unit root) and KPSS (H0: level-stationary) at α:
- ADF rejects, KPSS does not → stationary (0);   - neither rejects → trend-stationary (1);
- both reject → difference-stationary (2);        - KPSS rejects, ADF does not → non-stationary (3)
(the verdict table of the statsmodels "Stationarity and detrending (ADF/KPSS)" example).
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
from scipy.stats import norm

from backend.data.time_axis import filled_series
from backend.data.time_step import TimeStep

VERDICTS = {0: "stationary", 1: "trend-stationary", 2: "difference-stationary", 3: "non-stationary"}


def default_period(step: TimeStep, length: int) -> int:
    """Seasonal period in steps from the calendar: a day for sub-daily data, a year (or a week when the series
    is shorter than two years) for daily data, a year for monthly (12) and quarterly (4) data; 1 (no season)
    for yearly data."""
    if step.is_calendar:
        return max(1, 12 // step.months)
    step_seconds = step.seconds
    if step_seconds < 86400:
        return max(2, int(round(86400 / step_seconds)))
    if step_seconds < 28 * 86400:
        per_year = int(round(365.25 * 86400 / step_seconds))
        return per_year if length >= 2 * per_year else max(2, int(round(7 * 86400 / step_seconds)))
    return 12


def dominant_period(values: np.ndarray) -> np.ndarray:
    """Period (steps) of the strongest periodogram peak per series (float[T, M] → float[M]); NaN if flat."""
    from scipy.signal import periodogram

    with np.errstate(invalid="ignore"):
        mean = np.nanmean(values, axis=0)
    filled = np.where(np.isfinite(values), values, mean[None])
    freq, power = periodogram(filled, axis=0, detrend="linear")
    power[0] = 0.0
    best = np.argmax(power, axis=0)
    period = np.where(freq[best] > 0, 1.0 / np.where(freq[best] > 0, freq[best], 1.0), np.nan)
    return np.where(power.max(axis=0) > 0, period, np.nan)


def _filled(series: np.ndarray) -> np.ndarray:
    """Interior gaps linearly interpolated (STL, ADF and KPSS need complete series); ends trimmed."""
    return filled_series(series)[0]


def seasonality_strength(series: np.ndarray, period: int) -> float:
    """STL seasonality strength of one series float[T] (gaps interpolated, ends trimmed); NaN when too short for
    two periods, constant or without a period."""
    from statsmodels.tsa.seasonal import STL

    x = _filled(series)
    if x.size < 2 * period + 1 or period < 2 or np.ptp(x) == 0:
        return float("nan")
    result = STL(x, period=period).fit()
    return _strength(result.seasonal, result.resid)


def _strength(seasonal: np.ndarray, remainder: np.ndarray) -> float | np.ndarray:
    """max(0, 1 − Var(R) / Var(S + R)) along the first axis; NaN where Var(S + R) is 0."""
    denominator = np.var(seasonal + remainder, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        strength = np.where(denominator > 0, np.maximum(0.0, 1 - np.var(remainder, axis=0) / denominator), np.nan)
    return float(strength) if np.ndim(strength) == 0 else strength


STL_OPERATOR_MAX_BYTES = 512 * 2**20  # the two T×T matrices of one time axis; longer axes use per-series STL
_stl_operators: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
_stl_operators_lock = threading.Lock()  # chunks on threads build a time axis's operator once


def stl_operators(length: int, period: int) -> tuple[np.ndarray, np.ndarray]:
    """(seasonal, remainder) float64[T, T]: non-robust STL is linear in the series, so its seasonal and remainder
    components of any series x of this length are ``S @ x`` and ``R @ x`` (the same numbers as statsmodels' STL, to
    rounding). Built once per (length, period) from the STL of the unit vectors, and kept for the run."""
    key = (length, period)
    with _stl_operators_lock:
        return _stl_operators[key] if key in _stl_operators else _build_stl_operators(length, period)


def _build_stl_operators(length: int, period: int) -> tuple[np.ndarray, np.ndarray]:
    from statsmodels.tsa.seasonal import STL

    seasonal, remainder = np.empty((length, length)), np.empty((length, length))
    unit = np.zeros(length)
    for i in range(length):
        unit[i] = 1.0
        result = STL(unit, period=period).fit()
        seasonal[:, i], remainder[:, i] = result.seasonal, result.resid
        unit[i] = 0.0
    _stl_operators.clear()  # one time axis per run: keep the memory of one pair
    _stl_operators[(length, period)] = (seasonal, remainder)
    return seasonal, remainder


def seasonality_strengths(values: np.ndarray, period: int, series_in_run: int = 0) -> np.ndarray:
    """float64[M]: :func:`seasonality_strength` of every column of float[T, M]. Columns without missing ends share
    one linear STL operator (interior gaps interpolated first): when there are at least T of them (in this call, or
    ``series_in_run`` in all the chunks of a run), or the operator is already built, that is one matrix product
    instead of M STL fits (≈ 200× faster per series); the others get their own STL."""
    t, m = values.shape
    out = np.full(m, np.nan)
    if period < 2 or t < 2 * period + 1:
        return out
    finite = np.isfinite(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: not whole
        varies = np.nanmax(values, axis=0) > np.nanmin(values, axis=0)
    whole = finite[0] & finite[-1] & varies
    fits_in_memory = 2 * 8 * t * t <= STL_OPERATOR_MAX_BYTES
    if fits_in_memory and whole.any() and (max(whole.sum(), series_in_run) >= t or (t, period) in _stl_operators):
        columns = np.flatnonzero(whole)
        filled = np.stack([_filled(values[:, k]) for k in columns], axis=1) if not finite[:, columns].all() else None
        x = values[:, columns].astype(np.float64) if filled is None else filled
        seasonal, remainder = stl_operators(t, period)
        out[columns] = _strength(seasonal @ x, remainder @ x)
        rest = np.flatnonzero(~whole)
    else:
        rest = np.arange(m)
    for k in rest:
        series = values[:, k]
        if np.isfinite(series).sum() >= 2 and np.nanmax(series) > np.nanmin(series):
            out[k] = seasonality_strength(series, period)
    return out


def schwert_lags(length: int) -> int:
    """Lag order 12·(T/100)^¼ (Schwert 1989), fixed so that each test is one regression."""
    return max(0, min(int(np.floor(12 * (length / 100) ** 0.25)), length // 2 - 2))


def mackinnon_p(tau: np.ndarray) -> np.ndarray:
    """MacKinnon (1994) p-values of ADF τ with a constant, vectorised (statsmodels' ``mackinnonp`` tables)."""
    from statsmodels.tsa import adfvalues as tables

    tau = np.asarray(tau, dtype=np.float64)
    small = np.polyval(np.asarray(tables._tau_smallps["c"][0])[::-1], tau)
    large = np.polyval(np.asarray(tables._tau_largeps["c"][0])[::-1], tau)
    p = norm.cdf(np.where(tau <= tables._tau_stars["c"][0], small, large))
    p = np.where(tau > tables._tau_maxs["c"][0], 1.0, p)
    return np.where(tau < tables._tau_mins["c"][0], 0.0, p)


def adf_batch(x: np.ndarray, lags: int) -> np.ndarray:
    """ADF p-values (constant, fixed ``lags``) of complete series x float[T, M] at once; equals statsmodels
    ``adfuller(series, maxlag=lags, autolag=None, regression="c")[1]`` per column."""
    t, m = x.shape
    diff = np.diff(x, axis=0)  # [T-1, M]
    nobs = diff.shape[0] - lags
    columns = [x[lags:-1]]  # lagged level
    columns += [diff[lags - i : diff.shape[0] - i] for i in range(1, lags + 1)]
    columns.append(np.ones((nobs, m)))
    design = np.stack(columns, axis=-1).transpose(1, 0, 2)  # [M, nobs, k]
    target = diff[lags:].T  # [M, nobs]
    xtx = design.transpose(0, 2, 1) @ design
    xty = np.einsum("mnk,mn->mk", design, target)
    inverse = _batched_inverse(xtx)
    beta = np.einsum("mkj,mj->mk", inverse, xty)
    residual = target - np.einsum("mnk,mk->mn", design, beta)
    sigma2 = (residual**2).sum(axis=1) / (nobs - design.shape[2])
    with np.errstate(invalid="ignore", divide="ignore"):
        return mackinnon_p(beta[:, 0] / np.sqrt(sigma2 * inverse[:, 0, 0]))


def _batched_inverse(matrices: np.ndarray) -> np.ndarray:
    """Inverses of float[M, k, k]; NaN for a singular one (e.g. a series whose lagged differences are collinear:
    its ADF test is undefined), instead of failing the whole batch."""
    try:
        return np.linalg.inv(matrices)
    except np.linalg.LinAlgError:
        out = np.full(matrices.shape, np.nan)
        for index, matrix in enumerate(matrices):
            try:
                out[index] = np.linalg.inv(matrix)
            except np.linalg.LinAlgError:
                pass
        return out


KPSS_LEVEL_CRITICAL = (0.347, 0.463, 0.574, 0.739)  # Kwiatkowski et al. (1992), table 1, level stationarity
KPSS_P = (0.10, 0.05, 0.025, 0.01)


def kpss_batch(x: np.ndarray, lags: int) -> np.ndarray:
    """KPSS p-values (level stationarity, Bartlett window of ``lags``) of complete series x float[T, M] at once;
    equals statsmodels ``kpss(series, regression="c", nlags=lags)[1]`` per column (p clipped to 0.01–0.1 as its
    table)."""
    t = x.shape[0]
    resids = x - x.mean(axis=0)
    eta = (np.cumsum(resids, axis=0) ** 2).sum(axis=0) / t**2
    s_hat = (resids**2).sum(axis=0)
    for i in range(1, lags + 1):
        s_hat += 2 * np.einsum("tm,tm->m", resids[i:], resids[: t - i]) * (1.0 - i / (lags + 1.0))
    return np.interp(eta / (s_hat / t), KPSS_LEVEL_CRITICAL, KPSS_P)


def _kpss_p(x: np.ndarray, lags: int) -> float:
    from statsmodels.tsa.stattools import kpss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KPSS p-values outside its table (0.01–0.1) are clipped, with a warning
        return float(kpss(x, regression="c", nlags=lags)[1])


def stationarity_tests(values: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ADF p, KPSS p, verdict code) per column of values float[T, M]; NaN / −1 for series too short (< 12
    values) or constant. Interior gaps are interpolated, leading/trailing ones trimmed."""
    from statsmodels.tsa.stattools import adfuller

    t, m = values.shape
    adf, kpss_p, verdict = np.full(m, np.nan), np.full(m, np.nan), np.full(m, -1)
    complete = np.isfinite(values).all(axis=0) & (np.ptp(np.nan_to_num(values), axis=0) > 0)
    if t >= 12 and complete.any():
        adf[complete] = adf_batch(values[:, complete], schwert_lags(t))
        kpss_p[complete] = kpss_batch(values[:, complete], schwert_lags(t))
    for column in np.flatnonzero(~complete & np.isfinite(values).any(axis=0)):
        x = _filled(values[:, column])
        if x.size < 12 or np.ptp(x) == 0:
            continue
        lags = schwert_lags(x.size)
        with warnings.catch_warnings():  # statsmodels ≥ 0.15 announces a result object; the p-value stays [1]
            warnings.simplefilter("ignore", FutureWarning)
            adf[column] = float(adfuller(x, maxlag=lags, autolag=None)[1])
        kpss_p[column] = _kpss_p(x, lags)
    tested = np.isfinite(kpss_p) & np.isfinite(adf)
    with np.errstate(invalid="ignore"):
        codes = np.array([[3, 1], [2, 0]])[(adf < alpha).astype(int), (kpss_p >= alpha).astype(int)]
    verdict = np.where(tested, codes, -1)
    return adf, kpss_p, verdict
