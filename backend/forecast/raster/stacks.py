"""Reading a raster stack for forecasting: regular time axis (gaps filled with no-data frames); for a forecast
only its last steps, whatever the length of its history."""

from __future__ import annotations

import numpy as np

from backend.data.raster_io import band_units, grid_of, open_raster, read_block, read_stack, required_band_times
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


def tail_stack(path: str, steps: int, reporter: Reporter) -> tuple[RasterStack, TimeStep]:
    """The last ``steps`` steps of the stack's regular axis (missing steps as NaN frames), preceded — when the
    stack is longer — by one frame holding each cell's last value before them (NaN where it has none), found
    chunk by chunk on the run's scheduler: forward filling this short stack to its end, and which cells ever had
    data, give what the whole stack gives. Memory: ``steps`` + 1 frames."""
    from backend.memory import require_memory
    from backend.scale.blocks import chunk_tasks, open_in_chunks, run_chunks
    from backend.scale.scheduler import open_client

    with open_raster(path) as src:
        times, grid, units = required_band_times(src, path), grid_of(src), band_units(src)
    axis, _, step = on_regular_axis(times, np.empty((times.size, 0), np.float32))
    if axis.size > times.size:
        reporter.warning(f"{axis.size - times.size} missing time step(s) are treated as no data.")
    first = max(0, axis.size - steps)
    position = np.round(step.positions(times)).astype(np.int64)  # of each band on the axis
    in_tail, before = np.flatnonzero(position >= first), np.flatnonzero(position < first)
    frames = axis.size - first + (1 if before.size else 0)
    require_memory(
        frames * grid.width * grid.height * 4 * 8,
        f"The last {frames} time steps of a {grid.width}×{grid.height} px stack for the forecast",
        "Use a coarser grid or a smaller extent.",
    )
    values = np.full((frames, grid.height, grid.width), np.nan, np.float32)
    offset = 1 if before.size else 0
    with open_raster(path) as src:
        read = read_block(src) if in_tail.size == times.size else None
        for band in in_tail:
            frame = read[band] if read is not None else np.ma.filled(src.read(int(band) + 1, masked=True), np.nan)
            values[offset + position[band] - first] = frame
    if before.size:
        by_time = before[np.argsort(position[before], kind="stable")]
        with open_client(reporter=reporter) as client:
            stack = open_in_chunks(path, client, times.size * 4 * 3, reporter)
            windows = stack.windows()

            def keep(index: int, last: np.ndarray) -> None:
                values[0][windows[index].toslices()] = last

            run_chunks(chunk_tasks(last_values, stack, by_time), keep, reporter, client, "chunk (last values)")
        frame_times = np.concatenate([axis[first - 1 : first], axis[first:]])
    else:
        frame_times = axis[first:]
    tail = RasterStack(values, frame_times, grid, units=units)
    tail.require_data()
    return tail, step


def last_values(values: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """float32[h, w]: each cell's last valid value over ``bands`` (indices into values float32[T, h, w], in time
    order); NaN where none is valid."""
    chosen = values[bands]
    valid = np.isfinite(chosen)
    latest = chosen.shape[0] - 1 - np.argmax(valid[::-1], axis=0)
    last = np.take_along_axis(chosen, latest[None], axis=0)[0]
    return np.where(valid.any(axis=0), last, np.nan).astype(np.float32)
