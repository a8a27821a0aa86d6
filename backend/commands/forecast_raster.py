"""Commands ``forecastraster`` (trained model) and ``baselineforecast``: the next H steps as rasters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.commands.base import CommandResult, command
from backend.data.atomic import AtomicOutputs
from backend.data.raster_io import StackWriter
from backend.data.time_parsing import format_time
from backend.device import choose_device
from backend.errors import UserInputError
from backend.forecast.baselines import BASELINES, BaselineSet
from backend.forecast.raster.stacks import regular_stack
from backend.forecast.windows import future_times
from backend.progress import Reporter


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


def _summary(times, values, step, units: str | None):
    finite = values[np.isfinite(values)]
    return {
        "times": [format_time(t) for t in times],
        **step.fields(),
        "units": units,
        "value_min": float(finite.min()) if finite.size else 0.0,
        "value_max": float(finite.max()) if finite.size else 1.0,
    }


@command("forecastraster", ForecastRasterRequest, "Forecast raster")
def forecast_raster(request: ForecastRasterRequest, reporter: Reporter) -> CommandResult:
    from backend.forecast.raster.predict import forecast_from_folder

    device = choose_device(request.device)
    stack, step = regular_stack(request.input, reporter)
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
    return CommandResult.of(produced, _summary(times, frames[0], step, stack.units))


@command("baselineforecast", BaselineForecastRequest, "Baseline forecast")
def baseline_forecast(request: BaselineForecastRequest, reporter: Reporter) -> CommandResult:
    if request.method not in BASELINES:
        raise UserInputError(f"Unknown method {request.method!r}; use one of {', '.join(BASELINES)}.")
    if request.horizon < 1:
        raise UserInputError("The horizon must be at least 1 step.")
    stack, step = regular_stack(request.input, reporter)
    baselines = BaselineSet(stack.values, stack.times, step, stack.times.size)
    frames = baselines.predict(request.method, stack.times.size - 1, request.horizon)
    times = future_times(stack.times[-1], step, request.horizon)
    with AtomicOutputs() as outputs:
        _write(outputs, stack.grid, times, {request.output: frames}, stack.units)
    return CommandResult.of({"OUTPUT": request.output}, _summary(times, frames, step, stack.units))
