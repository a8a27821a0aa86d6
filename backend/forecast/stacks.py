"""Reading a raster stack for forecasting: regular time axis (gaps filled with no-data frames)."""

from __future__ import annotations

import numpy as np

from backend.data.raster_io import read_stack
from backend.data.raster_stack import RasterStack
from backend.errors import UserInputError
from backend.progress import Reporter


def regular_stack(path: str, reporter: Reporter) -> tuple[RasterStack, float]:
    """The stack on its regular time axis (missing steps as NaN frames) and the step in seconds."""
    stack = read_stack(path)
    stack.require_data()
    summary = stack.time_summary()
    if summary.step_seconds is None or summary.irregular_intervals:
        raise UserInputError(f"The stack's time steps are irregular ({summary.describe()}) Forecasting needs a "
                             "regular step: resample the stack (e.g. to hourly or daily means) first.")
    if summary.gaps:
        reporter.warning(f"{summary.missing_steps} missing time step(s) are treated as no data.")
        step = np.timedelta64(int(summary.step_seconds), "s")
        full = np.arange(stack.times[0], stack.times[-1] + step, step).astype("datetime64[s]")
        values = np.full((full.size,) + stack.values.shape[1:], np.nan, dtype=np.float32)
        values[np.searchsorted(full, stack.times)] = stack.values
        stack = RasterStack(values, full, stack.grid)
    return stack, float(summary.step_seconds)
