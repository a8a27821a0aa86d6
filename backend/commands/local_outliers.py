"""Command ``localoutliers``: space-time Local Moran's I per location and step, cluster/outlier types and each
location's summary over time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import SeriesSource
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter, grid_of, open_raster, read_block
from backend.data.time_parsing import format_time
from backend.diagnostics.local_outliers import (
    SUMMARIES,
    TYPES,
    LocalOutliers,
    check_settings,
    grid_neighbour_sums,
    local_outliers,
    point_neighbour_sums,
)
from backend.diagnostics.sources import point_output_path, raster_output_path
from backend.memory import require_memory
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure

TYPE_FIELDS = ("high_high", "low_low", "high_low", "low_high")  # steps of each significant type per location
WORK_BYTES_PER_CELL_STEP = 8 * 14  # the stack as float64 and the per-step arrays of the statistic


@dataclass
class LocalOutliersRequest:
    source: SeriesSource
    output: str
    output_steps: str | None = None
    output_report: str | None = None
    neighbourhood: str = "auto"  # points: distance_band | knn; rasters: queen | rook | distance_band
    distance: float = 0.0  # metres (points; 0 = smallest band giving everyone a neighbour) or map units
    k: int = 8
    time_steps: int = 1  # previous steps in each location's neighbourhood
    permutations: int = 999
    alpha: float = 0.05
    seed: int = 0
    time_step: str | None = None  # aggregate to this step first (pandas offset)


def _summary_columns(result: LocalOutliers) -> dict[str, np.ndarray]:
    code = result.summary.astype(np.int64)
    columns = {
        "summary_code": code,
        "summary": np.array([SUMMARIES[c] if c >= 0 else "no data" for c in code], dtype=object),
    }
    columns.update({name: result.counts[:, i] for i, name in enumerate(TYPE_FIELDS)})
    last = np.array([next((c for c in col[::-1] if c >= 0), -1) for col in result.category.T], dtype=np.int64)
    columns["last_type"] = np.array([TYPES[c] if c >= 0 else "no data" for c in last], dtype=object)
    return columns


def _report(path, outputs, result: LocalOutliers, times, settings: dict) -> None:
    report = HtmlReport("Local outliers (space-time Local Moran's I)")
    report.heading("Summary")
    report.key_values(settings)
    summaries = pd.Series([SUMMARIES[c] if c >= 0 else "no data" for c in result.summary]).value_counts()
    report.table(pd.DataFrame({"location over time": summaries.index, "locations": summaries.to_numpy()}))
    fig, ax = new_figure(8, 3.0)
    colours = ("#d7191c", "#2c7bb6", "#fdae61", "#abd9e9")
    for code, colour in zip(range(1, 5), colours):
        ax.plot(times, (result.category == code).sum(axis=1), color=colour, lw=1.2, label=TYPES[code])
    label_time_axes(ax, "locations")
    ax.legend(fontsize=7)
    report.figure(fig, "Significant locations of each type per step (FDR within each step).")
    report.write(path, outputs)


def _point_outliers(request: LocalOutliersRequest, outputs: AtomicOutputs, reporter: Reporter) -> dict:
    from backend.diagnostics.hotspots import point_neighbourhood

    panel, _step = request.source.panel(request.time_step, reporter)
    weights, kind, _band = point_neighbourhood(
        panel, request.neighbourhood, request.distance, request.k, reporter, "Local outlier analysis"
    )
    values = panel.values.T.astype(np.float64)
    result = local_outliers(
        values,
        point_neighbour_sums(weights),
        request.time_steps,
        request.permutations,
        request.alpha,
        request.seed,
        reporter.scaled(5, 90),
    )
    output = point_output_path(request.output)
    write_table(panel.frame(_summary_columns(result)), output, outputs, xy=panel.xy, crs=panel.crs, layer="summary")
    produced = {"OUTPUT": output}
    if request.output_steps:
        t, n = values.shape
        station = np.tile(np.arange(n), t)
        observed = np.isfinite(values.ravel())
        steps = pd.DataFrame(
            {
                "station_id": panel.ids[station],
                "time": np.repeat([format_time(x) for x in panel.times], n),
                "value": values.ravel(),
                "local_i": result.local_i.ravel(),
                "z": result.z.ravel(),
                "lag": result.lag.ravel(),
                "p": result.p.ravel(),
                "p_z": result.p_z.ravel(),
                "p_fdr": result.p_fdr.ravel(),
                "category": [TYPES[c] if c >= 0 else "" for c in result.category.ravel()],
            }
        )[observed]
        produced["OUTPUT_STEPS"] = point_output_path(request.output_steps)
        write_table(
            steps.reset_index(drop=True),
            produced["OUTPUT_STEPS"],
            outputs,
            xy=panel.xy[station[observed]],
            crs=panel.crs,
            layer="steps",
        )
    return {"produced": produced, "result": result, "times": panel.times, "kind": kind}


def _raster_outliers(request: LocalOutliersRequest, outputs: AtomicOutputs, reporter: Reporter) -> dict:
    from backend.diagnostics.hotspots import raster_kernel

    axis = request.source.raster_axis(request.time_step, reporter)
    with open_raster(request.source.raster) as src:
        grid = grid_of(src)
        require_memory(
            float(axis.series_times.size) * grid.width * grid.height * WORK_BYTES_PER_CELL_STEP,
            f"Local Moran's I of a {grid.width}×{grid.height} px stack with {axis.series_times.size} steps",
            "Use a coarser TIME_STEP, a smaller extent or a coarser grid.",
        )
        kind, kernel = raster_kernel(abs(grid.transform.a), request.neighbourhood, request.distance)
        values = axis.cells(read_block(src, None))
    result = local_outliers(
        values,
        grid_neighbour_sums(kernel, grid.height, grid.width),
        request.time_steps,
        request.permutations,
        request.alpha,
        request.seed,
        reporter.scaled(5, 90),
    )
    columns = _summary_columns(result)
    numeric = ["summary_code", *TYPE_FIELDS]
    output = raster_output_path(request.output)
    bands = [f"summary_code: {' / '.join(f'{i} {s}' for i, s in enumerate(SUMMARIES))}", *TYPE_FIELDS]
    shape = (grid.height, grid.width)
    with StackWriter(output, grid, None, bands, outputs=outputs) as writer:
        frames = np.stack([np.asarray(columns[k], dtype=np.float32).reshape(shape) for k in numeric])
        frames[0][result.summary.reshape(shape) < 0] = np.nan
        writer.write_window(frames, None)
    produced = {"OUTPUT": output}
    if request.output_steps:
        produced["OUTPUT_STEPS"] = raster_output_path(request.output_steps)
        with StackWriter(produced["OUTPUT_STEPS"], grid, axis.series_times, outputs=outputs) as writer:
            category = np.where(result.category >= 0, result.category, np.nan).astype(np.float32)
            writer.write_window(category.reshape((-1, *shape)), None)
    return {"produced": produced, "result": result, "times": axis.series_times, "kind": kind}


@command("localoutliers", LocalOutliersRequest, "Local outliers")
def local_outliers_command(request: LocalOutliersRequest, reporter: Reporter) -> CommandResult:
    check_settings(request.time_steps, request.permutations, request.alpha)
    with AtomicOutputs() as outputs:
        run = (_raster_outliers if request.source.is_raster() else _point_outliers)(request, outputs, reporter)
        result, times = run["result"], run["times"]
        settings = {
            "locations": int(result.summary.size),
            "time steps": int(times.size),
            "neighbourhood": run["kind"].replace("_", " "),
            "previous steps in the neighbourhood": request.time_steps,
            "FDR level": request.alpha,
        }
        if request.output_report:
            _report(request.output_report, outputs, result, times, settings)
            run["produced"]["OUTPUT_REPORT"] = request.output_report
    reporter.log(
        "Locations over time: "
        + ", ".join(
            f"{k} {v}" for k, v in pd.Series([SUMMARIES[c] for c in result.summary if c >= 0]).value_counts().items()
        )
    )
    counts = {SUMMARIES[c]: int((result.summary == c).sum()) for c in range(len(SUMMARIES))}
    return CommandResult.of(
        run["produced"],
        {
            "locations": int(result.summary.size),
            "steps": int(times.size),
            "times": [format_time(t) for t in times],
            "summary_counts": counts,
            "summary_names": list(SUMMARIES),
            "type_names": list(TYPES),
        },
    )
