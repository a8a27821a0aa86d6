"""Sensor-network forecaster folders and matching a model's sensors to an input panel.

Folder: ``config.json`` (architecture, windows, normalisation, time step, the sensors' ids and
coordinates, the graph settings, training summary) + ``weights.pt`` (state_dict incl. the graph's
transition matrices; loaded with ``weights_only=True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backend.data.point_panel import PointPanel
from backend.data.time_axis import TimeStep
from backend.errors import UserInputError
from backend.forecast.limits import check_model_sizes
from backend.forecast.windows import Normalisation
from backend.progress import Reporter

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
    from backend.forecast.model_io import load_weights, read_model_config
    from backend.forecast.network_training import N_CALENDAR
    from backend.forecast.sensor_networks import NETWORK_ARCHITECTURES, build_sensor_network

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


def align_to_model(config: NetworkModelConfig, panel: PointPanel, reporter: Reporter) -> tuple[np.ndarray, np.ndarray]:
    """values float32[T, N_model] in the model's sensor order (NaN for sensors absent from the input) and the
    boolean mask of model sensors present in the input. More than half absent is an error."""
    position = {sensor: i for i, sensor in enumerate(panel.ids)}
    present = np.array([sensor in position for sensor in config.ids])
    missing = [sensor for sensor, ok in zip(config.ids, present) if not ok]
    extra = sorted(set(panel.ids) - set(config.ids))
    if present.sum() * 2 < len(config.ids):
        raise UserInputError(
            f"The model was trained on {len(config.ids)} sensors; only {int(present.sum())} of them "
            f"are in the input (ids compared as text; e.g. model: {', '.join(config.ids[:4])}; input: "
            f"{', '.join(panel.ids[:4])}). Use the sensors and id field the model was trained with."
        )
    if missing:
        reporter.warning(
            f"{len(missing)} of the model's {len(config.ids)} sensors are not in the input; they enter "
            f"the model as missing and get no forecast: {', '.join(missing[:8])}"
            f"{'…' if len(missing) > 8 else ''}."
        )
    if extra:
        reporter.warning(
            f"{len(extra)} input sensor(s) were not in the model's training set and are not forecast: "
            f"{', '.join(extra[:8])}{'…' if len(extra) > 8 else ''}."
        )
    rows = np.array([position.get(sensor, -1) for sensor in config.ids])
    values = np.where(rows[:, None] >= 0, panel.values[np.maximum(rows, 0)], np.nan).T.astype(np.float32)
    return values, present


def one_step_expected(folder, panel: PointPanel, device: str, reporter: Reporter) -> np.ndarray:
    """float64[N, T]: the model's one-step-ahead forecast of every reading of ``panel`` (rolling origins; NaN for
    the first lookback steps and for sensors the model does not know). The panel must be on the model's step."""
    from backend.forecast.network_training import SensorArrays, predict_sensor_windows
    from backend.forecast.windows import calendar_features, future_times

    config, network = load_network_model(folder, device)
    regular, step = panel.on_regular_axis()
    if regular.times.size != panel.times.size or step != config.step:
        raise UserInputError(
            f"The forecaster method needs readings on the model's regular step "
            f"({config.step.text}) without gaps in the time axis; these have a step of "
            f"{step.text} over {regular.times.size} slots for {panel.times.size} times."
        )
    values, present = align_to_model(config, panel, reporter)
    if config.missing_value is not None:
        values[values == np.float32(config.missing_value)] = np.nan
    if panel.times.size <= config.lookback:
        raise UserInputError(
            f"The series have {panel.times.size} time steps; the forecaster needs more than its "
            f"lookback ({config.lookback})."
        )
    arrays = SensorArrays.prepare(values, panel.times, step, config.normalisation)
    origins = np.arange(config.lookback - 1, panel.times.size - 1)
    extended = np.concatenate([panel.times, future_times(panel.times[-1], step, config.horizon)])
    future = calendar_features(extended, step)[origins[:, None] + np.arange(1, config.horizon + 1)[None]]
    mean, _, _ = predict_sensor_windows(
        network, arrays, origins, config.lookback, config.horizon, device, future_features=future
    )
    expected_model = np.full((panel.times.size, len(config.ids)), np.nan)
    expected_model[origins + 1] = mean[:, 0]
    position = {sensor: i for i, sensor in enumerate(config.ids)}
    expected = np.full(panel.values.shape, np.nan)
    for row, sensor in enumerate(panel.ids):
        if sensor in position:
            expected[row] = expected_model[:, position[sensor]]
    if config.missing_value is not None:  # readings coded as missing are not scored
        expected[panel.values == np.float32(config.missing_value)] = np.nan
    return expected
