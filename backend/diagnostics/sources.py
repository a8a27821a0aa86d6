"""Helpers for the diagnostic commands: regular axes, time aggregation, output paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.data.time_axis import on_regular_axis, resample_values
from backend.data.time_step import TimeStep, parse_time_step


def regular_block(times: np.ndarray, block: np.ndarray) -> np.ndarray:
    """A [T, ...] block placed on the regular axis of ``times`` (missing steps as NaN)."""
    _, values, _ = on_regular_axis(times, block.astype(np.float32))
    return values


def regular_axis(times: np.ndarray, step: TimeStep) -> np.ndarray:
    """The regular time axis from the first to the last of ``times`` (datetime64[s]), gaps included."""
    return step.times(times[0], int(np.round(step.positions(times[-1:], times[0])[0])) + 1)


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
