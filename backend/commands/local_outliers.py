"""Command ``localoutliers``: space-time Local Moran's I per location and step, cluster/outlier types and each
location's summary over time."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import SeriesSource
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter, grid_of, open_raster, read_bands
from backend.data.time_parsing import format_time
from backend.diagnostics.local_outliers import (
    CELLS_PER_PERMUTATION_BATCH,
    MAX_PERMUTATIONS,
    SUMMARIES,
    TYPES,
    OutlierTally,
    check_settings,
    grid_neighbour_sums,
    local_outliers,
    outlier_steps,
    point_neighbour_sums,
)
from backend.diagnostics.sources import point_output_path, raster_output_path
from backend.memory import require_memory
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure

TYPE_FIELDS = ("high_high", "low_low", "high_low", "low_high")  # steps of each significant type per location
STEP_ARRAYS = 12  # float64 arrays per cell of one step: the statistic's fields and their work arrays


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


def _summary_columns(tally: OutlierTally) -> dict[str, np.ndarray]:
    code = tally.summary.astype(np.int64)
    columns = {
        "summary_code": code,
        "summary": np.array([SUMMARIES[c] if c >= 0 else "no data" for c in code], dtype=object),
    }
    columns.update({name: tally.counts[:, i] for i, name in enumerate(TYPE_FIELDS)})
    columns["last_type"] = np.array([TYPES[c] if c >= 0 else "no data" for c in tally.last], dtype=object)
    return columns


def _report(path, outputs, tally: OutlierTally, times, settings: dict) -> None:
    report = HtmlReport("Local outliers (space-time Local Moran's I)")
    report.heading("Summary")
    report.key_values(settings)
    summaries = pd.Series([SUMMARIES[c] if c >= 0 else "no data" for c in tally.summary]).value_counts()
    report.table(pd.DataFrame({"location over time": summaries.index, "locations": summaries.to_numpy()}))
    fig, ax = new_figure(8, 3.0)
    colours = ("#d7191c", "#2c7bb6", "#fdae61", "#abd9e9")
    per_step = np.array(tally.per_step).reshape(-1, 4)
    for code, colour in zip(range(1, 5), colours):
        ax.plot(times, per_step[:, code - 1], color=colour, lw=1.2, label=TYPES[code])
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
    write_table(
        panel.frame(_summary_columns(result.tally)), output, outputs, xy=panel.xy, crs=panel.crs, layer="summary"
    )
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
    return {"produced": produced, "tally": result.tally, "times": panel.times, "kind": kind}


def _raster_outliers(request: LocalOutliersRequest, outputs: AtomicOutputs, reporter: Reporter) -> dict:
    """The stack streamed one series step at a time (its bands read, averaged to TIME_STEP where asked): only the
    steps in the neighbourhood are held, so stacks of any length fit; a first pass counts the observed cells."""
    from backend.diagnostics.hotspots import raster_kernel

    axis = request.source.raster_axis(request.time_step, reporter)
    groups = axis.band_groups()
    with open_raster(request.source.raster) as src:
        grid = grid_of(src)
        cells, widest = grid.width * grid.height, max((g.size for g in groups), default=1)
        require_memory(
            cells * (8.0 * STEP_ARRAYS * (request.time_steps + 1) + 4.0 * widest + 16.0)
            + 8.0 * min(cells, CELLS_PER_PERMUTATION_BATCH) * MAX_PERMUTATIONS * 3,  # the permutations' draws
            f"Local Moran's I of a {grid.width}×{grid.height} px stack, {request.time_steps} previous step(s) held",
            "Use a smaller extent, a coarser grid or fewer TIME_STEPS.",
        )
        kind, kernel = raster_kernel(abs(grid.transform.a), request.neighbourhood, request.distance)

        def series_steps(progress):
            for j, group in enumerate(groups):
                yield axis.step_values(group, read_bands(src, group))
                progress.progress(100.0 * (j + 1) / len(groups), f"reading step {j + 1} of {len(groups)}")

        most_observed = max((int(np.isfinite(v).sum()) for v in series_steps(reporter.scaled(0, 10))), default=0)
        steps = outlier_steps(
            series_steps(Reporter()),
            grid_neighbour_sums(kernel, grid.height, grid.width),
            request.time_steps,
            request.permutations,
            request.alpha,
            request.seed,
            most_observed,
            reporter.scaled(10, 95),
            len(groups),
        )
        tally = OutlierTally.empty(cells)
        shape = (grid.height, grid.width)
        produced = {"OUTPUT": raster_output_path(request.output)}
        with ExitStack() as files:
            writer = None
            if request.output_steps:
                produced["OUTPUT_STEPS"] = raster_output_path(request.output_steps)
                writer = files.enter_context(
                    StackWriter(produced["OUTPUT_STEPS"], grid, axis.series_times, outputs=outputs)
                )
            for j, step in enumerate(steps):
                tally.add(step)
                if writer is not None:
                    writer.write_band(j, np.where(step.category >= 0, step.category, np.nan).reshape(shape))
    columns = _summary_columns(tally)
    numeric = ["summary_code", *TYPE_FIELDS]
    bands = [f"summary_code: {' / '.join(f'{i} {s}' for i, s in enumerate(SUMMARIES))}", *TYPE_FIELDS]
    with StackWriter(produced["OUTPUT"], grid, None, bands, outputs=outputs) as writer:
        frames = np.stack([np.asarray(columns[k], dtype=np.float32).reshape(shape) for k in numeric])
        frames[0][tally.summary.reshape(shape) < 0] = np.nan
        writer.write_window(frames, None)
    return {"produced": produced, "tally": tally, "times": axis.series_times, "kind": kind}


@command("localoutliers", LocalOutliersRequest, "Local outliers")
def local_outliers_command(request: LocalOutliersRequest, reporter: Reporter) -> CommandResult:
    check_settings(request.time_steps, request.permutations, request.alpha)
    with AtomicOutputs() as outputs:
        run = (_raster_outliers if request.source.is_raster() else _point_outliers)(request, outputs, reporter)
        tally, times = run["tally"], run["times"]
        summary = tally.summary
        settings = {
            "locations": int(summary.size),
            "time steps": int(times.size),
            "neighbourhood": run["kind"].replace("_", " "),
            "previous steps in the neighbourhood": request.time_steps,
            "FDR level": request.alpha,
        }
        if request.output_report:
            _report(request.output_report, outputs, tally, times, settings)
            run["produced"]["OUTPUT_REPORT"] = request.output_report
    reporter.log(
        "Locations over time: "
        + ", ".join(f"{k} {v}" for k, v in pd.Series([SUMMARIES[c] for c in summary if c >= 0]).value_counts().items())
    )
    counts = {SUMMARIES[c]: int((summary == c).sum()) for c in range(len(SUMMARIES))}
    return CommandResult.of(
        run["produced"],
        {
            "locations": int(summary.size),
            "steps": int(times.size),
            "times": [format_time(t) for t in times],
            "summary_counts": counts,
            "summary_names": list(SUMMARIES),
            "type_names": list(TYPES),
        },
    )
