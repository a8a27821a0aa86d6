"""Command ``fitstvariogram``: sample space-time variogram → fitted model (JSON) + HTML report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import PointInput, VariogramSettings
from backend.data.atomic import AtomicOutputs
from backend.data.units import axis_label, squared_units
from backend.kriging.workflow import VariogramFit, fit_variogram, kriging_panel
from backend.progress import Reporter
from backend.report.html import HtmlReport, new_figure


@dataclass
class FitStVariogramRequest:
    points: PointInput
    output_model: str
    output_report: str | None = None
    output_table: str | None = None  # sample variogram bins (.csv or .gpkg)
    variogram: VariogramSettings = field(default_factory=VariogramSettings)


def variogram_figure(fit: VariogramFit, units: str | None = None):
    """Sample semivariance against distance, one colour per time lag, with the fitted model's curves."""
    sample = fit.sample.valid()
    model = fit.best.model
    fig, ax = new_figure(8, 4.5)
    lags = np.unique(sample.timelag)
    colours = __import__("matplotlib").colormaps["viridis"](np.linspace(0, 0.9, lags.size))
    distance = np.linspace(0, sample.dist.max(), 200)
    scale = model.distance_scale()
    for lag, colour in zip(lags, colours):
        rows = sample.timelag == lag
        ax.plot(
            sample.dist[rows] / 1000 * scale,
            sample.gamma[rows],
            "o",
            ms=3.5,
            color=colour,
            label=f"lag {lag:g} {model.time_unit}",
        )
        ax.plot(distance / 1000 * scale, model.gamma(distance, lag), "-", lw=1.2, color=colour)
    ax.set_xlabel("distance (km)")
    ax.set_ylabel(axis_label("semivariance", squared_units(units)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def sample_table(fit: VariogramFit, units: str | None) -> pd.DataFrame:
    """The sample variogram bins for the report: distances in km, semivariance with its unit."""
    frame = fit.sample.valid().to_frame()
    frame["spacelag"], frame["dist"] = frame["spacelag"] / 1000.0, frame["dist"] / 1000.0
    return frame.rename(
        columns={
            "spacelag": "distance bin (km)",
            "dist": "mean distance (km)",
            "timelag": f"time lag ({fit.best.model.time_unit})",
            "gamma": axis_label("semivariance", squared_units(units)),
            "np": "pairs",
        }
    )


def variogram_report(
    fit: VariogramFit, title: str, report: HtmlReport | None = None, units: str | None = None
) -> HtmlReport:
    report = report or HtmlReport(title)
    report.heading("Fitted model")
    report.paragraph(fit.best.model.describe())
    report.key_values(
        {
            "fit error (MSE)": fit.best.mse,
            "weighted error": fit.best.weighted_error,
            "gstat fit.method": fit.best.model.fit.get("fit_method"),
            "converged": "yes" if fit.best.converged else f"no ({fit.best.message})",
        }
    )
    report.figure(variogram_figure(fit, units), "Sample variogram (points) and fitted model (lines), per time lag.")
    if len(fit.all_fits) > 1:
        report.heading("All models tried")
        report.table(
            pd.DataFrame(
                [
                    {
                        "model": f.model.stModel,
                        "MSE": f.mse,
                        "weighted error": f.weighted_error,
                        "CV RMSE": f.model.fit.get("cv_rmse", float("nan")),
                        "converged": f.converged,
                    }
                    for f in fit.all_fits
                ]
            ).sort_values("MSE")
        )
    if fit.choice is not None:
        report.heading("Model choice: leave-one-station-out CV, with pure spatial kriging per time step")
        report.paragraph(fit.choice.reason())
        report.table(fit.choice.table())
    report.heading("Sample variogram")
    report.table(sample_table(fit, units), max_rows=40)
    return report


@command("fitstvariogram", FitStVariogramRequest, "Fit space-time variogram")
def fit_st_variogram(request: FitStVariogramRequest, reporter: Reporter) -> CommandResult:
    panel = kriging_panel(request.points.read(reporter), reporter)
    settings = request.variogram
    fit = fit_variogram(
        panel,
        settings.model,
        settings.basic_model,
        settings.fit_method,
        settings.cutoff,
        settings.width,
        settings.tlags,
        reporter,
    )
    reporter.log(f"Best model: {fit.best.model.describe()} (MSE {fit.best.mse:.4g}).")
    with AtomicOutputs() as outputs:
        fit.best.model.save(outputs.temporary(request.output_model))
        if request.output_report:
            variogram_report(
                fit, f"Space-time variogram: {Path(request.points.path).name}", units=request.points.units
            ).write(request.output_report, outputs)
        if request.output_table:
            from backend.data.point_io import write_table

            write_table(fit.sample.valid().to_frame(), request.output_table, outputs, layer="sample_variogram")
    produced = {
        "OUTPUT_MODEL": request.output_model,
        "OUTPUT_REPORT": request.output_report,
        "OUTPUT_TABLE": request.output_table,
    }
    return CommandResult.of(
        produced,
        {
            "model": fit.best.model.to_dict(),
            "mse": fit.best.mse,
            "fits": {f.model.stModel: f.mse for f in fit.all_fits},
        },
    )
