"""Block-wise anomaly scores for raster stacks: expected value per cell and time, robust z along time.

Methods: seasonal (median per cell and season: hour of day / day of year / month) or rolling_median
(median of the preceding ``window_steps`` steps per cell); auto takes seasonal when every season occurs at
least twice, else the rolling median, and says so in ``choice``. Memory is bounded by the block size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from backend.anomaly.scores import robust_z
from backend.data.seasons import season_index
from backend.data.time_step import TimeStep
from backend.errors import UserInputError

RASTER_METHODS = ("auto", "seasonal", "rolling_median")


def seasonal_expected_block(values_thw: np.ndarray, seasons: np.ndarray, n_seasons: int) -> np.ndarray:
    """Median of each cell's values in the same season (NaN where a cell has none)."""
    expected = np.full(values_thw.shape, np.nan, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells in a season
        for s in range(n_seasons):
            rows = seasons == s
            if rows.any():
                expected[rows] = np.nanmedian(values_thw[rows], axis=0)[None]
    return expected


def rolling_expected_block(values_thw: np.ndarray, window_steps: int) -> np.ndarray:
    """Median of the previous ``window_steps`` values per cell (NaN for the first step)."""
    padded = np.concatenate([np.full((window_steps,) + values_thw.shape[1:], np.nan, np.float32), values_thw[:-1]])
    windows = sliding_window_view(padded, window_steps, axis=0)  # [T, h, w, k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(windows, axis=-1).astype(np.float32)


class RasterScorer:
    """Scores blocks of a stack with a fixed method; ``score(block)`` → |z| float32[T, h, w] (NaN = no data)."""

    def __init__(self, method: str, times: np.ndarray, step: TimeStep, window_steps: int = 24) -> None:
        if method not in RASTER_METHODS:
            raise UserInputError(f"Unknown method {method!r}; use one of {', '.join(RASTER_METHODS)}.")
        self.seasons, self.n_seasons = season_index(times, step)
        per_season = np.bincount(self.seasons, minlength=self.n_seasons)
        too_short = bool((per_season[per_season > 0] < 2).all())
        self.choice = method
        if method == "auto":
            method = "rolling_median" if too_short else "seasonal"
            self.choice = "METHOD auto: " + (
                f"rolling median of the preceding {window_steps} steps (each season of the stack occurs only once: "
                "too short for a seasonal profile)."
                if too_short
                else "seasonal profile (every season occurs at least twice)."
            )
        elif method == "seasonal" and too_short:
            raise UserInputError(
                "The stack is too short for a seasonal profile: each season (hour of day, day of "
                "year or month) occurs only once. Use the rolling median method (or METHOD auto)."
            )
        self.method, self.window_steps = method, window_steps
        if method == "rolling_median" and window_steps < 2:
            raise UserInputError("The rolling window needs at least 2 steps.")

    @property
    def work_bytes_per_value(self) -> int:
        """Peak working memory of :func:`score_chunk` per value of a chunk, input included (measured with
        tracemalloc: 21 B seasonal; the rolling median's window view and its median's copy, ≈ 19 B per step)."""
        return 32 if self.method == "seasonal" else 32 + 20 * self.window_steps

    def score(self, values_thw: np.ndarray) -> np.ndarray:
        if self.method == "seasonal":
            expected = seasonal_expected_block(values_thw, self.seasons, self.n_seasons)
        else:
            expected = rolling_expected_block(values_thw, self.window_steps)
        return np.abs(robust_z(values_thw - expected)).astype(np.float32)


@dataclass
class ChunkScores:
    """One chunk's results: ``scores`` |z| float32[T, h, w]; ``flags`` 1/0 float32[T, h, w] (NaN = no data);
    ``count`` flagged steps per cell float32[h, w] (NaN where the cell has no data at all)."""

    scores: np.ndarray
    flags: np.ndarray
    count: np.ndarray


def score_chunk(values_thw: np.ndarray, scorer: RasterScorer, threshold: float) -> ChunkScores:
    """Scores, flags (score > ``threshold``) and counts of a chunk float32[T, h, w] (NaN = no data)."""
    valid = np.isfinite(values_thw)
    score = scorer.score(values_thw)
    flagged = (score > threshold) & valid
    flags = np.where(valid, flagged, np.nan).astype(np.float32)
    count = np.where(valid.any(axis=0), flagged.sum(axis=0), np.nan).astype(np.float32)
    return ChunkScores(score, flags, count)
