"""Sensor-network forecaster folders: the config and loading a model (matching its sensors to an input is in
:mod:`backend.forecast.sensors.predict`).

Folder: ``config.json`` (architecture, windows, normalisation, time step, the sensors' ids and
coordinates, the graph settings, training summary) + ``weights.pt`` (state_dict incl. the graph's
transition matrices; loaded with ``weights_only=True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from backend.errors import UserInputError
from backend.forecast.model_files import ModelConfig


@dataclass(kw_only=True)
class NetworkModelConfig(ModelConfig):
    """A sensor-network forecaster: the shared config, the sensors (ids, coordinates, CRS), the value that means
    missing and the graph."""

    FORMAT: ClassVar[str] = "st_analyzer.network_forecaster"
    TIME_FEATURES: ClassVar[str] = "time of day (sub-daily), day of week, day of year"
    KIND: ClassVar[str] = "sensor-network forecaster"

    ids: list[str]
    xy: list[list[float]]
    crs: str
    missing_value: float | None = None
    graph: dict = field(default_factory=dict)
    profile_input: bool = False  # the network reads the historical average (folders before it: False)

    def to_dict(self) -> dict:
        return self.common_dict() | {
            "profile_input": self.profile_input,
            "missing_value": self.missing_value,
            "sensors": {"ids": self.ids, "xy": self.xy, "crs": self.crs},
            "graph": self.graph,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str) -> NetworkModelConfig:
        def sensors(data: dict) -> dict:
            sensors = data["sensors"]
            return {
                "ids": [str(i) for i in sensors["ids"]],
                "xy": [[float(a), float(b)] for a, b in sensors["xy"]],
                "crs": str(sensors["crs"]),
                "missing_value": data.get("missing_value"),
                "graph": dict(data.get("graph") or {}),
                "profile_input": bool(data.get("profile_input", False)),
            }

        return cls.parse(data, where, sensors)


def load_network_model(folder, device: str):
    """(config, network on ``device`` in eval mode, its ``blend.Combination`` with the baselines or None)."""
    from backend.forecast.model_files import load_combination, load_weights, read_model_config
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
        config.profile_input,
    )
    combination = load_combination(folder, config)
    if config.profile_input and combination is None:
        raise UserInputError(f"{folder}: the network reads the historical average, but config.json has no blend.")
    return config, load_weights(network, folder, device), combination
