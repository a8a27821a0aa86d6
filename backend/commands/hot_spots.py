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
from backend.data.time_parsing import format_time
from backend.data.units import readable_length
from backend.diagnostics.sources import point_output_path, raster_output_path
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure, plot_series
from backend.scale.blocks import chunk_tasks, halo_tasks, open_in_chunks, run_chunks
from backend.scale.scheduler import open_client


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
    block: int = 0  # raster chunk side in cells; 0 = from the memory budget and the workers (backend.scale.blocks)


@dataclass
class HotSpotSummary:
    """What the report and the log need: series ``times``, significant hot/cold locations per step int[T],
    locations per category, the neighbourhood (``kind``, point distance ``band`` in metres)."""

    times: np.ndarray
    hot: np.ndarray
    cold: np.ndarray
    counts: pd.Series
    kind: str
    band: float | None = None


def _point_hot_spots(
    request: HotSpotRequest, output: str, outputs: AtomicOutputs, reporter: Reporter
) -> HotSpotSummary:
    from backend.diagnostics.hotspots import emerging_hot_spots, point_hot_spot_series

    panel, _step = request.source.panel(request.time_step, reporter)
    series = point_hot_spot_series(panel, request.neighbourhood, request.distance, request.k, reporter)
    result = emerging_hot_spots(series, request.alpha)
    write_table(panel.frame(result.columns), output, outputs, xy=panel.xy, crs=panel.crs)
    return HotSpotSummary(
        panel.times, result.hot.sum(axis=1), result.cold.sum(axis=1), result.counts, series.kind, series.band
    )


def _raster_hot_spots(
    request: HotSpotRequest, output: str, outputs: AtomicOutputs, reporter: Reporter
) -> HotSpotSummary:
    """The three passes of :mod:`backend.diagnostics.hotspot_chunks` on the run's scheduler; the z of every
    cell-step waits in a scratch file of this run between passes 2 and 3."""
    from dataclasses import replace

    from backend.diagnostics import hotspot_chunks as chunks
    from backend.diagnostics.hotspots import check_emerging_settings, fdr_threshold, p_two_sided, raster_kernel
    from backend.memory import require_disk_space, require_memory

    axis = request.source.raster_axis(request.time_step, reporter)
    steps = axis.series_times.size
    check_emerging_settings(steps, request.alpha)
    with open_client(reporter=reporter) as client:
        stack = open_in_chunks(
            request.source.raster,
            client,
            axis.band_times.size * chunks.BYTES_PER_BAND + steps * chunks.BYTES_PER_STEP,
            reporter,
            chunks.WORK_BYTES_PER_CHUNK,
            side=request.block,
        )
        grid, windows = stack.grid, stack.windows()
        kind, kernel = raster_kernel(abs(grid.transform.a), request.neighbourhood, request.distance)
        plan = chunks.GridHotSpotPlan(axis, kernel, request.alpha)
        z_bytes = float(steps) * grid.height * grid.width * 8
        require_disk_space(output, z_bytes)
        require_memory(
            grid.height * grid.width * 8 * 4,
            f"The significance of one time step of a {grid.width}×{grid.height} px grid",
            "Use a coarser grid or a smaller extent.",
        )
        moments = []
        run_chunks(
            chunk_tasks(chunks.chunk_moments, stack, plan),
            lambda i, m: moments.append(m),
            reporter.scaled(0, 20),
            client,
            "chunk (pass 1 of 3: step means)",
        )
        plan = replace(plan, moments=sum(moments[1:], moments[0]))
        scratch = outputs.scratch(output, ".npy")
        z_all = np.lib.format.open_memmap(scratch, "w+", np.float64, (steps, grid.height, grid.width))

        def keep_z(index: int, z: np.ndarray) -> None:
            window = windows[index]
            z_all[
                :, window.row_off : window.row_off + window.height, window.col_off : window.col_off + window.width
            ] = z

        run_chunks(
            halo_tasks(chunks.chunk_z, stack, plan.halo, plan),
            keep_z,
            reporter.scaled(20, 50),
            client,
            "chunk (pass 2 of 3: Gi*)",
        )
        z_all.flush()
        thresholds = np.array([fdr_threshold(p_two_sided(z_all[t].ravel()), request.alpha) for t in range(steps)])
        z_all = None  # unmaps the scratch file (removed with the run's temporaries)
        plan = replace(plan, thresholds=thresholds)
        hot, cold = np.zeros(steps, np.int64), np.zeros(steps, np.int64)
        counts = pd.Series(dtype=np.int64)
        with StackWriter(
            output, grid, None, list(chunks.RASTER_BANDS), tags=chunks.category_tags(), outputs=outputs
        ) as writer:

            def write(index: int, part) -> None:
                nonlocal counts
                writer.write_window(part.bands, windows[index])
                hot[:] += part.hot
                cold[:] += part.cold
                counts = counts.add(pd.Series(part.counts, dtype=np.int64), fill_value=0)

            run_chunks(
                halo_tasks(chunks.chunk_hot_spots, stack, plan.halo, plan),
                write,
                reporter.scaled(50, 100),
                client,
                "chunk (pass 3 of 3: trends and categories)",
            )
    counts = counts.astype(np.int64).sort_values(ascending=False, kind="stable")
    return HotSpotSummary(axis.series_times, hot, cold, counts, kind)


@command("emerginghotspots", HotSpotRequest, "Emerging hot spots")
def emerging_hot_spots_command(request: HotSpotRequest, reporter: Reporter) -> CommandResult:
    from backend.diagnostics.hotspots import CATEGORIES

    is_raster = request.source.is_raster()
    with AtomicOutputs() as outputs:
        if is_raster:
            output = raster_output_path(request.output)
            summary = _raster_hot_spots(request, output, outputs, reporter)
        else:
            output = point_output_path(request.output)
            summary = _point_hot_spots(request, output, outputs, reporter)
        times, counts = summary.times, summary.counts
        if request.output_report:
            report = HtmlReport("Emerging hot spots")
            report.key_values(
                {
                    "locations": int(counts.sum()),
                    "time steps": int(times.size),
                    "first / last step": f"{format_time(times[0])} / {format_time(times[-1])}",
                    "neighbourhood": summary.kind.replace("_", " ")
                    + (f" of {readable_length(summary.band)}" if summary.band else ""),
                    "significance": f"FDR-adjusted p < {request.alpha}",
                }
            )
            report.table(pd.DataFrame({"category": counts.index, "locations": counts.to_numpy()}))
            fig, ax = new_figure(8, 3)
            plot_series(ax, times, summary.hot, color="#c0504d", label="hot")
            plot_series(ax, times, summary.cold, color="#2d5384", label="cold")
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
