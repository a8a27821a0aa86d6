"""Thresholds on scores and events (runs of flagged points merged across short gaps)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from backend.errors import UserInputError

THRESHOLD_MODES = ("score", "quantile", "false_alarm_rate")


def threshold_value(mode: str, value: float, scores: np.ndarray) -> float:
    """The score above which a point is flagged.

    score: ``value`` itself (e.g. 3.5); quantile: that quantile (0–1) of all finite scores;
    false_alarm_rate: the |z| exceeded with probability ``value`` by normal residuals, Φ⁻¹(1 − value/2).
    """
    if mode == "score":
        if not value > 0:
            raise UserInputError(f"A score threshold must be > 0, got {value}.")
        return float(value)
    if not 0 < value < 1:
        raise UserInputError(f"A {mode.replace('_', ' ')} must be between 0 and 1, got {value}.")
    if mode == "quantile":
        finite = scores[np.isfinite(scores)]
        if finite.size == 0:
            raise UserInputError("No score could be computed (every value is missing).")
        return float(np.quantile(finite, value))
    if mode == "false_alarm_rate":
        return float(norm.ppf(1 - value / 2))
    raise UserInputError(f"Unknown threshold mode {mode!r}; use one of {', '.join(THRESHOLD_MODES)}.")


@dataclass(frozen=True)
class Event:
    station: str
    number: int  # 1-based within its station
    start: np.datetime64
    end: np.datetime64
    peak_time: np.datetime64
    peak_score: float
    points: int

    @property
    def event_id(self) -> str:
        return event_id(self.station, self.number)


def event_id(station: str, number: int) -> str:
    """``station#number``, or '' for number 0 (no event)."""
    return f"{station}#{number}" if number else ""


def find_events(
    station: str, times: np.ndarray, scores: np.ndarray, flags: np.ndarray, min_gap_seconds: float
) -> tuple[list[Event], np.ndarray]:
    """Events of one series and the event number of each point (0 = none, else 1-based within the series)."""
    event_of = np.zeros(times.size, dtype=np.int64)
    events: list[Event] = []
    flagged = np.flatnonzero(flags)
    if flagged.size == 0:
        return events, event_of
    seconds = times.astype("datetime64[s]").astype(np.int64)
    groups = np.split(flagged, np.flatnonzero(np.diff(seconds[flagged]) > min_gap_seconds) + 1)
    for number, group in enumerate(groups, start=1):
        peak = group[np.nanargmax(scores[group])]
        events.append(
            Event(station, number, times[group[0]], times[group[-1]], times[peak], float(scores[peak]), int(group.size))
        )
        event_of[group] = number
    return events, event_of
