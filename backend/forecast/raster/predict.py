"""Forecasts of a raster stack's next steps from a trained raster forecaster folder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.data.raster_io import reproject_values
from backend.data.raster_stack import GridSpec, RasterStack
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.forecast.windows import future_times, time_features
from backend.progress import Reporter


@dataclass
class RasterForecast:
    """times: datetime64[s][H] after the stack's end; frames: [mean, 10 %, 90 % quantile], each float32[H, Y, X]
    on ``grid`` (the model's); cells without any data in the stack stay no data (NaN)."""

    times: np.ndarray
    frames: list[np.ndarray]
    grid: GridSpec


def forecast_from_folder(
    model: str, stack: RasterStack, step: TimeStep, device: str, resample: bool, reporter: Reporter
) -> RasterForecast:
    """The next steps after the end of ``stack`` (on its regular axis, step ``step``) by the model in folder
    ``model``; with ``resample`` a stack on another grid is resampled onto the model's, else refused."""
    from backend.forecast.model_files import load_combination
    from backend.forecast.raster.config import check_compatible, load_model
    from backend.forecast.raster.training import predict_windows, prepare

    config, network = load_model(model, device)
    combination = load_combination(model, config)
    if resample and config.grid.difference(stack.grid):
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
    mean, low, high = predict_windows(
        network,
        prepared,
        np.array([stack.times.size - 1]),
        config.lookback,
        config.horizon,
        device,
        future_features=time_features(times, step)[None],
        margins=config.training.get("history", {}).get("interval_margins"),
        combination=combination,
    )
    never = ~np.isfinite(stack.values).any(axis=0)  # cells with no data ever stay no data
    return RasterForecast(times, [np.where(never[None], np.nan, a[0]) for a in (mean, low, high)], stack.grid)
