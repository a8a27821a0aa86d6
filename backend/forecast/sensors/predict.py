"""Forecasts from a trained sensor-network model: the next steps from an origin, and one-step-ahead expected
values of every reading (for anomaly scores)."""

from __future__ import annotations

import numpy as np

from backend.data.point_panel import PointPanel
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.forecast.sensors.config import NetworkModelConfig, load_network_model
from backend.forecast.windows import future_times
from backend.progress import Reporter


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


def model_arrays(config: NetworkModelConfig, combination, values: np.ndarray, times: np.ndarray):
    """The network's inputs (``SensorArrays``) from readings float32[T, N_model] on the model's step."""
    from backend.forecast.sensors.training import SensorArrays

    climatology = combination.parameters["climatology"] if config.profile_input else None
    return SensorArrays.prepare(values, times, config.step, config.normalisation, config.horizon, climatology)


def forecast_from_model(
    config, network, combination, panel: PointPanel, step: TimeStep, origin_index: int, device: str, reporter: Reporter
):
    """(present, times float[H], mean/low/high float32[H, N_model]) from a loaded model (and its blend with the
    baselines, ``combination``; None: the network alone) at ``origin_index``."""
    from backend.forecast.sensors.training import predict_sensor_windows

    if step != config.step:
        raise UserInputError(
            f"The data's time step ({step.text}) differs from the model's ({config.step.text}); "
            "resample the data to the model's step (RESAMPLE) or retrain."
        )
    values, present = align_to_model(config, panel, reporter)
    if origin_index + 1 < config.lookback:
        raise UserInputError(
            f"The history up to the forecast origin has {origin_index + 1} time steps; the model needs "
            f"the last {config.lookback}."
        )
    window = values[origin_index - config.lookback + 1 : origin_index + 1]
    if not np.isfinite(window).any():
        raise UserInputError(f"No sensor has a reading in the {config.lookback} steps before the forecast origin.")
    times = future_times(panel.times[origin_index], step, config.horizon)
    arrays = model_arrays(config, combination, values[: origin_index + 1], panel.times[: origin_index + 1])
    mean, low, high = predict_sensor_windows(
        network,
        arrays,
        np.array([origin_index]),
        config.lookback,
        config.horizon,
        device,
        margins=config.training.get("history", {}).get("interval_margins"),
        combination=combination,
    )
    return present, times, mean[0], low[0], high[0]


def one_step_expected(folder, panel: PointPanel, device: str, reporter: Reporter) -> np.ndarray:
    """float64[N, T]: the model's one-step-ahead forecast of every reading of ``panel`` (rolling origins; NaN for
    the first lookback steps and for sensors the model does not know). The panel must be on the model's step."""
    from backend.forecast.sensors.training import predict_sensor_windows

    config, network, combination = load_network_model(folder, device)
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
    arrays = model_arrays(config, combination, values, panel.times)
    origins = np.arange(config.lookback - 1, panel.times.size - 1)
    mean, _, _ = predict_sensor_windows(
        network, arrays, origins, config.lookback, config.horizon, device, combination=combination
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
