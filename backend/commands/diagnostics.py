"""Command ``timeseriesdiagnostics``: trend, seasonality, stationarity and change points per cell or station."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import SeriesSource
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter, open_raster, read_block
from backend.data.time_parsing import format_time
from backend.data.time_step import TimeStep
from backend.data.units import axis_label, per_year_units
from backend.diagnostics.engine import (
    DESCRIPTIONS,
    FIELDS,
    WORK_BYTES_PER_CHUNK,
    WORK_BYTES_PER_VALUE,
    DiagnosticSettings,
    diagnose,
    diagnose_chunk,
    seasonal_test_period,
)
from backend.diagnostics.series_tests import VERDICTS, default_period
from backend.diagnostics.sources import point_output_path, raster_output_path, regular_axis, regular_block
from backend.errors import UserInputError
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure, plot_series
from backend.scale.blocks import chunk_tasks, open_in_chunks, run_chunks
from backend.scale.scheduler import open_client

REPORT_FIELDS = ("n_values", "trend_p", "trend_slope", "slope_per_year", "seasonality", "stationarity", "change_points")


@dataclass
class DiagnosticsRequest:
    source: SeriesSource
    output: str
    output_report: str | None = None
    settings: DiagnosticSettings = field(default_factory=DiagnosticSettings)
    time_step: str | None = None  # average to this step first (pandas offset), e.g. 1D


def _diagnostics_report(title, fields, period, step, outputs, path, examples, units: str | None) -> None:
    report = HtmlReport(title)
    report.heading("Summary")
    n = fields["n_values"]
    usable = n >= 4
    significant = usable & (fields["trend_p"] < 0.05)
    verdicts = pd.Series(fields["stationarity"][np.isfinite(fields["stationarity"])]).map(VERDICTS).value_counts()
    report.key_values(
        {
            "locations": int(n.size),
            "too short or empty (< 4 values)": int((~usable).sum()),
            "time step": step.text,
            "STL period (steps)": period,
            "significant trend (p < 0.05, Hamed-Rao)": f"{int(significant.sum())} "
            f"({int((significant & (fields['trend_slope'] > 0)).sum())} up, "
            f"{int((significant & (fields['trend_slope'] < 0)).sum())} down)",
            f"median Sen's slope ({per_year_units(units)})": float(np.nanmedian(fields["slope_per_year"]))
            if np.isfinite(fields["slope_per_year"]).any()
            else "n/a",
            "median seasonality strength": float(np.nanmedian(fields["seasonality"]))
            if np.isfinite(fields["seasonality"]).any()
            else "n/a",
            "with change points": int((fields["change_points"] > 0).sum()),
        }
    )
    report.table(pd.DataFrame({"verdict (ADF + KPSS)": verdicts.index, "locations": verdicts.to_numpy()}))
    report.table(pd.DataFrame({"field": list(DESCRIPTIONS), "meaning": list(DESCRIPTIONS.values())}))
    for name, times, series, slope, intercept, changes in examples:
        fig, ax = new_figure(8, 2.6)
        plot_series(ax, times, series, lw=0.8, color="#2d5384", label="values")
        index = np.arange(series.size)
        if np.isfinite(slope):
            ax.plot(times, intercept + slope * index, color="#c0504d", lw=1.2, label="Sen's slope")
        label_time_axes(ax, axis_label("value", units))
        for c in changes[changes >= 0]:
            ax.axvline(times[c], color="#888888", ls="--", lw=0.8)
        ax.legend(fontsize=7)
        ax.set_title(name)
        report.figure(fig, "Series with its Sen's slope line and change points in the mean (dashed).")
    report.write(path, outputs)


def _examples(names, times, values, diagnosis, count=3):
    """A few locations for the report: the strongest trends (by |z|)."""
    slope, z = diagnosis.fields["trend_slope"], diagnosis.fields["trend_z"]
    order = np.argsort(-np.nan_to_num(np.abs(z), nan=-1))[:count]
    return [(str(names[i]), times, values[:, i], slope[i], diagnosis.intercept[i], diagnosis.changes[i]) for i in order]


def _log_step(reporter: Reporter, step: TimeStep, period: int) -> None:
    seasons = seasonal_test_period(step)
    reporter.log(
        f"Time step {step.text}: Sen's slopes per step and per year ({step.per_year:g} steps); STL period "
        f"{period} steps; "
        + (
            f"seasonal Mann-Kendall over {seasons} seasons per year."
            if seasons
            else "no seasonal Mann-Kendall (it is for monthly or quarterly data)."
        )
    )


def _diagnose_stack(request, times, step, period, output, outputs, reporter):
    """Diagnostics of every cell, chunk by chunk on this run's scheduler; the output raster is written as chunks
    come back. Returns the fields the report summarises (float32[H·W] each) and the report's examples."""
    path, settings = request.source.raster, request.settings
    axis_size = regular_axis(times, step).size
    with open_client(reporter=reporter) as client:
        stack = open_in_chunks(path, client, axis_size * WORK_BYTES_PER_VALUE, reporter, WORK_BYTES_PER_CHUNK)
        windows = stack.windows()
        grid = stack.grid
        summary = {name: np.full((grid.height, grid.width), np.nan, np.float32) for name in REPORT_FIELDS}
        examples = []
        with StackWriter(output, grid, None, [f"{k}: {DESCRIPTIONS[k]}" for k in FIELDS], outputs=outputs) as writer:

            def write(index: int, diagnosis) -> None:
                window = windows[index]
                h, w = window.height, window.width
                writer.write_window(np.stack([diagnosis.fields[k].reshape(h, w) for k in FIELDS]), window)
                rows, cols = slice(window.row_off, window.row_off + h), slice(window.col_off, window.col_off + w)
                for k in REPORT_FIELDS:
                    summary[k][rows, cols] = diagnosis.fields[k].reshape(h, w)
                if index == 0:
                    names = [f"cell row {window.row_off + j // w}, col {window.col_off + j % w}" for j in range(h * w)]
                    with open_raster(path) as src:
                        values = regular_block(times, read_block(src, window))
                    examples.extend(
                        _examples(names, regular_axis(times, step), values.reshape(values.shape[0], -1), diagnosis)
                    )

            tasks = chunk_tasks(diagnose_chunk, stack, times, period, settings, step, grid.width * grid.height)
            run_chunks(tasks, write, reporter, client)
    return {k: v.ravel() for k, v in summary.items()}, examples


