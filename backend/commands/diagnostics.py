"""Command ``timeseriesdiagnostics``: trend, seasonality, stationarity and change points per cell or station."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import SeriesSource
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter, grid_of, iter_windows, open_raster, read_block
from backend.data.time_parsing import format_time
from backend.data.time_step import TimeStep
from backend.data.units import axis_label, per_year_units
from backend.diagnostics.engine import DESCRIPTIONS, FIELDS, DiagnosticSettings, diagnose, seasonal_test_period
from backend.diagnostics.series_tests import VERDICTS, default_period
from backend.diagnostics.sources import point_output_path, raster_output_path, regular_axis, regular_block
from backend.errors import UserInputError
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure, plot_series


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
            with open_raster(request.source.raster) as src:
                grid = grid_of(src)
                windows = list(iter_windows(grid, 128))
                summary = {name: [] for name in FIELDS}
                examples = []
                with StackWriter(
                    output, grid, None, [f"{k}: {DESCRIPTIONS[k]}" for k in FIELDS], outputs=outputs
                ) as writer:
                    for i, window in enumerate(windows):
                        block = regular_block(times, read_block(src, window))
                        t, h, w = block.shape
                        diagnosis = diagnose(block.reshape(t, -1), period, settings, step)
                        writer.write_window(np.stack([diagnosis.fields[k].reshape(h, w) for k in FIELDS]), window)
                        for k in FIELDS:
                            summary[k].append(diagnosis.fields[k])
                        if i == 0:
                            names = [
                                f"cell row {window.row_off + j // w}, col {window.col_off + j % w}"
                                for j in range(h * w)
                            ]
                            examples = _examples(names, regular_axis(times, step), block.reshape(t, -1), diagnosis)
                        reporter.progress(100.0 * (i + 1) / len(windows), f"block {i + 1}/{len(windows)}")
            fields = {k: np.concatenate(v) for k, v in summary.items()}
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
