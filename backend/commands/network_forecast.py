"""Commands ``trainnetworkforecaster`` and ``forecastnetwork``: graph/Transformer/LSTM forecasts at sensors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import SensorInput, resampled_as_asked
from backend.commands.preflight import FOLDER_OUTPUT
from backend.data.atomic import AtomicOutputs
from backend.data.missing_codes import SuspectedMissingCode, suspected_missing_code
from backend.data.point_io import write_table
from backend.data.point_panel import PointPanel
from backend.data.sensor_io import drop_empty_stations
from backend.data.time_parsing import format_time, parse_times
from backend.data.time_step import TimeStep
from backend.data.units import axis_label
from backend.device import choose_device, require_torch
from backend.errors import UserInputError
from backend.forecast.blend import REFITTED_TEXT
from backend.forecast.sensors.graph import GraphSettings, build_adjacency, transition_matrices
from backend.forecast.sensors.training import NetworkTrainConfig
from backend.progress import Reporter
from backend.report.forecast_blend import blend_section
from backend.report.html import HtmlReport, label_time_axes, new_figure, plot_series


@dataclass
class TrainNetworkForecasterRequest:
    sensors: SensorInput
    output_model: str = field(metadata=FOLDER_OUTPUT)
    output_report: str | None = None
    graph: GraphSettings = field(default_factory=GraphSettings)
    config: NetworkTrainConfig = field(default_factory=NetworkTrainConfig)
    resample: str | None = None  # pandas offset, e.g. "5min"; None = the data's own regular step
    device: str = "auto"


@dataclass
class ForecastNetworkRequest:
    sensors: SensorInput
    model: str
    output: str
    origin: str | None = None  # forecast from this time (default: the last time in the data)
    resample: str | None = None
    device: str = "auto"


def regular_panel(sensors: SensorInput, resample: str | None, reporter: Reporter) -> tuple[PointPanel, TimeStep]:
    """The sensors' panel on a regular time axis (resampled first when asked, with the sensors' statistic)."""
    panel = resampled_as_asked(sensors.read(reporter), resample, sensors.resample_statistic, reporter)
    try:
        return panel.on_regular_axis()
    except UserInputError as exc:
        raise UserInputError(
            f"{exc} Set RESAMPLE (e.g. 5min, 1h, 1D) to average the readings onto a regular step."
        ) from exc


def _report(
    title,
    config,
    history,
    evaluation,
    combination,
    panel,
    times,
    device,
    outputs,
    path,
    units: str | None,
    losing: str | None,
) -> None:
    report = HtmlReport(title)
    if losing:
        report.warning(losing)
    report.heading("Model")
    report.key_values(
        {
            "model type": config.architecture,
            "sensors": panel.n_stations,
            "lookback / horizon (steps)": f"{config.lookback} / {config.horizon}",
            "device": device,
            "epochs run": len(history.train_loss),
            "best epoch": history.best_epoch,
            "mean epoch time (s)": float(np.mean(history.epoch_seconds)),
            "test windows": evaluation.windows,
            "80 % interval coverage (test)": f"{evaluation.coverage_80:.1%}",
        }
    )
    report.heading("Test period: masked MAE per horizon step (held out from training and early stopping)")
    steps = [f"+{h + 1}" for h in range(config.horizon)]
    for metric in ("mae", "rmse", "mape"):
        table = pd.DataFrame({name: scores[metric] for name, scores in evaluation.scores.items()}, index=steps).T
        table.insert(0, "method", table.index)
        report.paragraph(f"{metric.upper()}{' (%; zero targets left out)' if metric == 'mape' else ''}:")
        report.table(table.round(4))
    skill = pd.DataFrame([evaluation.skill_mae], columns=steps)
    skill.insert(0, "skill", "1 − MAE_model / MAE_best baseline")
    report.table(skill.round(4))
    report.paragraph("Best baseline per step: " + ", ".join(evaluation.best_baseline) + ".")
    blend_section(
        report, combination.blend, steps, evaluation.scores["network"]["mae"], evaluation.scores["model"]["mae"]
    )
    fig, ax = new_figure(6, 5)
    image = ax.scatter(
        panel.xy[:, 0], panel.xy[:, 1], c=evaluation.station_mae, cmap="magma_r", s=30, edgecolors="k", linewidths=0.3
    )
    fig.colorbar(image, ax=ax, label=axis_label("MAE, all steps (test)", units))
    ax.set_aspect("equal")
    ax.set_title("Model error per sensor")
    report.figure(fig, "Where the model errs most in the test period (layer coordinates).")
    example = evaluation.example
    order = np.argsort(evaluation.station_mae)
    picks = [int(order[len(order) // 2]), int(order[-1])] if len(order) > 1 else [0]
    for sensor in picks:
        fig, ax = new_figure(8, 2.6)
        when = times[example["origins"] + 1]
        plot_series(ax, when, example["truth_h1"][:, sensor], color="k", lw=1, label="observed")
        plot_series(ax, when, example["model_h1"][:, sensor], color="#1f77b4", lw=1, label="model, 1 step ahead")
        plot_series(ax, when, example["persistence_h1"][:, sensor], color="#aaaaaa", lw=1, ls="--", label="persistence")
        label_time_axes(ax, axis_label("value", units))
        ax.legend(fontsize=7)
        ax.set_title(f"Sensor {panel.ids[sensor]} (MAE {evaluation.station_mae[sensor]:.3g})")
        report.figure(fig, "Start of the test period, one step ahead.")
    fig, ax = new_figure(8, 3)
    ax.plot(range(1, len(history.train_loss) + 1), history.train_loss, label="training loss")
    ax2 = ax.twinx()
    ax2.plot(range(1, len(history.validation_rmse) + 1), history.validation_rmse, color="#c0504d")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax2.set_ylabel("validation RMSE")
    report.figure(fig, "Training loss (blue) and validation RMSE (red) per epoch.")
    report.write(path, outputs)


def warn_of_missing_code(values_tn: np.ndarray, reporter: Reporter) -> SuspectedMissingCode | None:
    """Before training: a warning when the readings float[T, N] hold a value that looks like a "no data" code;
    that value (None = none)."""
    suspect = suspected_missing_code(values_tn)
    if suspect is not None:
        reporter.warning(
            f"{suspect.describe()} Loop detectors and many loggers write such a number for 'no reading'; trained on "
            f"as real readings they teach the network to forecast outages and spoil its scores. If "
            f"{suspect.value:g} means no data here, set MISSING_VALUE {suspect.value:g}; if it is a real reading "
            "(e.g. no rain), ignore this warning."
        )
    return suspect


@command("trainnetworkforecaster", TrainNetworkForecasterRequest, "Train network forecaster")
def train_network_forecaster(request: TrainNetworkForecasterRequest, reporter: Reporter) -> CommandResult:
    require_torch("Sensor-network forecasting")
    from backend.forecast.model_files import (
        held_out_scores_text,
        negative_skill_text,
        save_model,
        training_causes,
        training_record,
    )
    from backend.forecast.sensors.config import NetworkModelConfig
    from backend.forecast.sensors.training import evaluate_sensor_network, train_sensor_network

    device = choose_device(request.device)
    config = request.config
    config.check()
    panel, step = regular_panel(request.sensors, request.resample, reporter)
    panel = drop_empty_stations(panel, reporter)
    reporter.log(f"{panel.n_stations} sensors × {panel.times.size} steps of {step.text}; training on {device}.")
    suspect = warn_of_missing_code(panel.values.T, reporter) if request.sensors.missing_value is None else None
    weights = build_adjacency(request.graph, panel.ids, panel.xy, panel.crs, reporter)
    values = panel.values.T.copy()
    network, split, norm, history, combination = train_sensor_network(
        values, panel.times, step, transition_matrices(weights), config, device, reporter.scaled(0, 90)
    )
    evaluation = evaluate_sensor_network(
        network,
        values,
        panel.times,
        step,
        split,
        norm,
        config,
        device,
        margins=history.interval_margins,
        combination=combination,
    )
    reporter.log(held_out_scores_text("MAE", evaluation.scores["model"]["mae"], evaluation.skill_mae))
    causes = training_causes(config, history)
    if suspect is not None:
        causes.insert(0, f"readings coded as a number for 'no data' ({suspect.describe()} Set MISSING_VALUE)")
    losing = negative_skill_text("MAE", evaluation.skill_mae, evaluation.best_baseline, causes)
    if losing:
        reporter.warning(losing)
    training = training_record(config, device, panel.times, split, history, evaluation) | {"resample": request.resample}
    graph = asdict(request.graph) | {"links": int((weights > 0).sum() - weights.shape[0])}
    model_config = NetworkModelConfig.trained(
        config,
        norm,
        step,
        training,
        combination.to_dict(),
        ids=list(panel.ids),
        xy=panel.xy.tolist(),
        crs=panel.crs,
        missing_value=request.sensors.missing_value,
        graph=graph,
        profile_input=config.profile_input,
    )
    reporter.log(REFITTED_TEXT)
    with AtomicOutputs() as outputs:
        if request.output_report:
            _report(
                f"Network forecaster: {config.architecture}",
                config,
                history,
                evaluation,
                combination,
                panel,
                panel.times,
                device,
                outputs,
                request.output_report,
                request.sensors.units,
                losing,
            )
        save_model(
            request.output_model, model_config, network, outputs, combination.refitted_on(values, panel.times, step)
        )
    produced = {"OUTPUT_MODEL": request.output_model, "OUTPUT_REPORT": request.output_report}
    return CommandResult.of(
        produced,
        {
            "test": evaluation.to_dict(),
            "epochs": len(history.train_loss),
            "best_epoch": history.best_epoch,
            "epoch_seconds": history.epoch_seconds,
            "device": device,
            "sensors": panel.n_stations,
        },
    )


@command("forecastnetwork", ForecastNetworkRequest, "Forecast sensor network")
def forecast_network(request: ForecastNetworkRequest, reporter: Reporter) -> CommandResult:
    from backend.forecast.sensors.config import load_network_model
    from backend.forecast.sensors.predict import forecast_from_model

    require_torch("Sensor-network forecasting")
    device = choose_device(request.device)
    config, network, combination = load_network_model(request.model, device)
    if request.sensors.missing_value is None:
        request.sensors.missing_value = config.missing_value
    panel, step = regular_panel(request.sensors, request.resample, reporter)
    origin_index = panel.times.size - 1
    if request.origin:
        origin = parse_times([request.origin], "forecast origin")[0]
        origin_index = int(np.searchsorted(panel.times, origin, side="right")) - 1
        if origin_index < 0:
            raise UserInputError(
                f"The forecast origin {request.origin} is before the first reading ({format_time(panel.times[0])})."
            )
    present, times, mean, low, high = forecast_from_model(
        config, network, combination, panel, step, origin_index, device, reporter
    )
    sensors = np.flatnonzero(present)
    horizon = times.size
    table = pd.DataFrame(
        {
            "station_id": np.tile(np.asarray(config.ids)[sensors], horizon),
            "time": np.repeat(times, sensors.size),
            "step": np.repeat(np.arange(1, horizon + 1), sensors.size).astype(np.int32),
            "forecast": mean[:, sensors].ravel(),
            "lower": low[:, sensors].ravel(),
            "upper": high[:, sensors].ravel(),
            "origin": format_time(panel.times[origin_index]),
        }
    )
    xy = np.tile(np.asarray(config.xy)[sensors], (horizon, 1))
    with AtomicOutputs() as outputs:
        write_table(table, request.output, outputs, xy=xy, crs=config.crs)
    reporter.progress(100, f"{len(table)} forecasts, {format_time(times[0])} … {format_time(times[-1])}")
    return CommandResult.of(
        {"OUTPUT": request.output},
        {
            "features": int(len(table)),
            "sensors": int(sensors.size),
            "horizon": horizon,
            "origin": format_time(panel.times[origin_index]),
            "first_time": format_time(times[0]),
            "last_time": format_time(times[-1]),
            "value_min": float(np.nanmin(mean)),
            "value_max": float(np.nanmax(mean)),
            "units": request.sensors.units,
        },
    )
