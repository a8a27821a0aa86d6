"""Time axes: ordering checks, step and gap detection, summaries, placing values on a regular axis and
resampling to a step. All times are naive UTC ``datetime64[s]`` (see :mod:`backend.data.time_parsing`); steps are
:class:`backend.data.time_step.TimeStep`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backend.data.time_parsing import format_time
from backend.data.time_step import DST_TOLERANCE_SECONDS, TimeStep
from backend.errors import UserInputError
from backend.memory import require_memory

MAX_EMPTY_FACTOR = 20  # a regular axis with more steps than this × the times is mostly empty: refused


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


def filled_series(series: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(series from its first to its last observed value with interior gaps linearly interpolated, index of the
    first observed value, number of missing steps after the last one); an empty array when nothing is observed."""
    ok = np.isfinite(series)
    if not ok.any():
        return np.empty(0), series.size, series.size
    first, last = int(np.argmax(ok)), series.size - int(np.argmax(ok[::-1]))
    part = series[first:last].astype(np.float64)
    index = np.arange(part.size)
    good = np.isfinite(part)
    return np.interp(index, index[good], part[good]), first, series.size - last