@command("timeseriesdiagnostics", DiagnosticsRequest, "Time-series diagnostics")
def timeseries_diagnostics(request: DiagnosticsRequest, reporter: Reporter) -> CommandResult:
    settings = request.settings
    if not 0 < settings.alpha < 0.5:
        raise UserInputError("The significance level must be between 0 and 0.5.")
    with AtomicOutputs() as outputs:
        if request.source.is_raster():
            output = raster_output_path(request.output)
            times, step = request.source.raster_times()
            if request.time_step:
                raise UserInputError(
                    "TIME_STEP aggregation is for point layers; aggregate a raster stack with "
                    "'Build raster time stack' first."
                )
            period = settings.period or default_period(step, regular_axis(times, step).size)
            _log_step(reporter, step, period)
            fields, examples = _diagnose_stack(request, times, step, period, output, outputs, reporter)
        else:
            output = point_output_path(request.output)
            panel, step = request.source.panel(request.time_step, reporter)
            values = panel.values.T.astype(np.float64)
            period = settings.period or default_period(step, values.shape[0])
            _log_step(reporter, step, period)
            diagnosis = diagnose(values, period, settings, step)
            fields = diagnosis.fields
            first = fields["first_change"]
            change_time = [format_time(panel.times[int(c)]) if np.isfinite(c) else "" for c in first]
            table = panel.frame({**fields, "first_change_time": change_time})
            write_table(table, output, outputs, xy=panel.xy, crs=panel.crs)
            examples = _examples(panel.ids, panel.times, values, diagnosis)
        if not (fields["n_values"] > 0).any():
            raise UserInputError(
                "Every value of the input is no data: there is nothing to diagnose, so no output was "
                "written. Check the input's no-data value and extent."
            )
        short = int((fields["n_values"] < 4).sum())
        if short:
            reporter.warning(f"{short} location(s) have fewer than 4 values: their tests are left empty (NA).")
        if request.output_report:
            _diagnostics_report(
                "Time-series diagnostics",
                fields,
                period,
                step,
                outputs,
                request.output_report,
                examples,
                request.source.units(),
            )
    significant = int(np.nansum(fields["trend_p"] < settings.alpha))
    reporter.log(
        f"{significant} of {fields['n_values'].size} locations have a significant trend (Hamed-Rao MK, "
        f"p < {settings.alpha})."
    )
    produced = {"OUTPUT": output, "OUTPUT_REPORT": request.output_report}
    return CommandResult.of(
        produced,
        {
            "locations": int(fields["n_values"].size),
            "significant_trends": significant,
            "period": int(period),
            "raster": request.source.is_raster(),
            "fields": FIELDS,
            "time_step": step.to_dict(),
        },
    )
