"""Helpers for the diagnostic commands: regular axes, time aggregation, output paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backend.data.time_axis import on_regular_axis
from backend.errors import UserInputError


def regular_block(times: np.ndarray, block: np.ndarray) -> np.ndarray:
    """A [T, ...] block placed on the regular axis of ``times`` (missing steps as NaN)."""
    _, values, _ = on_regular_axis(times, block.astype(np.float32))
    return values


def regular_axis(times: np.ndarray, step_seconds: float) -> np.ndarray:
    """The regular time axis from the first to the last of ``times`` (datetime64[s]), gaps included."""
    count = int(round((times[-1] - times[0]).astype("timedelta64[s]").astype(np.int64) / step_seconds)) + 1
    return times[0] + np.arange(count) * np.timedelta64(int(round(step_seconds)), "s")


def aggregate(times: np.ndarray, values: np.ndarray, rule: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Means of values float[T, M] over regular intervals of ``rule`` (pandas offset), or unchanged."""
    if not rule:
        return times, values
    try:
        frame = pd.DataFrame(values, index=pd.DatetimeIndex(times)).resample(rule).mean()
    except (ValueError, TypeError) as exc:
        raise UserInputError(f"Cannot aggregate to {rule!r}: {exc}. Use e.g. 1D, 7D, 1M.") from exc
    return frame.index.to_numpy().astype("datetime64[s]"), frame.to_numpy(np.float64)


def point_output_path(path: str) -> str:
    """Point results are GeoPackage or CSV; another extension (e.g. a temporary .tif name) becomes .gpkg."""
    target = Path(path)
    return str(target if target.suffix.lower() in (".gpkg", ".csv") else target.with_suffix(".gpkg"))


def raster_output_path(path: str) -> str:
    target = Path(path)
    return str(target if target.suffix.lower() in (".tif", ".tiff") else target.with_suffix(".tif"))
