"""Trained forecaster folders: ``config.json`` (architecture, windows, normalisation, grid, time step,
training summary) + ``weights.pt`` (a state_dict, loaded with ``weights_only=True``; never unpickled code)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from affine import Affine

from backend.data.atomic import AtomicOutputs
from backend.data.raster_stack import GridSpec
from backend.data.time_axis import TimeStep
from backend.errors import UserInputError
from backend.forecast.limits import check_model_sizes
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


def save_model(folder: str | Path, config: ForecasterConfig, network, outputs: AtomicOutputs) -> Path:
    """Fill a temporary folder that ``outputs`` moves onto ``folder`` when the run succeeds."""
    import torch

    tmp = outputs.temporary_folder(folder)
    (tmp / "config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    torch.save({k: v.detach().cpu() for k, v in network.state_dict().items()}, tmp / "weights.pt")
    return Path(folder)


def read_model_config(folder: str | Path, made_by: str) -> dict:
    """config.json of a model folder as a dict; a clear error for a missing or corrupt folder."""
    folder = Path(folder)
    config_path, weights_path = folder / "config.json", folder / "weights.pt"
    if not config_path.exists() or not weights_path.exists():
        raise UserInputError(
            f"{folder} is not a forecaster model folder: it needs config.json and weights.pt (made by '{made_by}')."
        )
    try:
        return json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{config_path} is not valid JSON: {exc}.") from exc


def load_weights(network, folder: str | Path, device: str):
    """Load weights.pt (a state_dict, ``weights_only=True``) into ``network``; returns it on ``device``, in eval
    mode."""
    import pickle

    import torch

    weights_path = Path(folder) / "weights.pt"
    try:
        state = torch.load(weights_path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UserInputError(
            f"{weights_path} holds Python objects, not only weights; st_analyzer never loads such "
            "files because they can run code. Use a model folder made by st_analyzer, or retrain "
            "the model."
        ) from exc
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise UserInputError(
            f"{weights_path} is not a readable weights file ({type(exc).__name__}). Retrain the "
            "model or restore the folder."
        ) from exc
    if not isinstance(state, dict):
        raise UserInputError(
            f"{weights_path} does not hold a model's weights. Retrain the model or restore the folder."
        )
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:  # missing, unexpected or mis-shaped tensors
        first = str(exc).strip().splitlines()[0][:200]
        raise UserInputError(
            f"{weights_path} does not fit the model described by config.json ({first}). Retrain "
            "the model or restore the folder."
        ) from exc
    return network.to(device).eval()


def load_model(folder: str | Path, device: str):
    """(config, network on ``device`` in eval mode) of a raster forecaster folder."""
    from backend.forecast.networks import ARCHITECTURES, build_network

    config = ForecasterConfig.from_dict(read_model_config(folder, "Train raster forecaster"), str(folder))
    if config.architecture not in ARCHITECTURES:
        raise UserInputError(f"{folder}: unknown architecture {config.architecture!r}.")
    return config, load_weights(build_network(config.architecture, config.horizon, config.hidden), folder, device)


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
