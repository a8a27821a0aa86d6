"""Command ``describespacetime``: an HTML summary and a table of a raster stack or point panel."""

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
from backend.data.time_axis import TimeAxisSummary, format_time, summarize_time_axis
from backend.data.units import axis_label
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


def _value_stats(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {}
    return {
        "min": float(finite.min()),
        "max": float(finite.max()),
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "median": float(np.median(finite)),
    }


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


def _crs_text(crs_wkt: str) -> str:
    if not crs_wkt:
        return "none"
    from pyproj import CRS

    crs = CRS.from_user_input(crs_wkt)
    epsg = crs.to_epsg()
    return f"{crs.name} (EPSG:{epsg})" if epsg else crs.name


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
        axis = summarize_time_axis(times)
        grid = grid_of(src)
        t = src.count
        valid_per_cell = np.zeros((grid.height, grid.width), dtype=np.int64)
        count, total, total_sq = np.zeros(t, np.int64), np.zeros(t), np.zeros(t)
        low, high = np.full(t, np.inf), np.full(t, -np.inf)
        windows = list(iter_windows(grid))
        for w_index, window in enumerate(windows):
            block = read_block(src, window)
            finite = np.isfinite(block)
            filled = np.where(finite, block, 0.0).astype(np.float64)
            valid_per_cell[
                window.row_off : window.row_off + window.height, window.col_off : window.col_off + window.width
            ] += finite.sum(axis=0)
            count += finite.sum(axis=(1, 2))
            total += filled.sum(axis=(1, 2))
            total_sq += (filled**2).sum(axis=(1, 2))
            low = np.minimum(low, np.where(finite, block, np.inf).min(axis=(1, 2)))
            high = np.maximum(high, np.where(finite, block, -np.inf).max(axis=(1, 2)))
            reporter.progress(90.0 * (w_index + 1) / len(windows), f"block {w_index + 1}/{len(windows)}")
    if count.sum() == 0:
        raise UserInputError("The raster stack holds no valid value: every cell is no data in every band.")
    cells = grid.width * grid.height
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
        std = np.sqrt(np.maximum(np.where(count > 0, total_sq / count, np.nan) - mean**2, 0))
    per_time = pd.DataFrame(
        {
            "time": [format_time(x) for x in times],
            "valid_cells": count,
            "missing_share": 1 - count / cells,
            "mean": mean,
            "std": std,
            "min": np.where(count > 0, low, np.nan),
            "max": np.where(count > 0, high, np.nan),
        }
    )
    missing_share = 1.0 - valid_per_cell / t
    n_all = int(count.sum())
    overall_mean = float(total.sum() / n_all)
    summary = {
        "kind": "raster",
        "bands": t,
        "width": grid.width,
        "height": grid.height,
        "crs": _crs_text(grid.crs),
        "cell_size": [abs(grid.transform.a), abs(grid.transform.e)],
        "time_axis": axis.to_dict(),
        "valid_values": n_all,
        "missing_share": 1 - n_all / (cells * t),
        "cells_always_missing": int((valid_per_cell == 0).sum()),
        "cells_never_missing": int((valid_per_cell == t).sum()),
        "mean": overall_mean,
        "std": float(np.sqrt(max(total_sq.sum() / n_all - overall_mean**2, 0.0))),
        "min": float(np.nanmin(per_time["min"])),
        "max": float(np.nanmax(per_time["max"])),
    }
    report = HtmlReport(f"Space-time summary: {Path(request.raster).name}")
    report.heading("Raster stack")
    report.key_values(
        {
            "file": request.raster,
            "size": f"{grid.width} × {grid.height} px, {t} bands",
            "CRS": summary["crs"],
            "cell size": f"{summary['cell_size'][0]:.6g} × {summary['cell_size'][1]:.6g}",
            "valid values": n_all,
            "missing share": f"{summary['missing_share']:.2%}",
            "cells never observed": summary["cells_always_missing"],
            "cells always observed": summary["cells_never_missing"],
        }
    )
    _time_section(report, axis)
    report.heading("Values")
    report.key_values({k: summary[k] for k in ("min", "max", "mean", "std")} | {"units": units or "not in the file"})
    report.figure(
        _series_figure(
            times,
            {axis_label("mean", units): mean, "missing share": 1 - count / cells},
            "Spatial mean and missing share per time step",
        ),
        "Mean over all valid cells, and share of cells with no data, at each time step.",
    )
    fig, ax = new_figure(6, 4.5)
    image = ax.imshow(missing_share, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="missing share")
    ax.set_title("Missing share per cell")
    report.figure(fig, "Share of time steps with no data, per cell.")
    report.heading("Per time step")
    report.table(per_time, rest="are in the summary table (OUTPUT_TABLE)")
    report.write(request.output_html, outputs)
    if request.output_table:
        write_table(per_time, request.output_table, outputs, layer="time_steps")
    if request.output_missing:
        write_single_raster(missing_share, grid, request.output_missing, "missing share", outputs)
    return summary


def _longest_run(missing: np.ndarray) -> int:
    """Longest run of True in a bool[T] vector."""
    best = run = 0
    for m in missing:
        run = run + 1 if m else 0
        best = max(best, run)
    return best


def _mean_per_time(values_nt: np.ndarray) -> np.ndarray:
    """float64[T]: mean over stations at each time, NaN where none is observed."""
    count = np.isfinite(values_nt).sum(axis=0)
    total = np.nansum(values_nt, axis=0, dtype=np.float64)
    return np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)


def _station_table(panel: PointPanel) -> pd.DataFrame:
    finite = np.isfinite(panel.values)
    rows = []
    for i, station in enumerate(panel.ids):
        observed = np.flatnonzero(finite[i])
        stats = _value_stats(panel.values[i])
        rows.append(
            {
                "station_id": station,
                "n_obs": int(observed.size),
                "missing_share": 1 - observed.size / panel.times.size,
                "first_time": format_time(panel.times[observed[0]]) if observed.size else "",
                "last_time": format_time(panel.times[observed[-1]]) if observed.size else "",
                "longest_gap_steps": _longest_run(~finite[i]),
                **{k: stats.get(k, np.nan) for k in ("mean", "std", "min", "max")},
            }
        )
    return pd.DataFrame(rows)


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
    axis = panel.time_summary()
    stations = _station_table(panel)
    empty = stations.loc[stations["n_obs"] == 0, "station_id"].tolist()
    per_time_count = np.isfinite(panel.values).sum(axis=0)
    values = _value_stats(panel.values)
    if not values:
        raise UserInputError("The point layer holds no valid value: every observation is empty.")
    summary = {
        "kind": "points",
        "stations": panel.n_stations,
        "crs": _crs_text(panel.crs),
        "time_axis": axis.to_dict(),
        "observations": int(np.isfinite(panel.values).sum()),
        "missing_share": float(1 - np.isfinite(panel.values).mean()),
        "stations_without_data": empty,
        **values,
    }
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
    _time_section(report, axis)
    report.heading("Values")
    report.key_values(values | {"units": request.points.units or "not given (UNITS)"})
    report.figure(
        _series_figure(
            panel.times,
            {
                "stations observed": per_time_count,
                axis_label("mean", request.points.units): _mean_per_time(panel.values),
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
