"""Command ``emerginghotspots``: Gi* per time step and the emerging hot spot category of every location."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import SeriesSource
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter
from backend.data.raster_stack import GridSpec
from backend.data.time_parsing import format_time
from backend.data.units import readable_length
from backend.diagnostics.sources import point_output_path, raster_output_path
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure, plot_series


@dataclass
class HotSpotRequest:
    source: SeriesSource
    output: str
    output_report: str | None = None
    neighbourhood: str = "auto"  # points: distance_band | knn; rasters: queen | rook | distance_band
    distance: float = 0.0  # metres (points; 0 = smallest band giving everyone a neighbour) or map units
    k: int = 8
    time_step: str | None = None  # aggregate to this step first (pandas offset)
    alpha: float = 0.05


def _hot_spot_series(request: HotSpotRequest, reporter: Reporter):
    """(times, :class:`HotSpotSeries`, grid or panel) for raster cells or points."""
    from backend.diagnostics.hotspots import point_hot_spot_series, raster_hot_spot_series

    if request.source.is_raster():
        times, flat, grid = request.source.whole_stack(request.time_step, "hot spot analysis", reporter)
        values = flat.reshape(-1, grid.height, grid.width)
        return (
            times,
            raster_hot_spot_series(values, abs(grid.transform.a), request.neighbourhood, request.distance),
            grid,
        )
    panel, _step = request.source.panel(request.time_step, reporter)
    series = point_hot_spot_series(panel, request.neighbourhood, request.distance, request.k, reporter)
    return panel.times, series, panel


@command("emerginghotspots", HotSpotRequest, "Emerging hot spots")
def emerging_hot_spots_command(request: HotSpotRequest, reporter: Reporter) -> CommandResult:
    from backend.diagnostics.hotspots import CATEGORIES, emerging_hot_spots

    times, series, where = _hot_spot_series(request, reporter)
    result = emerging_hot_spots(series, request.alpha)
    columns, observed, counts = result.columns, result.observed, result.counts
    is_raster = isinstance(where, GridSpec)
    with AtomicOutputs() as outputs:
        if is_raster:
            output = raster_output_path(request.output)
            grid = where
            bands = ["category_code", "trend_z", "trend_p", "hot_steps", "cold_steps"]
            stack = np.stack(
                [
                    np.where(observed, np.asarray(columns[b], dtype=np.float64), np.nan).reshape(
                        grid.height, grid.width
                    )
                    for b in bands
                ]
            )
            from rasterio.windows import Window

            with StackWriter(
                output,
                grid,
                None,
                bands,
                tags={"CATEGORIES": ";".join(f"{i}={c}" for i, c in enumerate(CATEGORIES))},
                outputs=outputs,
            ) as writer:
                writer.write_window(stack, Window(0, 0, grid.width, grid.height))
        else:
            output = point_output_path(request.output)
            write_table(where.frame(columns), output, outputs, xy=where.xy, crs=where.crs)
        if request.output_report:
            report = HtmlReport("Emerging hot spots")
            report.key_values(
                {
                    "locations": int(observed.sum()),
                    "time steps": int(times.size),
                    "first / last step": f"{format_time(times[0])} / {format_time(times[-1])}",
                    "neighbourhood": series.kind.replace("_", " ")
                    + (f" of {readable_length(series.band)}" if series.band else ""),
                    "significance": f"FDR-adjusted p < {request.alpha}",
                }
            )
            report.table(pd.DataFrame({"category": counts.index, "locations": counts.to_numpy()}))
            fig, ax = new_figure(8, 3)
            plot_series(ax, times, result.hot.sum(axis=1), color="#c0504d", label="hot")
            plot_series(ax, times, result.cold.sum(axis=1), color="#2d5384", label="cold")
            label_time_axes(ax, "significant locations")
            ax.legend(fontsize=7)
            report.figure(fig, "Number of significant hot and cold spots per time step.")
            report.write(request.output_report, outputs)
    reporter.log("Categories: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    produced = {"OUTPUT": output, "OUTPUT_REPORT": request.output_report}
    return CommandResult.of(
        produced,
        {
            "categories": {str(k): int(v) for k, v in counts.items()},
            "time_steps": int(times.size),
            "raster": is_raster,
            "category_names": CATEGORIES,
        },
    )
