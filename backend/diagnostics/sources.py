"""Helpers for the diagnostic commands: regular axes, time aggregation, output paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.data.time_axis import bin_starts, on_regular_axis, resample_values
from backend.data.time_step import TimeStep, parse_time_step


def regular_block(times: np.ndarray, block: np.ndarray) -> np.ndarray:
    """A [T, ...] block placed on the regular axis of ``times`` (missing steps as NaN)."""
    _, values, _ = on_regular_axis(times, block.astype(np.float32))
    return values


def regular_axis(times: np.ndarray, step: TimeStep) -> np.ndarray:
    """The regular time axis from the first to the last of ``times`` (datetime64[s]), gaps included."""
    return step.times(times[0], int(np.round(step.positions(times[-1:], times[0])[0])) + 1)


@dataclass(frozen=True)
class StackAxis:
    """How a stack's bands become every cell's series: bands at ``band_times`` (regular with ``step``, gaps
    allowed) placed on their regular axis and averaged to ``time_step`` (None = as they are), giving
    ``series_times``."""

    band_times: np.ndarray
    step: TimeStep
    time_step: str | None
    series_times: np.ndarray

    @classmethod
    def of(cls, band_times: np.ndarray, step: TimeStep, time_step: str | None, reporter=None) -> StackAxis:
        axis = regular_axis(band_times, step)
        series_times, _ = aggregate(axis, np.empty((axis.size, 0)), time_step, reporter)
        return cls(band_times, step, time_step, series_times)

    def cells(self, values: np.ndarray) -> np.ndarray:
        """float64[T', h·w]: the series of the cells of a chunk float32[T, h, w] (T bands, T' series times)."""
        axis = regular_axis(self.band_times, self.step)
        placed = regular_block(self.band_times, values).astype(np.float64)
        return aggregate(axis, placed.reshape(axis.size, -1), self.time_step)[1]

    def band_groups(self) -> list[np.ndarray]:
        """Per series time, the indices of the bands that make it (averaged when several; none = a missing step),
        for reading a stack one series step at a time."""
        if not self.time_step:
            index = {t: i for i, t in enumerate(self.band_times.astype("datetime64[s]").tolist())}
            series = self.series_times.astype("datetime64[s]").tolist()
            return [np.array([index[t]] if t in index else [], dtype=np.int64) for t in series]
        starts = bin_starts(self.band_times, parse_time_step(self.time_step, "time step (TIME_STEP)"))
        series = self.series_times.astype("datetime64[s]")
        return [np.flatnonzero(starts == t) for t in series]

    def step_values(self, group: np.ndarray, values: np.ndarray) -> np.ndarray:
        """float64[h·w]: one series step of the cells from its bands ``group`` (:meth:`band_groups`) read as
        float32[k, h, w] — the row of :meth:`cells` for that step."""
        if group.size == 0:
            return np.full(int(np.prod(values.shape[1:])), np.nan)
        flat = values.reshape(group.size, -1).astype(np.float64)
        if not self.time_step:
            return flat[0]
        return aggregate(self.band_times[group].astype("datetime64[s]"), flat, self.time_step)[1][0]


def aggregate(times: np.ndarray, values: np.ndarray, rule: str | None, reporter=None) -> tuple[np.ndarray, np.ndarray]:
    """Means of values float[T, M] over regular steps of ``rule`` (1D, 7D, 1M, 3M, 1Y …), or unchanged."""
    if not rule:
        return times, values
    step = parse_time_step(rule, "time step (TIME_STEP)")
    result = resample_values(times, values, step)
    if reporter is not None:
        reporter.log(result.describe())
    return result.times, result.values


def point_output_path(path: str) -> str:
    """Point results are GeoPackage or CSV; another extension (e.g. a temporary .tif name) becomes .gpkg."""
    target = Path(path)
    return str(target if target.suffix.lower() in (".gpkg", ".csv") else target.with_suffix(".gpkg"))


def raster_output_path(path: str) -> str:
    target = Path(path)
    return str(target if target.suffix.lower() in (".tif", ".tiff") else target.with_suffix(".tif"))
