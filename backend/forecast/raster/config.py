"""The raster forecaster's config (architecture, windows, normalisation, grid, time step, training summary) and
loading a raster forecaster folder (see :mod:`backend.forecast.model_files`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from affine import Affine

from backend.data.raster_stack import GridSpec
from backend.data.time_axis import TimeStep
from backend.errors import UserInputError
from backend.forecast.limits import check_model_sizes
from backend.forecast.model_files import load_weights, read_model_config
from backend.forecast.windows import Normalisation

FORMAT = "st_analyzer.raster_forecaster"
VERSION = 1


@dataclass
class ForecasterConfig:
    architecture: str
    lookback: int
    horizon: int
    hidden: int
    normalisation: Normalisation
    grid: GridSpec
    step_seconds: float
    training: dict = field(default_factory=dict)
    step_months: int = 0  # calendar steps (1 month, 3 quarter, 12 year); 0 = fixed step_seconds

    @property
    def step(self) -> TimeStep:
        return TimeStep.from_fields(self.step_seconds, self.step_months)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "architecture": self.architecture,
            "lookback": self.lookback,
            "horizon": self.horizon,
            "hidden": self.hidden,
            "quantiles": [0.1, 0.9],
            "normalisation": self.normalisation.to_dict(),
            "grid": {
                "width": self.grid.width,
                "height": self.grid.height,
                "transform": list(self.grid.transform)[:6],
                "crs": self.grid.crs,
            },
            "step_seconds": self.step_seconds,
            "step_months": self.step_months,
            "time_features": "hour of day (sub-daily), day of year",
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str) -> ForecasterConfig:
        try:
            if data.get("format") != FORMAT:
                raise KeyError("format")
            grid = data["grid"]
            check_model_sizes(f"{where}/config.json", int(data["hidden"]), int(data["lookback"]), int(data["horizon"]))
            return cls(
                str(data["architecture"]),
                int(data["lookback"]),
                int(data["horizon"]),
                int(data["hidden"]),
                Normalisation.from_dict(data["normalisation"]),
                GridSpec(int(grid["width"]), int(grid["height"]), Affine(*grid["transform"]), str(grid["crs"])),
                float(data["step_seconds"]),
                dict(data.get("training") or {}),
                int(data.get("step_months") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserInputError(
                f"{where} is not a forecaster model folder (config.json: missing or bad {exc})."
            ) from exc


def load_model(folder: str | Path, device: str):
    """(config, network on ``device`` in eval mode) of a raster forecaster folder."""
    from backend.forecast.raster.architectures import ARCHITECTURES, build_raster_model

    config = ForecasterConfig.from_dict(read_model_config(folder, "Train raster forecaster"), str(folder))
    if config.architecture not in ARCHITECTURES:
        raise UserInputError(f"{folder}: unknown architecture {config.architecture!r}.")
    return config, load_weights(build_raster_model(config.architecture, config.horizon, config.hidden), folder, device)


def check_compatible(config: ForecasterConfig, grid: GridSpec, step: TimeStep) -> None:
    """Refuse a stack on another grid, CRS or time step than the model was trained on."""
    difference = config.grid.difference(grid)
    if difference:
        raise UserInputError(
            f"The stack has {difference} than the model's training grid "
            f"({config.grid.width}×{config.grid.height} px). Resample the stack onto that grid "
            "first, or tick 'Resample onto the model grid' (RESAMPLE)."
        )
    if step != config.step:
        raise UserInputError(
            f"The stack's time step ({step.text}) differs from the model's ({config.step.text}); "
            "the model only forecasts at its own step."
        )
