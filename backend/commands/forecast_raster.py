"""Commands ``forecastraster`` (trained model) and ``baselineforecast``: the next H steps as rasters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.commands.base import CommandResult, command
from backend.data.atomic import AtomicOutputs
from backend.data.raster_io import StackWriter, band_units, grid_of, open_raster, required_band_times
from backend.data.time_axis import on_regular_axis
from backend.data.time_parsing import format_time
from backend.device import choose_device
from backend.errors import UserInputError
from backend.forecast.baselines import BASELINE_BYTES_PER_VALUE, BASELINES, baseline_forecast_chunk
from backend.forecast.raster.stacks import tail_stack
from backend.forecast.windows import future_times
from backend.progress import Reporter
from backend.scale.blocks import chunk_tasks, open_in_chunks, run_chunks
from backend.scale.scheduler import open_client


@dataclass
class ForecastRasterRequest:
    input: str
    model: str
    output: str
    output_lower: str | None = None  # 10 % quantile
    output_upper: str | None = None  # 90 % quantile
    device: str = "auto"
    resample: bool = False  # resample a stack on another grid onto the model's grid


@dataclass
class BaselineForecastRequest:
    input: str
    output: str
    method: str = "persistence"
    horizon: int = 6


def _write(outputs, grid, times, frames: dict[str, np.ndarray], units: str | None) -> None:
    for path, values in frames.items():
        if path:
            with StackWriter(path, grid, times, outputs=outputs, units=units) as writer:
                for band, frame in enumerate(values):
                    writer.write_band(band, frame)


def forecast_summary(times, step, units: str | None, low: float, high: float) -> dict:
    """What the plugin needs of a forecast: ISO ``times``, the step, the units and the value range [low, high]."""
    return {
        "times": [format_time(t) for t in times],
        **step.fields(),
        "units": units,
        "value_min": float(low),
        "value_max": float(high),
    }


def value_range(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values; (0, 1) when there is none."""
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


@command("forecastraster", ForecastRasterRequest, "Forecast raster")
def forecast_raster(request: ForecastRasterRequest, reporter: Reporter) -> CommandResult:
    from backend.forecast.raster.config import read_config
    from backend.forecast.raster.predict import forecast_from_folder

    device = choose_device(request.device)
    stack, step = tail_stack(request.input, read_config(request.model).lookback, reporter)
    forecast = forecast_from_folder(request.model, stack, step, device, request.resample, reporter)
    times, frames = forecast.times, forecast.frames
    with AtomicOutputs() as outputs:
        _write(
            outputs,
            forecast.grid,
            times,
            {request.output: frames[0], request.output_lower: frames[1], request.output_upper: frames[2]},
            stack.units,
        )
    reporter.progress(100, f"forecast {format_time(times[0])} … {format_time(times[-1])}")
    produced = {"OUTPUT": request.output, "OUTPUT_LOWER": request.output_lower, "OUTPUT_UPPER": request.output_upper}
    return CommandResult.of(produced, forecast_summary(times, step, stack.units, *value_range(frames[0])))


@command("baselineforecast", BaselineForecastRequest, "Baseline forecast")
def baseline_forecast(request: BaselineForecastRequest, reporter: Reporter) -> CommandResult:
    if request.method not in BASELINES:
        raise UserInputError(f"Unknown method {request.method!r}; use one of {', '.join(BASELINES)}.")
    if request.horizon < 1:
        raise UserInputError("The horizon must be at least 1 step.")

    with open_raster(request.input) as src:
        times, grid, units = required_band_times(src, request.input), grid_of(src), band_units(src)
    regular_times, _, step = on_regular_axis(times, np.empty((times.size, 0), np.float32))
    if regular_times.size > times.size:
        reporter.warning(f"{regular_times.size - times.size} missing time step(s) are treated as no data.")
    future = future_times(regular_times[-1], step, request.horizon)
    ranges = {"low": np.inf, "high": -np.inf}
    with AtomicOutputs() as outputs, open_client(reporter=reporter) as client:
        stack = open_in_chunks(request.input, client, regular_times.size * BASELINE_BYTES_PER_VALUE, reporter)
        windows = stack.windows()
        with StackWriter(request.output, grid, future, outputs=outputs, units=units) as writer:

            def write(index: int, frames: np.ndarray) -> None:
                writer.write_window(frames, windows[index])
                finite = frames[np.isfinite(frames)]
                if finite.size:
                    ranges["low"], ranges["high"] = min(ranges["low"], finite.min()), max(ranges["high"], finite.max())

            tasks = chunk_tasks(baseline_forecast_chunk, stack, times, request.method, request.horizon)
            run_chunks(tasks, write, reporter, client)
            if not np.isfinite(ranges["low"]):
                raise UserInputError("The raster stack holds no valid value: every cell is no data in every band.")
    summary = forecast_summary(future, step, units, ranges["low"], ranges["high"])
    return CommandResult.of({"OUTPUT": request.output}, summary)
