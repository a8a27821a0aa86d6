"""Diagnostics of many series at once (stations or raster cells): values float[T, M] on a regular axis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.data.time_step import TimeStep
from backend.diagnostics.changepoints import binary_segmentation
from backend.diagnostics.series_tests import dominant_period, seasonality_strengths, stationarity_tests
from backend.diagnostics.trend import MIN_LENGTH, mann_kendall, seasonal_mann_kendall

FIELDS = [
    "trend_slope",
    "trend_z",
    "trend_p",
    "seasonality",
    "period",
    "adf_p",
    "kpss_p",
    "stationarity",
    "change_points",
    "first_change",
    "missing_share",
    "n_values",
    "mk_z",
    "mk_p",
    "slope_per_year",
    "seasonal_mk_z",
    "seasonal_mk_p",
    "seasonal_slope_per_year",
]
DESCRIPTIONS = {
    "trend_slope": "Sen's slope (units per time step)",
    "trend_z": "Mann-Kendall z (Hamed-Rao corrected)",
    "trend_p": "Mann-Kendall p (Hamed-Rao corrected)",
    "seasonality": "STL seasonality strength (0-1)",
    "period": "dominant period (time steps, periodogram)",
    "adf_p": "ADF p (H0: unit root)",
    "kpss_p": "KPSS p (H0: level-stationary)",
    "stationarity": "0 stationary, 1 trend-stationary, 2 difference-stationary, 3 non-stationary",
    "change_points": "number of change points in the mean",
    "first_change": "time step index of the first change",
    "missing_share": "share of missing time steps",
    "n_values": "number of values",
    "mk_z": "Mann-Kendall z (original test, no correction)",
    "mk_p": "Mann-Kendall p (original test)",
    "slope_per_year": "Sen's slope per year (units per year: per-step slope × steps per year)",
    "seasonal_mk_z": "seasonal Mann-Kendall z (monthly or quarterly data; Hirsch-Slack)",
    "seasonal_mk_p": "seasonal Mann-Kendall p (monthly or quarterly data)",
    "seasonal_slope_per_year": "Sen's seasonal slope (units per year; monthly or quarterly data)",
}


def seasonal_test_period(step: TimeStep | None) -> int:
    """Seasons per year for the seasonal Mann-Kendall test: 12 for monthly, 4 for quarterly data, else 0 (the
    test is left empty)."""
    return 12 // step.months if step is not None and step.months in (1, 3) else 0


@dataclass
class DiagnosticSettings:
    """period: STL period in steps (0 = from the calendar); alpha: test level; max_changes/min_size: binary
    segmentation limits (min_size in steps)."""

    period: int = 0
    alpha: float = 0.05
    max_changes: int = 5
    min_size: int = 5


@dataclass
class Diagnosis:
    """fields: name → float64[M] (the FIELDS written out); changes: change-point step indices int[M, max_changes]
    (−1 = none); intercept: float64[M] of Sen's line (value at step 0), for plots."""

    fields: dict[str, np.ndarray]
    changes: np.ndarray
    intercept: np.ndarray


def diagnose(
    values: np.ndarray, period: int, settings: DiagnosticSettings, step: TimeStep | None = None, series_in_run: int = 0
) -> Diagnosis:
    """The diagnostics of series float[T, M] on a regular axis of ``step`` (per-year slopes and the seasonal test
    need it; without it they stay NaN); ``series_in_run``: the series of all chunks of the run (see
    :func:`seasonality_strengths`).

    Vectorised: trend, periodogram, change points, ADF; per series (statsmodels): STL and KPSS.
    Series with fewer than 4 values, or constant, get NaN (their ``n_values`` says why).
    """
    t, m = values.shape
    n = np.isfinite(values).sum(axis=0)
    usable = n >= MIN_LENGTH
    out = {name: np.full(m, np.nan) for name in FIELDS}
    out["n_values"] = n.astype(np.float64)
    out["missing_share"] = 1 - n / max(t, 1)
    changes = np.full((m, settings.max_changes), -1)
    intercept = np.full(m, np.nan)
    if not usable.any():
        return Diagnosis(out, changes, intercept)
    block = values[:, usable].astype(np.float64)
    trend = mann_kendall(block, hamed_rao=True, alpha=settings.alpha)
    out["trend_slope"][usable], out["trend_z"][usable], out["trend_p"][usable] = trend.slope, trend.z, trend.p
    out["mk_z"][usable], out["mk_p"][usable] = trend.z_original, trend.p_original
    if step is not None:
        out["slope_per_year"][usable] = trend.slope * step.per_year
    seasons = seasonal_test_period(step)
    if seasons:
        seasonal = seasonal_mann_kendall(block, seasons)
        out["seasonal_mk_z"][usable], out["seasonal_mk_p"][usable] = seasonal.z, seasonal.p
        out["seasonal_slope_per_year"][usable] = seasonal.slope  # per cycle: 12 months or 4 quarters = a year
    intercept[usable] = trend.intercept
    out["period"][usable] = dominant_period(block)
    changes[usable] = binary_segmentation(block, settings.max_changes, settings.min_size)
    out["change_points"][usable] = (changes[usable] >= 0).sum(axis=1)
    first = changes[usable, 0].astype(np.float64)
    out["first_change"][usable] = np.where(first >= 0, first, np.nan)
    adf, kpss_p, verdict = stationarity_tests(block, settings.alpha)
    out["adf_p"][usable], out["kpss_p"][usable] = adf, kpss_p
    out["stationarity"][usable] = np.where(verdict >= 0, verdict, np.nan)
    out["seasonality"][usable] = seasonality_strengths(block, period, series_in_run)
    constant = usable & (
        np.nanmax(np.where(np.isfinite(values), values, -np.inf), axis=0)
        == np.nanmin(np.where(np.isfinite(values), values, np.inf), axis=0)
    )
    for name in ("trend_z", "trend_p", "period", "mk_z", "mk_p", "seasonal_mk_z", "seasonal_mk_p"):
        out[name][constant] = np.nan
    return Diagnosis(out, changes, intercept)


# Peak working memory of diagnose, measured (tracemalloc, 744-step series): a fixed part per call (Sen's pairwise
# slopes in chunks of 2 M pairs) and a part per value (float64 copies, STL components, tests).
WORK_BYTES_PER_CHUNK = 64 * 2**20
WORK_BYTES_PER_VALUE = 8 * 32


def diagnose_chunk(
    block_thw: np.ndarray,
    times: np.ndarray,
    period: int,
    settings: DiagnosticSettings,
    step: TimeStep | None,
    series_in_run: int = 0,
) -> Diagnosis:
    """The diagnostics of the cells of one raster chunk float32[T, h, w] with band ``times`` (datetime64[s][T]),
    placed on their regular axis first (missing steps as NaN); fields per cell in row order (float64[h·w])."""
    from backend.diagnostics.sources import regular_block

    block = regular_block(times, block_thw)
    return diagnose(block.reshape(block.shape[0], -1), period, settings, step, series_in_run)
