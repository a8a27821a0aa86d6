"""Time steps: a fixed duration or whole calendar months (month, quarter, year), their text forms, and the
regular times they make (calendar dates: Jan 31 → Feb 29 → Mar 31)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.data.time_parsing import format_duration
from backend.errors import UserInputError

MEAN_YEAR_SECONDS = 365.2425 * 86400


MEAN_MONTH_SECONDS = MEAN_YEAR_SECONDS / 12


DST_TOLERANCE_SECONDS = 3600  # steps of a day or more: times up to an hour off the axis (DST, local clocks) sit on it


_CALENDAR_UNITS = {
    "m": 1,
    "mo": 1,
    "ms": 1,
    "me": 1,
    "month": 1,
    "months": 1,
    "q": 3,
    "qs": 3,
    "quarter": 3,
    "quarters": 3,
    "y": 12,
    "a": 12,
    "ys": 12,
    "year": 12,
    "years": 12,
}


_STEP_TEXT = re.compile(r"^\s*(\d*)\s*([A-Za-z]+)\s*$")


@dataclass(frozen=True)
class TimeStep:
    """A regular time step: a fixed duration (``seconds``) or whole calendar months (``months``: 1 = month,
    3 = quarter, 12 = year). Calendar steps keep the day of the month and the time of day (month ends stay
    month ends), so axes of calendar steps hold real dates, never 30-day approximations."""

    seconds: int = 0
    months: int = 0

    @classmethod
    def from_fields(cls, seconds: float | None, months: int | None) -> TimeStep:
        """The step stored as ``step_seconds`` / ``step_months`` (months win when set)."""
        return cls(months=int(months)) if months else cls(seconds=int(round(float(seconds or 0))))

    def fields(self) -> dict:
        """``step_seconds`` (nominal for calendar steps) and ``step_months`` (None for fixed steps)."""
        return {"step_seconds": self.nominal_seconds, "step_months": self.months or None}

    @property
    def is_calendar(self) -> bool:
        return self.months > 0

    @property
    def nominal_seconds(self) -> float:
        """Mean length in seconds (a month is 1/12 of the mean Gregorian year): for choices, never for dates."""
        return float(self.seconds) if self.seconds else self.months * MEAN_MONTH_SECONDS

    @property
    def per_year(self) -> float:
        """Steps per (mean Gregorian) year: 12 for months, 4 for quarters, 365.2425 for days."""
        return 12.0 / self.months if self.months else MEAN_YEAR_SECONDS / self.seconds

    @property
    def text(self) -> str:
        if self.months:
            if self.months % 12 == 0:
                years = self.months // 12
                return f"{years} year{'s' if years > 1 else ''}"
            return "1 quarter" if self.months == 3 else f"{self.months} month{'s' if self.months > 1 else ''}"
        return format_duration(self.seconds) if self.seconds else "single time"

    @property
    def code(self) -> str:
        """Short text that :func:`parse_time_step` reads back: ``1M``, ``3M``, ``1Y``, ``1D``, ``3600s``."""
        if self.months:
            return f"{self.months // 12}Y" if self.months % 12 == 0 else f"{self.months}M"
        return f"{self.seconds // 86400}D" if self.seconds % 86400 == 0 else f"{self.seconds}s"

    def to_dict(self) -> dict:
        return {"seconds": self.seconds or None, "months": self.months or None, "text": self.text, "code": self.code}

    def times(self, start: np.datetime64, count: int, first: int = 0) -> np.ndarray:
        """``count`` times start + k·step for k = first … first + count − 1, datetime64[s]."""
        return self.at(start, np.arange(first, first + count, dtype=np.int64))

    def at(self, start: np.datetime64, offsets: np.ndarray) -> np.ndarray:
        """The times start + k·step for each whole k of ``offsets``, datetime64[s]."""
        start = np.datetime64(start, "s")
        offsets = np.asarray(offsets, dtype=np.int64)
        if not self.months:
            return start + offsets * np.timedelta64(self.seconds, "s")
        day = start.astype("datetime64[D]")
        month = day.astype("datetime64[M]")
        length = int(((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64))
        day_of_month = int((day - month.astype("datetime64[D]")).astype(np.int64)) + 1
        months = month + offsets * self.months
        starts = months.astype("datetime64[D]")
        lengths = ((months + 1).astype("datetime64[D]") - starts).astype(np.int64)
        days = lengths if day_of_month == length and day_of_month >= 28 else np.minimum(day_of_month, lengths)
        return (starts + (days - 1)).astype("datetime64[s]") + (start - day.astype("datetime64[s]"))

    def positions(self, times: np.ndarray, start: np.datetime64 | None = None) -> np.ndarray:
        """float64[T]: steps from ``start`` (default the first time) to each time; whole numbers on the axis.

        Fixed steps of a day or more round times up to an hour off (DST, local clocks) onto the axis."""
        times = np.asarray(times, dtype="datetime64[s]")
        start = times[0] if start is None else np.datetime64(start, "s")
        if self.months:
            month_of = lambda t: t.astype("datetime64[M]").astype(np.int64)  # noqa: E731
            whole = (month_of(times) - month_of(np.asarray(start))) / self.months
            rounded = np.round(whole)
            candidate = np.isclose(whole, rounded)
            on_axis = np.zeros(times.shape, dtype=bool)
            on_axis[candidate] = self.at(start, rounded[candidate]) == times[candidate]
            return np.where(on_axis, rounded, whole + 0.5 * (~on_axis & candidate))
        seconds = (times - start).astype(np.int64).astype(np.float64)
        steps = seconds / self.seconds
        if self.seconds >= 86400:
            rounded = np.round(steps)
            snap = np.abs(seconds - rounded * self.seconds) <= DST_TOLERANCE_SECONDS
            steps = np.where(snap, rounded, steps)
        return steps


def parse_time_step(text: str, what: str = "time step") -> TimeStep:
    """A step written as ``1M``/``month``, ``3M``/``1Q``/``quarter``, ``1Y``/``year`` (calendar) or a duration
    (``1D``, ``6h``, ``30min``, ``7 days``)."""
    raw = str(text).strip()
    match = _STEP_TEXT.match(raw)
    if match and match.group(2).lower() in _CALENDAR_UNITS and match.group(2) not in ("m", "ms"):
        count = int(match.group(1) or 1)
        if count <= 0:
            raise UserInputError(f"The {what} must be positive, got {text!r}.")
        return TimeStep(months=count * _CALENDAR_UNITS[match.group(2).lower()])
    if match and match.group(2) in ("m", "ms"):
        raise UserInputError(
            f"The {what} {text!r} is ambiguous: write 1M (or 'month') for months and 1min for minutes."
        )
    try:
        duration = pd.Timedelta(raw if not raw[:1].isalpha() else "1" + raw)
    except (ValueError, TypeError) as exc:
        raise UserInputError(
            f"Cannot read the {what} {text!r}; write e.g. 1h, 1D, 7D, 1M (month), 3M (quarter) or 1Y (year)."
        ) from exc
    if pd.isna(duration) or duration <= pd.Timedelta(0) or duration.total_seconds() % 1:
        raise UserInputError(
            f"The {what} must be positive: a whole number of seconds or calendar months, got "
            f"{text!r}; write e.g. 1h, 1D, 1M or 1Y."
        )
    return TimeStep(seconds=int(duration.total_seconds()))


def calendar_months(times: np.ndarray) -> np.ndarray:
    """float64[T]: months since 1970-01 with the elapsed share of the month as fraction (2005-03-16T12:00 →
    422.5); whole numbers on the first of a month, so monthly axes have exact whole-month lags."""
    times = np.asarray(times, dtype="datetime64[s]")
    month = times.astype("datetime64[M]")
    start = month.astype("datetime64[s]")
    length = ((month + 1).astype("datetime64[s]") - start).astype(np.int64)
    return month.astype(np.int64) + (times - start).astype(np.int64) / length


def steps_until(start: np.datetime64, end: np.datetime64, step: TimeStep) -> int:
    """How many times start, start + step, … lie on or before ``end`` (at least 1)."""
    if end < start:
        return 1
    position = step.positions(np.array([end], dtype="datetime64[s]"), start)[0]
    count = int(np.floor(position + 1e-9)) + 1
    return count if step.times(start, 1, count - 1)[0] <= end else count - 1
