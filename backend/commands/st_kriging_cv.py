"""Command ``stkrigingcv``: leave-one-station-out cross-validation, with a pure spatial baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import KrigingSettings, PointInput
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.units import axis_label
from backend.kriging.cross_validation import cross_validate, spatial_baseline
from backend.kriging.model_choice import SPATIAL
from backend.kriging.workflow import kriging_panel, model_for
from backend.progress import Reporter
from backend.report.html import HtmlReport, new_figure


@dataclass
class StKrigingCvRequest:
    points: PointInput
    output_table: str  # per-station metrics, point layer (.gpkg) or .csv
    model_file: str | None = None
    output_residuals: str | None = None
    output_report: str | None = None
    kriging: KrigingSettings = field(default_factory=KrigingSettings)
    compare_spatial: bool = True


@command("stkrigingcv", StKrigingCvRequest, "Space-time kriging cross-validation")
def st_kriging_cv(request: StKrigingCvRequest, reporter: Reporter) -> CommandResult:
    panel = kriging_panel(request.points.read(reporter), reporter)
    model, options, choice = model_for(panel, request.model_file, request.kriging.options(), reporter.scaled(0, 40))
    if choice is not None and not choice.sampled:
        cv = choice.best.cv  # the winner's CV is not run twice
    else:
        cv = cross_validate(panel, model, options, reporter.scaled(40, 80))
    reporter.log(
        "Space-time kriging, leave-one-station-out: " + ", ".join(f"{k} {v:.4g}" for k, v in cv.metrics.items())
    )
    summary = {"model": model.to_dict(), "nmax": options.nmax or "all data", "space_time": cv.metrics}
    if choice is not None:
        summary["model_choice"] = choice.table().to_dict(orient="records")
    baseline = None
    if request.compare_spatial:
        ranked = choice.find(SPATIAL, options.nmax) if choice is not None and not choice.sampled else None
        baseline = (
            ranked.cv if ranked is not None else spatial_baseline(panel, options.nmax, reporter.scaled(80, 95))[1]
        )
        summary["spatial_only"] = baseline.metrics
        reporter.log(
            "Pure spatial kriging per time step: " + ", ".join(f"{k} {v:.4g}" for k, v in baseline.metrics.items())
        )
    with AtomicOutputs() as outputs:
        write_table(cv.per_station, request.output_table, outputs, xy=panel.xy, crs=panel.crs, layer="cv_stations")
        if request.output_residuals:
            write_table(cv.residuals, request.output_residuals, outputs, layer="cv_residuals")
        if request.output_report:
            _report(request, model, options, choice, cv, baseline).write(request.output_report, outputs)
    produced = {
        "OUTPUT": request.output_table,
        "OUTPUT_RESIDUALS": request.output_residuals,
        "OUTPUT_REPORT": request.output_report,
    }
    return CommandResult.of(produced, summary)


def _report(request, model, options, choice, cv, baseline) -> HtmlReport:
    report = HtmlReport(f"Space-time kriging cross-validation: {Path(request.points.path).name}")
    report.heading("Model")
    report.paragraph(model.describe())
    report.key_values(
        {
            "neighbourhood (nmax)": options.nmax or "all data",
            "kriging": "simple" if request.kriging.mean is not None else "ordinary",
        }
    )
    if choice is not None:
        report.heading("Model choice: leave-one-station-out CV of every candidate")
        report.paragraph(choice.reason())
        report.table(choice.table())
        if choice.sampled:
            report.paragraph(
                "The ranking predicted an evenly spread sample of the time steps; the errors below use all."
            )
    report.heading("Leave-one-station-out errors")
    rows = [{"method": "space-time kriging", **cv.metrics}]
    if baseline is not None:
        rows.append({"method": "spatial kriging per time step", **baseline.metrics})
    report.table(pd.DataFrame(rows))
    report.paragraph("mean_z2 is the mean squared standardised error; near 1 when kriging variances are realistic.")
    fig, ax = new_figure(5, 5)
    res = cv.residuals
    ax.plot(res["observed"], res["predicted"], ".", ms=2, alpha=0.4, color="#2d5384")
    low, high = np.nanmin(res["observed"]), np.nanmax(res["observed"])
    ax.plot([low, high], [low, high], "k--", lw=0.8)
    ax.set_xlabel(axis_label("observed", request.points.units))
    ax.set_ylabel(axis_label("predicted (station left out)", request.points.units))
    report.figure(fig, "Observed against cross-validated predictions.")
    report.heading("Per station (largest RMSE first)")
    report.table(
        cv.per_station.sort_values("rmse", ascending=False), rest="are in the per-station layer (OUTPUT_TABLE)"
    )
    return report
