"""Reading a raster stack for forecasting: regular time axis (gaps filled with no-data frames)."""

from __future__ import annotations

from backend.data.raster_io import read_stack
from backend.data.raster_stack import RasterStack
from backend.data.time_axis import on_regular_axis
from backend.data.time_step import TimeStep
from backend.progress import Reporter


def regular_stack(path: str, reporter: Reporter) -> tuple[RasterStack, TimeStep]:
    """The stack on its regular time axis (missing steps as NaN frames) and its step (fixed or calendar)."""
    stack = read_stack(path)
    stack.require_data()
    times, values, step = on_regular_axis(stack.times, stack.values)
    if values is not stack.values:
        reporter.warning(f"{times.size - stack.times.size} missing time step(s) are treated as no data.")
        stack = RasterStack(values, times, stack.grid, units=stack.units)
    return stack, step
