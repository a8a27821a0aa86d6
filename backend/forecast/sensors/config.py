"""Sensor-network forecaster folders and matching a model's sensors to an input panel.

Folder: ``config.json`` (architecture, windows, normalisation, time step, the sensors' ids and
coordinates, the graph settings, training summary) + ``weights.pt`` (state_dict incl. the graph's
transition matrices; loaded with ``weights_only=True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backend.data.time_axis import TimeStep
from backend.errors import UserInputError
from backend.forecast.limits import check_model_sizes
from backend.forecast.windows import Normalisation

FORMAT = "st_analyzer.network_forecaster"
VERSION = 1


@dataclass
class NetworkModelConfig:
    architecture: str
    lookback: int
    horizon: int
    hidden: int
    normalisation: Normalisation
    step_seconds: float
    ids: list[str]
    xy: list[list[float]]
    crs: str
    missing_value: float | None = None
    graph: dict = field(default_factory=dict)
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
            "step_seconds": self.step_seconds,
            "step_months": self.step_months,
            "missing_value": self.missing_value,
            "time_features": "time of day (sub-daily), day of week, day of year",
            "sensors": {"ids": self.ids, "xy": self.xy, "crs": self.crs},
            "graph": self.graph,
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str) -> NetworkModelConfig:
        try:
            if data.get("format") != FORMAT:
                raise KeyError("format (not a sensor-network forecaster)")
            sensors = data["sensors"]
            check_model_sizes(f"{where}/config.json", int(data["hidden"]), int(data["lookback"]), int(data["horizon"]))
            return cls(
                str(data["architecture"]),
                int(data["lookback"]),
                int(data["horizon"]),
                int(data["hidden"]),
                Normalisation.from_dict(data["normalisation"]),
                float(data["step_seconds"]),
                [str(i) for i in sensors["ids"]],
                [[float(a), float(b)] for a, b in sensors["xy"]],
                str(sensors["crs"]),
                data.get("missing_value"),
                dict(data.get("graph") or {}),
                dict(data.get("training") or {}),
                int(data.get("step_months") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserInputError(
                f"{where} is not a sensor-network forecaster folder (config.json: missing or bad {exc})."
            ) from exc


def load_network_model(folder, device: str):
    """(config, network on ``device`` in eval mode)."""
    from backend.forecast.model_files import load_weights, read_model_config
    from backend.forecast.sensors.architectures import NETWORK_ARCHITECTURES, build_sensor_network
    from backend.forecast.sensors.training import N_CALENDAR

    config = NetworkModelConfig.from_dict(read_model_config(folder, "Train network forecaster"), str(folder))
    if config.architecture not in NETWORK_ARCHITECTURES:
        raise UserInputError(f"{folder}: unknown architecture {config.architecture!r}.")
    n = len(config.ids)
    network = build_sensor_network(
        config.architecture,
        np.zeros((2, n, n), np.float32),
        n,
        config.lookback,
        config.horizon,
        config.hidden,
        N_CALENDAR,
    )
    return config, load_weights(network, folder, device)
