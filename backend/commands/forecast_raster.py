"""Commands ``forecastraster`` (trained model) and ``baselineforecast``: the next H steps as rasters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.commands.base import CommandResult, command
from backend.data.atomic import AtomicOutputs
from backend.data.raster_io import StackWriter, reproject_values
from backend.data.raster_stack import RasterStack
from backend.data.time_axis import format_time
from backend.device import choose_device
from backend.errors import UserInputError
from backend.forecast.baselines import BASELINES, BaselineSet
from backend.forecast.stacks import regular_stack
from backend.forecast.windows import future_times, time_features
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
    from backend.forecast.model_io import check_compatible, load_model
    from backend.forecast.training import predict_windows, prepare

    device = choose_device(request.device)
    config, network = load_model(request.model, device)
    stack, step = regular_stack(request.input, reporter)
    if request.resample and config.grid.difference(stack.grid):
        reporter.warning(f"The stack has {config.grid.difference(stack.grid)}; it is resampled onto the model's grid.")
        stack = RasterStack(
            reproject_values(stack.values, stack.grid, config.grid), stack.times, config.grid, units=stack.units
        )
    check_compatible(config, stack.grid, step)
    if stack.times.size < config.lookback:
        raise UserInputError(
            f"The stack has {stack.times.size} time steps; the model needs the last {config.lookback}."
        )
    times = future_times(stack.times[-1], step, config.horizon)
    prepared = prepare(stack.values, stack.times, step, config.normalisation)
    origin = np.array([stack.times.size - 1])
    mean, low, high = predict_windows(
        network,
        prepared,
        origin,
        config.lookback,
        config.horizon,
        device,
        future_features=time_features(times, step)[None],
        margins=config.training.get("history", {}).get("interval_margins"),
    )
    never = ~np.isfinite(stack.values).any(axis=0)  # cells with no data ever stay no data
    frames = [np.where(never[None], np.nan, a[0]) for a in (mean, low, high)]
    with AtomicOutputs() as outputs:
        _write(
            outputs,
            stack.grid,
            times,
            {request.output: frames[0], request.output_lower: frames[1], request.output_upper: frames[2]},
            stack.units,
        )
    reporter.progress(100, f"forecast {format_time(times[0])} … {format_time(times[-1])}")
    produced = {"OUTPUT": request.output, "OUTPUT_LOWER": request.output_lower, "OUTPUT_UPPER": request.output_upper}
    return CommandResult(
        {k: str(Path(v).absolute()) for k, v in produced.items() if v}, _summary(times, frames[0], step, stack.units)
    )


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
    return CommandResult({"OUTPUT": str(Path(request.output).absolute())}, _summary(times, frames, step, stack.units))
