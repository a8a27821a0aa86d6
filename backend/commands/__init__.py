"""The backend's commands; importing this package registers them for the CLI."""

from backend.commands import (  # noqa: F401
    build_raster_stack,
    clustering,
    describe_space_time,
    detect_anomalies,
    diagnostics,
    evaluate_forecasts,
    fit_st_variogram,
    forecast_by_location,
    forecast_raster,
    hot_spots,
    local_outliers,
    network_forecast,
    st_kriging,
    st_kriging_cv,
    train_raster_forecaster,
)
from backend.commands.base import COMMANDS, CommandResult, run_command

__all__ = ["COMMANDS", "CommandResult", "run_command"]
