"""Mann-Kendall trend test with Sen's slope and the Hamed–Rao (1998) correction for serial correlation.

Vectorised over series: ``values`` is float[T, M] (time along axis 0, M stations or cells; NaN = missing).
Definitions follow pymannkendall 1.4 (``original_test``, ``hamed_rao_modification_test``, ``sens_slope``):
S = Σ_{i<j} sign(x_j − x_i) over observed pairs, Var(S) with the tie correction, z = (S ∓ 1)/√Var(S),
two-sided normal p. Sen's slope is the median of (x_j − x_i)/(j − i) on the original time index (per
step). Hamed–Rao: ranks of the series detrended by Sen's slope, their autocorrelations significant at α
inflate Var(S) by n/n* = 1 + 2/(n(n−1)(n−2)) Σ (n−i)(n−i−1)(n−i−2) ρ_i. Where that factor is ≤ 0 (strong
negative autocorrelations over all lags; pymannkendall then returns NaN) the uncorrected variance is kept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

MIN_LENGTH = 4


@dataclass
class TrendResult:
    """Arrays float64[M]; NaN where a series has fewer than MIN_LENGTH values or is constant (see ``reason``).
    ``z``/``p`` use ``var_s`` (Hamed–Rao corrected when asked); ``z_original``/``p_original`` are the test without
    correction (pymannkendall's ``original_test``)."""

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    slope: np.ndarray
    intercept: np.ndarray
    n: np.ndarray
    z_original: np.ndarray
    p_original: np.ndarray


def p_value(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p of z, as pymannkendall computes it: 2 (1 − Φ(|z|))."""
    return 2 * (1 - norm.cdf(np.abs(z)))


def mk_score(values: np.ndarray) -> np.ndarray:
    """S per series (pairs with a missing value are left out)."""
    t = values.shape[0]
    s = np.zeros(values.shape[1])
    for lag in range(1, t):
        diff = values[lag:] - values[:-lag]
        s += np.nansum(np.sign(diff), axis=0)
    return s


def tie_term(values: np.ndarray) -> np.ndarray:
    """Σ t(t−1)(2t+5) over groups of tied values, per series (NaN left out)."""
    ordered = np.sort(values, axis=0)  # NaN last
    t, m = ordered.shape
    same = ordered[1:] == ordered[:-1]  # NaN never equals
    run = np.vstack([np.zeros((1, m), dtype=np.int64), np.cumsum(~same, axis=0)])
    valid = np.isfinite(ordered)
    index = (run + np.arange(m)[None] * t)[valid]
    counts = np.bincount(index, minlength=t * m).astype(np.float64)
    return (counts * (counts - 1) * (2 * counts + 5)).reshape(m, t).sum(axis=1)


def variance_s(values: np.ndarray) -> np.ndarray:
    n = np.isfinite(values).sum(axis=0).astype(np.float64)
    return (n * (n - 1) * (2 * n + 5) - tie_term(values)) / 18.0


def z_from_s(s: np.ndarray, var_s: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s > 0, (s - 1) / np.sqrt(var_s), np.where(s < 0, (s + 1) / np.sqrt(var_s), 0.0))


SEN_SAMPLE_PAIRS = 16_384  # pairs drawn to bracket each series' median slope
SEN_BRACKET = 0.015  # the bracket: the sample's 48.5 % and 51.5 % quantiles (≈ 3.8 sampling standard deviations)
SEN_BAND_BYTES = 64 * 2**20  # memory for the slopes inside the brackets of a group of series


def sens_slope(values: np.ndarray, max_pairs: int = 2_000_000) -> tuple[np.ndarray, np.ndarray]:
    """(slope per step, intercept) per series float[T, M]: the median of the pairwise slopes (x_j − x_i)/(j − i)
    over pairs of values (gaps left out) — the same numbers as taking the median of all of them.

    Exact without holding or sorting all T(T−1)/2 slopes of a series: a sample of pairs brackets each series'
    median, one pass over the lags counts the slopes below the bracket and keeps those inside it (≈ 3 %), and the
    median is picked among those. A series whose median falls outside its bracket (rare: heavy ties, few values)
    gets all its slopes sorted (:func:`_sens_slope_all_pairs`, in groups of ``max_pairs`` slopes)."""
    t, m = values.shape
    slope = np.full(m, np.nan)
    if t >= 2 and m:
        band_per_series = 16 * SEN_BRACKET * 2.5 * t * (t - 1) / 2  # bytes (value + column) with a margin
        group = max(1, int(SEN_BAND_BYTES // max(band_per_series, 1.0)))
        for start in range(0, m, group):
            block = np.ascontiguousarray(values[:, start : start + group], dtype=np.float64)
            slope[start : start + group] = _bracketed_median_slopes(block, max_pairs)
    index = np.arange(t, dtype=np.float64)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing series
        median_index = np.nanmedian(np.where(np.isfinite(values), index, np.nan), axis=0)
        intercept = np.nanmedian(values, axis=0) - median_index * slope
    return slope, intercept


def _bracketed_median_slopes(block: np.ndarray, max_pairs: int) -> np.ndarray:
    """Median pairwise slope of each column of float64[T, G] (see :func:`sens_slope`)."""
    t, g = block.shape
    n = np.isfinite(block).sum(axis=0)
    pairs = n * (n - 1) // 2  # valid pairs per series
    if t * (t - 1) // 2 <= 4 * SEN_SAMPLE_PAIRS:  # short series: sorting all slopes is as quick
        return _sens_slope_all_pairs(block, max_pairs)
    all_i, all_j = np.triu_indices(t, 1)
    drawn = np.random.default_rng(0).choice(all_i.size, SEN_SAMPLE_PAIRS, replace=False)  # uniform over pairs
    i, j = all_i[drawn], all_j[drawn]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # series without a valid sampled pair
        sample = (block[j] - block[i]) / (j - i)[:, None]
        low, high = np.nanquantile(sample, [0.5 - SEN_BRACKET, 0.5 + SEN_BRACKET], axis=0)
    below = np.zeros(g, np.int64)
    kept_values, kept_columns = [], []
    with np.errstate(invalid="ignore"):
        for lag in range(1, t):
            d = (block[lag:] - block[:-lag]) / lag
            below += (d < low).sum(axis=0)
            rows, columns = np.nonzero((d >= low) & (d <= high))
            kept_values.append(d[rows, columns])
            kept_columns.append(columns)
    kept, owner = np.concatenate(kept_values), np.concatenate(kept_columns)
    kept = kept[np.argsort(owner, kind="stable")]  # grouped by series
    counts = np.bincount(owner, minlength=g)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # 0-based ranks of the middle slope(s) among the valid ones, then within the bracket
    upper = pairs // 2 - below
    lower = (pairs - 1) // 2 - below
    found = (pairs > 0) & (lower >= 0) & (upper < counts)
    result = np.full(g, np.nan)
    for column in np.flatnonzero(found):
        inside = np.partition(kept[first[column] : first[column] + counts[column]], (lower[column], upper[column]))
        result[column] = (
            inside[upper[column]] if pairs[column] % 2 else (inside[lower[column]] + inside[upper[column]]) / 2
        )
    missed = np.flatnonzero((pairs > 0) & ~found)
    if missed.size:
        result[missed] = _sens_slope_all_pairs(block[:, missed], max_pairs)
    return result


def _sens_slope_all_pairs(values: np.ndarray, max_pairs: int) -> np.ndarray:
    """Median pairwise slope per series float[T, M] from all slopes, in chunks of ``max_pairs`` slopes."""
    t, m = values.shape
    i, j = np.triu_indices(t, 1)
    slope = np.full(m, np.nan)
    chunk = max(1, max_pairs // max(i.size, 1))
    with np.errstate(invalid="ignore"):
        for start in range(0, m, chunk):
            block = values[:, start : start + chunk]
            # pairs along the last axis (contiguous per series: the median's partition stays in cache)
            d = np.ascontiguousarray((block[j] - block[i]).T) / (j - i)[None]
            if np.isfinite(block).all():
                slope[start : start + chunk] = np.median(d, axis=1)  # no gaps: the faster median
                continue
            ok = np.isfinite(d).any(axis=1)
            slope[start : start + chunk][ok] = np.nanmedian(d[ok], axis=1)
    return slope


def _autocorrelation(x: np.ndarray) -> np.ndarray:
    """ρ_k for k = 0..n−1 of each column (biased, as pymannkendall's __acf), via FFT."""
    n = x.shape[0]
    y = x - x.mean(axis=0)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(y, size, axis=0)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size, axis=0)[:n] / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return acov / acov[:1]


def mann_kendall(values: np.ndarray, hamed_rao: bool = True, alpha: float = 0.05) -> TrendResult:
    """Mann-Kendall test of each column of ``values`` float[T, M]."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n = np.isfinite(values).sum(axis=0).astype(np.float64)
    s = mk_score(values)
    original_var = variance_s(values)
    slope, intercept = sens_slope(values)
    var_s = original_var
    if hamed_rao:  # a non-positive corrected variance (NaN in pymannkendall) keeps the uncorrected one
        factor = _hamed_rao_factor(values, slope, n, alpha)
        var_s = np.where(factor > 0, original_var * factor, original_var)
    z, z_original = z_from_s(s, var_s), z_from_s(s, original_var)
    p, p_original = p_value(z), p_value(z_original)
    short = n < MIN_LENGTH
    for array, variance in ((z, var_s), (p, var_s), (z_original, original_var), (p_original, original_var)):
        array[short | ~(variance > 0)] = np.nan
    return TrendResult(s, var_s, z, p, slope, intercept, n, z_original, p_original)


def _hamed_rao_factor(values: np.ndarray, slope: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """n/n* per series. Complete series are handled together; series with gaps one by one (compacted, as the
    reference implementation skips missing values)."""
    factor = np.ones(values.shape[1])
    complete = np.isfinite(values).all(axis=0)
    groups = [(np.flatnonzero(complete), values[:, complete])]
    groups += [(np.array([c]), values[np.isfinite(values[:, c]), c][:, None]) for c in np.flatnonzero(~complete)]
    for columns, block in groups:
        length = block.shape[0]
        if columns.size == 0 or length < MIN_LENGTH:
            continue
        detrended = block - np.arange(1, length + 1)[:, None] * slope[columns][None]
        ranks = rankdata(detrended, axis=0)
        rho = _autocorrelation(ranks)
        bound = norm.ppf(1 - alpha / 2) / np.sqrt(length)
        lags = np.arange(1, length)[:, None]
        weight = (length - lags) * (length - lags - 1) * (length - lags - 2)
        significant = (rho[1:] > bound) | (rho[1:] < -bound)
        sni = np.nansum(np.where(significant, weight * rho[1:], 0.0), axis=0)
        factor[columns] = 1 + (2 / (length * (length - 1) * (length - 2))) * sni
    return factor


@dataclass
class SeasonalTrendResult:
    """Seasonal Mann-Kendall (Hirsch & Slack 1984) per series, arrays float64[M]: S and Var(S) summed over the
    seasons, z, two-sided p, and Sen's seasonal slope per cycle (per year for monthly or quarterly data)."""

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    slope: np.ndarray


def seasonal_mann_kendall(values: np.ndarray, period: int, max_pairs: int = 2_000_000) -> SeasonalTrendResult:
    """Seasonal Mann-Kendall test of each column of ``values`` float[T, M] on a regular axis, ``period`` steps per
    cycle (12 for monthly, 4 for quarterly data); equals pymannkendall 1.4 ``seasonal_test(x, period)``: the
    series is cut into cycles from its first step (a short last cycle is padded with NaN), S and Var(S) of each
    season across the cycles are summed, and the slope is the median of all within-season pair slopes per cycle.
    NaN where fewer than 2 cycles hold data."""
    values = np.asarray(values, dtype=np.float64)
    t, m = values.shape
    cycles = -(-t // period)
    padded = np.full((cycles * period, m), np.nan)
    padded[:t] = values
    by_season = padded.reshape(cycles, period * m)  # columns: season-major, then series
    s = mk_score(by_season).reshape(period, m).sum(axis=0)
    var_s = variance_s(by_season).reshape(period, m).sum(axis=0)
    z = z_from_s(s, var_s)
    p = p_value(z)
    slope = np.full(m, np.nan)
    i, j = np.triu_indices(cycles, 1)
    chunk = max(1, max_pairs // max(i.size * period, 1))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # series without any within-season pair
        for start in range(0, m, chunk):
            block = padded.reshape(cycles, period, m)[:, :, start : start + chunk]
            pairs = (block[j] - block[i]) / (j - i)[:, None, None]  # [pairs, period, chunk]
            slope[start : start + chunk] = np.nanmedian(pairs.reshape(-1, block.shape[2]), axis=0)
    bad = ~(var_s > 0) | (np.isfinite(padded.reshape(cycles, period, m)).any(axis=1).sum(axis=0) < 2)
    for array in (z, p, slope):
        array[bad] = np.nan
    return SeasonalTrendResult(s, var_s, z, p, slope)
