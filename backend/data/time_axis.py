"""Time axes: parsing timestamps, ordering checks, regular-step and gap detection.

All times are naive UTC ``datetime64[s]`` (time zones are converted to UTC and dropped).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from backend.errors import UserInputError
from backend.memory import require_memory

_MAX_EXAMPLES = 5
MAX_EMPTY_FACTOR = 20  # a regular axis with more steps than this × the times is mostly empty: refused


_MIXED = {"format": "mixed"} if int(pd.__version__.split(".")[0]) >= 2 else {}
_ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?:[T ,]+(.*))?$")
_TIME_OF_DAY = ("", " %H:%M", " %H:%M:%S")


def to_utc_naive(values) -> pd.Series:
    """Parse ISO 8601 or date-like objects to naive UTC timestamps; unparseable entries become NaT.

    Each value is read on its own: use it only for values that are unambiguous (ISO text, dates)."""
    with warnings.catch_warnings():  # pandas warns about per-element format inference
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", utc=True, **_MIXED)
    return parsed.dt.tz_convert(None)


def _with_format(texts: pd.Series, time_format: str) -> pd.Series:
    parsed = pd.to_datetime(texts, format=time_format, errors="coerce", utc=True)
    return parsed.dt.tz_convert(None)


def _numeric_date_format(texts: pd.Series, what: str) -> str:
    """The one strptime pattern of day/month/year text such as 31/01/2005 or 01.31.2005 14:00.

    The order is decided from the whole column: a first number above 12 means day first, a second
    number above 12 month first; a column where neither occurs is ambiguous and refused."""
    parts = texts.str.extract(_NUMERIC_DATE)
    first, second = parts[0].astype(int), parts[2].astype(int)
    separator = parts[1].iloc[0]
    year = "%Y" if len(parts[3].iloc[0]) == 4 else "%y"
    if (parts[1] != separator).any() or parts[3].str.len().nunique() > 1:
        raise UserInputError(
            f"The {what} mix date formats (separators or year digits differ). Give the format as "
            "TIME_FORMAT (e.g. %d/%m/%Y) or fix the values."
        )
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        raise UserInputError(
            f"The {what} put the day first in some rows and the month first in others (e.g. "
            f"{texts[first > 12].iloc[0]!r} and {texts[second > 12].iloc[0]!r}). Fix the column so "
            "that it uses one date format."
        )
    if not day_first and not month_first:
        raise UserInputError(
            f"The {what} can be read day first or month first (e.g. {texts.iloc[0]!r}). Give the "
            f"format as TIME_FORMAT: %d{separator}%m{separator}{year} (day first) or "
            f"%m{separator}%d{separator}{year} (month first), with %H:%M for a time of day."
        )
    date = f"%d{separator}%m{separator}{year}" if day_first else f"%m{separator}%d{separator}{year}"
    clock = parts[4].dropna()
    colons = int(clock.str.count(":").max()) if not clock.empty else 0
    return date + _TIME_OF_DAY[min(colons, 2)]


def _parse_column(texts: pd.Series, what: str) -> pd.Series:
    """Read a text column with one format for every value: ISO 8601, day/month order decided from the whole
    column, or the format pandas infers from the first value."""
    if texts.str.match(_ISO).all():
        return to_utc_naive(texts)
    if texts.str.match(_NUMERIC_DATE).all():
        return _with_format(texts, _numeric_date_format(texts, what))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        options = {} if _MIXED else {"infer_datetime_format": True}
        parsed = pd.to_datetime(texts, errors="coerce", utc=True, **options)
    return parsed.dt.tz_convert(None)


def parse_times(values, what: str = "time values", time_format: str | None = None) -> np.ndarray:
    """Parse strings/dates/datetimes into naive UTC ``datetime64[s]``, one format for the whole column.

    ``time_format``: a strptime pattern (``%d/%m/%Y %H:%M``) that every text value must follow; without
    it ISO 8601 is read, day/month order is decided from the whole column (ambiguous columns are
    refused), other text follows the format of its first value. Unparseable entries raise
    :class:`UserInputError` quoting a few of them.
    """
    series = pd.Series(list(values), dtype=object)
    if series.empty:
        return np.array([], dtype="datetime64[s]")
    missing = series.isna() | (series.astype(str).str.strip() == "")
    if missing.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(missing.to_numpy())[:_MAX_EXAMPLES])
        raise UserInputError(
            f"{int(missing.sum())} {what} are empty (rows {rows}…). Fill them in or remove those "
            "features before running."
        )
    numbers = series.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
    if numbers.any():
        examples = ", ".join(str(v) for v in series[numbers].unique()[:3])
        raise UserInputError(
            f"The {what} are numbers ({examples}…), not dates or times. Choose a date/time field, or "
            "text in ISO 8601 such as 2005-01-31."
        )
    texts = series.map(lambda v: v.strip() if isinstance(v, str) else v)
    is_text = texts.map(lambda v: isinstance(v, str))
    parsed = to_utc_naive(texts.where(~is_text, None)).copy()
    if is_text.any():
        text_values = texts[is_text].astype(str)
        if time_format:
            parsed[is_text] = _with_format(text_values, time_format)
        else:
            parsed[is_text] = _parse_column(text_values, what)
    bad = parsed.isna()
    if bad.any():
        examples = ", ".join(repr(v) for v in series[bad].astype(str).unique()[:_MAX_EXAMPLES])
        expected = (
            f"the format {time_format!r}"
            if time_format
            else "ISO 8601 (2005-01-31 or 2005-01-31T12:00:00Z), one format for the whole column"
        )
        raise UserInputError(
            f"{int(bad.sum())} {what} could not be read as dates/times, e.g. {examples}. Expected {expected}; "
            "give the format as TIME_FORMAT (a strptime pattern such as %d/%m/%Y %H:%M) or use a date/time field."
        )
    return parsed.to_numpy().astype("datetime64[s]")


def format_time(t: np.datetime64) -> str:
    """ISO 8601 UTC text of a ``datetime64``, e.g. ``2019-03-01T00:00:00Z``."""
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str, what: str) -> pd.Timedelta:
    """A positive duration written as '6h', '2 days', '30min'; anything else is a clear input error."""
    try:
        duration = pd.Timedelta(str(text).strip())
    except ValueError as exc:
        raise UserInputError(f"Cannot read the {what} {text!r}; write e.g. '6h', '2 days' or '30min'.") from exc
    if pd.isna(duration) or duration <= pd.Timedelta(0):
        raise UserInputError(f"The {what} must be a positive duration, got {text!r}; write e.g. '6h' or '2 days'.")
    return duration


def format_duration(seconds: float) -> str:
    """Human text of a time step: ``5 min``, ``1 h``, ``1 day``."""
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''}"
    return f"{seconds:g} s"


_STRPTIME_REGEX = {
    "%Y": r"\d{4}",
    "%y": r"\d{2}",
    "%m": r"\d{2}",
    "%d": r"\d{2}",
    "%H": r"\d{2}",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
    "%j": r"\d{3}",
    "%b": r"[A-Za-z]{3}",
    "%%": "%",
}


def filename_pattern_regex(pattern: str) -> re.Pattern[str]:
    """Regex that finds a ``strptime`` pattern (``%Y%m%d``, ``%Y-%j`` …) inside a file name."""
    parts, i = [], 0
    while i < len(pattern):
        token = pattern[i : i + 2]
        if token in _STRPTIME_REGEX:
            parts.append(_STRPTIME_REGEX[token])
            i += 2
        elif pattern[i] == "%":
            raise UserInputError(
                f"The filename pattern {pattern!r} uses {token!r}, which is not supported. "
                f"Use {', '.join(k for k in _STRPTIME_REGEX if k != '%%')}."
            )
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    if not any(k in pattern for k in ("%Y", "%y")):
        raise UserInputError(f"The filename pattern {pattern!r} needs a year (%Y or %y).")
    return re.compile("".join(parts))


def time_from_filename(name: str, pattern: str) -> np.datetime64:
    """Time encoded in a file name by a ``strptime`` pattern; the first match that parses wins."""
    regex = filename_pattern_regex(pattern)
    for match in regex.finditer(name):
        try:
            return np.datetime64(datetime.strptime(match.group(0), pattern), "s")
        except ValueError:
            continue
    raise UserInputError(
        f"The file name {name!r} does not contain a date matching the pattern {pattern!r} "
        "(e.g. %Y%m%d finds 20190301 in t2m_20190301.tif)."
    )


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


@dataclass(frozen=True)
class Gap:
    """A hole in a regular time axis: ``missing_steps`` steps absent between two present times."""

    after: np.datetime64
    before: np.datetime64
    missing_steps: int


@dataclass(frozen=True)
class TimeAxisSummary:
    """What an analyst wants to know about a time axis: range, step, regularity, gaps."""

    start: np.datetime64
    end: np.datetime64
    count: int
    step_seconds: float | None
    step_months: int | None
    regular: bool
    gaps: list[Gap] = field(default_factory=list)
    irregular_intervals: int = 0

    @property
    def step(self) -> TimeStep | None:
        return TimeStep.from_fields(self.step_seconds, self.step_months) if self.count > 1 else None

    @property
    def step_text(self) -> str:
        return self.step.text if self.step else "single time"

    @property
    def missing_steps(self) -> int:
        return sum(g.missing_steps for g in self.gaps)

    def describe(self) -> str:
        text = f"{self.count} times from {format_time(self.start)} to {format_time(self.end)}, step {self.step_text}"
        if self.regular:
            return text + ", regular, no gaps."
        details = []
        if self.gaps:
            details.append(f"{len(self.gaps)} gap(s), {self.missing_steps} missing step(s)")
        if self.irregular_intervals:
            details.append(f"{self.irregular_intervals} interval(s) not a multiple of the step")
        return text + " (most common); " + "; ".join(details) + "."

    def to_dict(self) -> dict:
        return {
            "start": format_time(self.start),
            "end": format_time(self.end),
            "count": self.count,
            "step": self.step_text,
            "step_seconds": self.step_seconds,
            "step_months": self.step_months,
            "step_code": self.step.code if self.step else None,
            "regular": self.regular,
            "missing_steps": self.missing_steps,
            "irregular_intervals": self.irregular_intervals,
            "gaps": [
                {"after": format_time(g.after), "before": format_time(g.before), "missing_steps": g.missing_steps}
                for g in self.gaps
            ],
        }


def median_step_seconds(times: np.ndarray) -> float:
    """Median interval between consecutive times in seconds (0 for fewer than 2 times)."""
    if len(times) < 2:
        return 0.0
    return float(np.median(np.diff(np.asarray(times, dtype="datetime64[s]").astype(np.int64))))


def check_strictly_increasing(times: np.ndarray, labels: list[str] | None = None) -> None:
    """Raise if ``times`` has duplicates or is not strictly increasing; name the culprits."""
    if len(times) < 2:
        return
    diffs = np.diff(times.astype("datetime64[s]").astype(np.int64))
    bad = np.flatnonzero(diffs <= 0)
    if bad.size == 0:
        return
    i = int(bad[0])
    who = f" ({labels[i]} and {labels[i + 1]})" if labels else f" (positions {i + 1} and {i + 2})"
    if diffs[i] == 0:
        raise UserInputError(
            f"Duplicate timestamp {format_time(times[i])}{who}: every time step must be unique. "
            "Remove or merge the duplicates."
        )
    raise UserInputError(
        f"Times are not increasing: {format_time(times[i])} is followed by {format_time(times[i + 1])}{who}."
    )


def _calendar_anchor(times: np.ndarray) -> bool:
    """True when every time sits at one day of the month (or every one at a month end) and one time of day,
    at least 28 days apart: the times of a monthly, quarterly or yearly series."""
    ts = pd.DatetimeIndex(times)
    if (ts - ts.normalize()).nunique() != 1 or np.diff(times.astype(np.int64)).min() < 28 * 86400:
        return False
    return ts.day.nunique() == 1 or bool(ts.is_month_end.all())


def detect_step(times: np.ndarray) -> TimeStep:
    """The regular step of strictly increasing times: the most common whole number of calendar months for
    times anchored in the calendar (:func:`_calendar_anchor`), else the most common interval. Intervals of
    a day or more that are within an hour of a whole number of days count as whole days (DST shifts)."""
    times = np.asarray(times, dtype="datetime64[s]")
    if _calendar_anchor(times):
        month_diffs = np.diff(times.astype("datetime64[M]").astype(np.int64))
        return TimeStep(months=int(np.bincount(month_diffs).argmax()))
    diffs = np.diff(times.astype(np.int64))
    days = np.round(diffs / 86400.0)
    near_days = (days >= 1) & (np.abs(diffs - days * 86400) <= DST_TOLERANCE_SECONDS)
    diffs = np.where(near_days, days * 86400, diffs).astype(np.int64)
    values, counts = np.unique(diffs, return_counts=True)
    return TimeStep(seconds=int(values[counts.argmax()]))


def summarize_time_axis(times: np.ndarray) -> TimeAxisSummary:
    """Detect the regular step (:func:`detect_step`: fixed or calendar months) and report gaps.

    ``times`` must be strictly increasing (see :func:`check_strictly_increasing`).
    """
    times = np.asarray(times, dtype="datetime64[s]")
    if times.size == 0:
        raise UserInputError("The time axis is empty: there is no time step to analyse.")
    check_strictly_increasing(times)
    if times.size == 1:
        return TimeAxisSummary(times[0], times[0], 1, None, None, True)
    step = detect_step(times)
    positions = step.positions(times)
    whole = positions == np.round(positions)
    gaps, irregular = [], 0
    diffs = np.diff(positions)
    for i in np.flatnonzero(diffs != 1):
        if whole[i] and whole[i + 1]:
            gaps.append(Gap(times[i], times[i + 1], int(diffs[i]) - 1))
        else:
            irregular += 1
    return TimeAxisSummary(
        times[0],
        times[-1],
        int(times.size),
        float(step.seconds) if step.seconds else None,
        step.months or None,
        regular=not gaps and not irregular,
        gaps=gaps,
        irregular_intervals=irregular,
    )


def on_regular_axis(times: np.ndarray, values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, TimeStep]:
    """``values`` placed on the regular time axis (missing steps as NaN along ``axis``) and its step.

    The step may be a fixed duration or calendar months (:class:`TimeStep`); times off the axis (intervals
    that are not a whole number of steps) are refused with the advice to resample.
    """
    summary = summarize_time_axis(times)
    step = summary.step
    if step is None:
        raise UserInputError("A single time step has no regular time axis: at least 2 times are needed.")
    if summary.irregular_intervals:
        raise UserInputError(
            f"The time steps are irregular (not on one regular axis): {summary.describe()} Resample the data "
            "to a regular step first (RESAMPLE, e.g. 1h, 1D or 1M with the mean)."
        )
    positions = np.round(step.positions(times)).astype(np.int64)
    steps = int(positions[-1]) + 1
    full = step.times(times[0], steps)
    if steps == times.size:
        return full, values, step
    if steps > MAX_EMPTY_FACTOR * times.size:
        raise UserInputError(
            f"On its most common step ({summary.step_text}) this time axis would have {steps} steps for "
            f"{times.size} times: the times are too irregular for a regular axis ({summary.describe()}) "
            "Resample the data to a coarser step (RESAMPLE, e.g. hourly or daily means) first."
        )
    shape = list(values.shape)
    shape[axis] = steps
    require_memory(
        np.prod(shape, dtype=np.float64) * values.itemsize * 2,
        f"A regular axis of {steps} steps for {values.size // max(times.size, 1)} series",
        "Resample the data to a coarser step or select fewer stations or cells first.",
    )
    filled = np.full(shape, np.nan, dtype=np.float32)
    index = [slice(None)] * values.ndim
    index[axis] = positions
    filled[tuple(index)] = values
    return full, filled, step


RESAMPLE_STATISTICS = ("mean", "median", "sum", "last", "first", "min", "max")


@dataclass(frozen=True)
class Resampled:
    """Values on a regular axis of bins: times datetime64[s][B] (bin starts), values float[B, ...], the count of
    empty bins (no value at any location), and what was resampled (input times, step, statistic) for the log."""

    times: np.ndarray
    values: np.ndarray
    empty_steps: int
    source_times: int
    step: TimeStep
    statistic: str

    def describe(self) -> str:
        return (
            f"Resampled {self.source_times} times to {self.times.size} steps of {self.step.text} "
            f"({self.statistic}); {self.empty_steps} step(s) have no value at any location."
        )


def bin_starts(times: np.ndarray, step: TimeStep) -> np.ndarray:
    """The start of the bin of ``step`` holding each time: calendar steps start on the first of a month that is
    a multiple of the step from January (quarters Jan/Apr/Jul/Oct, years Jan 1); fixed steps are counted
    from midnight of the first day."""
    times = np.asarray(times, dtype="datetime64[s]")
    if step.months:
        months = times.astype("datetime64[M]").astype(np.int64)
        return ((months // step.months) * step.months).astype("datetime64[M]").astype("datetime64[s]")
    origin = times[0].astype("datetime64[D]").astype("datetime64[s]")
    k = (times - origin).astype(np.int64) // step.seconds
    return origin + k * np.timedelta64(step.seconds, "s")


def resample_values(times: np.ndarray, values: np.ndarray, step: TimeStep, statistic: str = "mean") -> Resampled:
    """Aggregate values float[T, M] at ``times`` into bins of ``step`` (``statistic`` of the values in each bin,
    NaN left out) on the full regular axis of bins from the first to the last."""
    if statistic not in RESAMPLE_STATISTICS:
        raise UserInputError(
            f"Unknown resampling statistic {statistic!r}; use one of {', '.join(RESAMPLE_STATISTICS)}."
        )
    starts = bin_starts(times, step)
    axis_start = starts[0]
    count = int(np.round(step.positions(starts[-1:], axis_start)[0])) + 1
    require_memory(
        count * int(np.prod(values.shape[1:])) * 8 * 2,
        f"Resampling to {count} steps of {step.text}",
        "Use a coarser RESAMPLE step or a shorter period.",
    )
    full = step.times(axis_start, count)
    frame = pd.DataFrame(np.asarray(values, dtype=np.float64).reshape(len(times), -1))
    grouped = frame.groupby(starts)
    if statistic == "sum":
        table = grouped.sum(min_count=1)
    else:
        table = getattr(grouped, statistic)()
    table = table.reindex(pd.DatetimeIndex(full))
    out = table.to_numpy(np.float64).reshape((count,) + values.shape[1:])
    empty = int((~np.isfinite(out.reshape(count, -1))).all(axis=1).sum())
    return Resampled(full, out, empty, len(times), step, statistic)


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
