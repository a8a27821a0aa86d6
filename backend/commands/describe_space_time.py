"""Command ``describespacetime``: an HTML summary and a table of a raster stack or point panel (the numbers come
from :mod:`backend.diagnostics.describe`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import PointInput
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.point_panel import PointPanel
from backend.data.raster_io import (
    band_units,
    grid_of,
    iter_windows,
    open_raster,
    read_block,
    required_band_times,
    write_single_raster,
)
from backend.data.time_axis import TimeAxisSummary
from backend.data.time_parsing import format_time
from backend.data.units import axis_label
from backend.diagnostics.describe import describe_panel, describe_raster_blocks
from backend.errors import UserInputError
from backend.progress import Reporter
from backend.report.html import HtmlReport, new_figure, plot_series


@dataclass
class DescribeSpaceTimeRequest:
    """Exactly one of ``raster`` (a stack with band times) or ``points`` is given.

    output_table: per time step (rasters) or per station (points), ``.gpkg`` or ``.csv``.
    output_missing: optional one-band raster of the missing share per cell (rasters only).
    """

    output_html: str
    output_table: str | None = None
    raster: str | None = None
    points: PointInput | None = None
    output_missing: str | None = None


def _time_section(report: HtmlReport, axis: TimeAxisSummary) -> None:
    report.heading("Time axis")
    report.key_values(
        {
            "first time": format_time(axis.start),
            "last time": format_time(axis.end),
            "time steps": axis.count,
            "step": axis.step_text,
            "regular": "yes" if axis.regular else "no",
        }
    )
    if axis.gaps:
        report.warning(f"{len(axis.gaps)} gap(s) with {axis.missing_steps} missing step(s) in total.")
        report.table(
            pd.DataFrame(
                [
                    {"after": format_time(g.after), "before": format_time(g.before), "missing steps": g.missing_steps}
                    for g in axis.gaps
                ]
            ),
            max_rows=20,
        )
    if axis.irregular_intervals:
        report.warning(f"{axis.irregular_intervals} interval(s) are not a whole number of steps.")


def _series_figure(times: np.ndarray, columns: dict[str, np.ndarray], title: str):
    fig, axes = new_figure(9, 2.2 * len(columns))
    fig.delaxes(axes)
    for i, (label, values) in enumerate(columns.items(), start=1):
        ax = fig.add_subplot(len(columns), 1, i)
        plot_series(ax, times, values, lw=0.8, color="#2d5384")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    ax.set_xlabel("time (UTC)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _describe_raster(request: DescribeSpaceTimeRequest, reporter: Reporter, outputs: AtomicOutputs):
    with open_raster(request.raster) as src:
        units = band_units(src)
        times = required_band_times(src, request.raster)
        grid = grid_of(src)
        windows = list(iter_windows(grid))
        blocks = ((window, read_block(src, window)) for window in windows)
        described = describe_raster_blocks(times, grid, blocks, len(windows), reporter)
    summary, t = described.summary, times.size
    report = HtmlReport(f"Space-time summary: {Path(request.raster).name}")
    report.heading("Raster stack")
    report.key_values(
        {
            "file": request.raster,
            "size": f"{grid.width} × {grid.height} px, {t} bands",
            "CRS": summary["crs"],
            "cell size": f"{summary['cell_size'][0]:.6g} × {summary['cell_size'][1]:.6g}",
            "valid values": summary["valid_values"],
            "missing share": f"{summary['missing_share']:.2%}",
            "cells never observed": summary["cells_always_missing"],
            "cells always observed": summary["cells_never_missing"],
        }
    )
    _time_section(report, described.axis)
    report.heading("Values")
    report.key_values({k: summary[k] for k in ("min", "max", "mean", "std")} | {"units": units or "not in the file"})
    report.figure(
        _series_figure(
            times,
            {
                axis_label("mean", units): described.mean,
                "missing share": 1 - described.count / (grid.width * grid.height),
            },
            "Spatial mean and missing share per time step",
        ),
        "Mean over all valid cells, and share of cells with no data, at each time step.",
    )
    fig, ax = new_figure(6, 4.5)
    image = ax.imshow(described.missing_share, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="missing share")
    ax.set_title("Missing share per cell")
    report.figure(fig, "Share of time steps with no data, per cell.")
    report.heading("Per time step")
    report.table(described.per_time, rest="are in the summary table (OUTPUT_TABLE)")
    report.write(request.output_html, outputs)
    if request.output_table:
        write_table(described.per_time, request.output_table, outputs, layer="time_steps")
    if request.output_missing:
        write_single_raster(described.missing_share, grid, request.output_missing, "missing share", outputs)
    return summary


def _availability_figure(panel: PointPanel, stations: pd.DataFrame):
    import matplotlib.dates as mdates
    from matplotlib.colors import ListedColormap

    fig, ax = new_figure(9, max(2.5, min(8.0, panel.n_stations * 0.12)))
    order = np.argsort(stations["missing_share"].to_numpy(), kind="stable")
    start, end = (mdates.date2num(pd.Timestamp(t)) for t in (panel.times[0], panel.times[-1]))
    ax.imshow(
        np.isfinite(panel.values)[order],
        aspect="auto",
        interpolation="nearest",
        cmap=ListedColormap(["#f3e1d6", "#2d5384"]),
        vmin=0,
        vmax=1,
        extent=(start, max(end, start + 1e-3), panel.n_stations, 0),
    )
    ax.xaxis_date()
    every = max(1, -(-panel.n_stations // 60))  # at most 60 station ids on the axis
    ax.set_yticks(np.arange(0, panel.n_stations, every) + 0.5)
    ax.set_yticklabels(panel.ids[order][::every], fontsize=6)
    ax.set_ylabel("station (most complete first)")
    ax.set_xlabel("time (blue: observed)")
    return fig


def _describe_points(request: DescribeSpaceTimeRequest, reporter: Reporter, outputs: AtomicOutputs):
    panel = request.points.read(reporter)
    reporter.progress(40, f"{panel.n_stations} stations × {panel.times.size} times read")
    described = describe_panel(panel)
    summary, stations = described.summary, described.stations
    empty = summary["stations_without_data"]
    report = HtmlReport(f"Space-time summary: {Path(request.points.path).name}")
    report.heading("Stations")
    report.key_values(
        {
            "layer": request.points.path,
            "stations": panel.n_stations,
            "CRS": summary["crs"],
            "observations": summary["observations"],
            "missing share (station × time)": f"{summary['missing_share']:.2%}",
        }
    )
    if empty:
        report.warning(f"{len(empty)} station(s) have no observation: {', '.join(empty[:10])}.")
    _time_section(report, described.axis)
    report.heading("Values")
    report.key_values(described.values | {"units": request.points.units or "not given (UNITS)"})
    report.figure(
        _series_figure(
            panel.times,
            {
                "stations observed": described.observed_per_time,
                axis_label("mean", request.points.units): described.mean_per_time,
            },
            "Stations observed and network mean per time step",
        ),
        "Number of stations with a value, and their mean, at each time step.",
    )
    report.figure(
        _availability_figure(panel, stations),
        "Data availability per station: blue = observed, light = missing; stations sorted from most to least complete.",
    )
    report.heading("Per station (most missing first)")
    report.table(stations.sort_values("missing_share", ascending=False), rest="are in the summary table (OUTPUT_TABLE)")
    report.write(request.output_html, outputs)
    if request.output_table:
        write_table(stations, request.output_table, outputs, xy=panel.xy, crs=panel.crs, layer="stations")
    return summary


@command("describespacetime", DescribeSpaceTimeRequest, "Describe space-time data")
def describe_space_time(request: DescribeSpaceTimeRequest, reporter: Reporter) -> CommandResult:
    """Time range, step, gaps, missing share per station/cell, CRS and value statistics."""
    if (request.raster is None) == (request.points is None):
        raise UserInputError("Give either a raster stack or a point layer to describe.")
    if request.output_missing and request.raster is None:
        raise UserInputError("The missing-share raster is only made for raster stacks.")
    with AtomicOutputs() as outputs:
        if request.raster:
            summary = _describe_raster(request, reporter, outputs)
        else:
            summary = _describe_points(request, reporter, outputs)
    reporter.progress(100, "report written")
    produced = {
        "OUTPUT_HTML": request.output_html,
        "OUTPUT_TABLE": request.output_table,
        "OUTPUT_MISSING": request.output_missing,
    }
    return CommandResult.of(produced, summary)
