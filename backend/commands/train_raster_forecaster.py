"""Command ``trainrasterforecaster``: train ConvLSTM / CNN-LSTM on a stack, evaluate against baselines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.preflight import FOLDER_OUTPUT
from backend.data.atomic import AtomicOutputs
from backend.data.units import axis_label
from backend.device import choose_device
from backend.forecast.blend import REFITTED_TEXT
from backend.forecast.raster.stacks import regular_stack
from backend.forecast.raster.training import TrainConfig
from backend.progress import Reporter
from backend.report.forecast_blend import blend_section
from backend.report.html import HtmlReport, new_figure


@dataclass
class TrainRasterForecasterRequest:
    input: str
    output_model: str = field(metadata=FOLDER_OUTPUT)
    output_report: str | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    device: str = "auto"


def _report(
    path_name,
    config,
    history,
    evaluation,
    combination,
    outputs,
    report_path,
    device,
    units: str | None,
    losing: str | None,
) -> None:
    report = HtmlReport(f"Raster forecaster: {path_name}")
    if losing:
        report.warning(losing)
    report.heading("Model")
    report.key_values(
        {
            "architecture": config.architecture,
            "lookback": config.lookback,
            "horizon": config.horizon,
            "device": device,
            "epochs run": len(history.train_loss),
            "best epoch": history.best_epoch,
            "mean epoch time (s)": float(np.mean(history.epoch_seconds)),
        }
    )
    fig, ax = new_figure(8, 3)
    ax.plot(range(1, len(history.train_loss) + 1), history.train_loss, label="training loss")
    ax2 = ax.twinx()
    ax2.plot(
        range(1, len(history.validation_rmse) + 1), history.validation_rmse, color="#c0504d", label="validation RMSE"
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax2.set_ylabel(axis_label("validation RMSE", units))
    report.figure(fig, "Training loss (blue) and validation RMSE (red) per epoch.")
    report.heading(
        f"Test period: {axis_label('RMSE', units)} per horizon step (held out from training and early stopping)"
    )
    table = pd.DataFrame(evaluation.rmse).T
    table.columns = [f"+{h + 1}" for h in range(config.horizon)]
    table.insert(0, "method", table.index)
    report.table(table)
    skill = pd.DataFrame([evaluation.skill], columns=table.columns[1:])
    skill.insert(0, "skill vs best baseline", "1 − RMSE_model / RMSE_best")
    report.table(skill)
    report.paragraph(
        f"{evaluation.windows} test windows; best baseline per step: {', '.join(evaluation.best_baseline)}; "
        f"80 % interval coverage: {evaluation.coverage_80:.1%}."
    )
    blend_section(
        report, combination.blend, list(table.columns[1:]), evaluation.rmse["network"], evaluation.rmse["model"]
    )
    fig, ax = new_figure(6, 4.5)
    image = ax.imshow(evaluation.error_map, cmap="magma")
    fig.colorbar(image, ax=ax, label=axis_label("RMSE", units))
    ax.set_title("Model RMSE per cell, 1 step ahead (test)")
    report.figure(fig, "Where the model errs most in the test period.")
    report.write(report_path, outputs)


@command("trainrasterforecaster", TrainRasterForecasterRequest, "Train raster forecaster")
def train_raster_forecaster(request: TrainRasterForecasterRequest, reporter: Reporter) -> CommandResult:
    from backend.device import require_torch

    require_torch("Training")
    from backend.forecast.model_files import (
        held_out_scores_text,
        negative_skill_text,
        save_model,
        training_causes,
        training_record,
    )
    from backend.forecast.raster.config import ForecasterConfig
    from backend.forecast.raster.training import evaluate, train_raster_model

    device = choose_device(request.device)
    reporter.log(f"Training on {device}.")
    stack, step = regular_stack(request.input, reporter)
    config = request.config
    network, split, norm, history, combination = train_raster_model(
        stack.values, stack.times, step, config, device, reporter.scaled(0, 90)
    )
    evaluation = evaluate(
        network,
        stack.values,
        stack.times,
        step,
        split,
        norm,
        config,
        device,
        margins=history.interval_margins,
        combination=combination,
    )
    reporter.log(held_out_scores_text("RMSE", evaluation.rmse["model"], evaluation.skill))
    losing = negative_skill_text("RMSE", evaluation.skill, evaluation.best_baseline, training_causes(config, history))
    if losing:
        reporter.warning(losing)
    training = training_record(config, device, stack.times, split, history, evaluation)
    model_config = ForecasterConfig.trained(config, norm, step, training, combination.to_dict(), grid=stack.grid)
    reporter.log(REFITTED_TEXT)
    with AtomicOutputs() as outputs:
        if request.output_report:
            _report(
                Path(request.input).name,
                config,
                history,
                evaluation,
                combination,
                outputs,
                request.output_report,
                device,
                stack.units,
                losing,
            )
        save_model(
            request.output_model,
            model_config,
            network,
            outputs,
            combination.refitted_on(stack.values, stack.times, step),
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
        },
    )
