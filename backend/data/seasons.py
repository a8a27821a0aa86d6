"""Seasons of a time axis for profiles and climatologies: hour of day (or of the week), day of year, month."""

from __future__ import annotations

import numpy as np

from backend.data.time_step import TimeStep

WEEK_SECONDS = 7 * 86400


def season_index(times: np.ndarray, step: TimeStep, weekly: bool = False) -> tuple[np.ndarray, int]:
    """Season of each time and the number of seasons: hour of day (sub-daily; with ``weekly``, the step of
    the week), day of year (daily), month."""
    step_seconds = step.nominal_seconds
    if weekly and step_seconds < 86400:
        seconds = times.astype("datetime64[s]").astype(np.int64) + 3 * 86400  # weeks start on Monday
        width = int(round(step_seconds))
        return ((seconds % WEEK_SECONDS) // width).astype(int), int(np.ceil(WEEK_SECONDS / width))
    if step_seconds < 86400:
        return (times.astype("datetime64[s]").astype(np.int64) % 86400 // 3600).astype(int), 24
    if step_seconds < 28 * 86400:
        return np.minimum((times.astype("datetime64[D]") - times.astype("datetime64[Y]")).astype(int), 364), 365
    return (times.astype("datetime64[M]").astype(int) % 12), 12
