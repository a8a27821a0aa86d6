"""The raster forecaster's config (architecture, windows, normalisation, grid, time step, training summary) and
loading a raster forecaster folder (see :mod:`backend.forecast.model_files`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from affine import Affine

from backend.data.raster_stack import GridSpec
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.forecast.model_files import ModelConfig, load_weights, read_model_config


@dataclass(kw_only=True)
class ForecasterConfig(ModelConfig):
    """A raster forecaster: the shared config and the training grid."""

    FORMAT: ClassVar[str] = "st_analyzer.raster_forecaster"
    TIME_FEATURES: ClassVar[str] = "hour of day (sub-daily), day of year"
    KIND: ClassVar[str] = "forecaster model"

    grid: GridSpec

    def to_dict(self) -> dict:
        grid = {
            "width": self.grid.width,
            "height": self.grid.height,
            "transform": list(self.grid.transform)[:6],
            "crs": self.grid.crs,
        }
        return self.common_dict() | {"grid": grid}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> ForecasterConfig:
        def grid(data: dict) -> dict:
            g = data["grid"]
            return {"grid": GridSpec(int(g["width"]), int(g["height"]), Affine(*g["transform"]), str(g["crs"]))}

        return cls.parse(data, where, grid)


def read_config(folder: str | Path) -> ForecasterConfig:
    """The config of a raster forecaster folder (without loading the network)."""
    return ForecasterConfig.from_dict(read_model_config(folder, "Train raster forecaster"), str(folder))


def load_model(folder: str | Path, device: str):
    """(config, network on ``device`` in eval mode) of a raster forecaster folder."""
    from backend.forecast.raster.architectures import ARCHITECTURES, build_raster_model

    config = read_config(folder)
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
