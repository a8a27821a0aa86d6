"""Command ``timeseriesclustering``: k-means clusters of station or cell series and their profiles."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import SeriesSource
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter
from backend.data.units import axis_label
from backend.diagnostics.sources import point_output_path, raster_output_path
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure, plot_series
from backend.scale.blocks import chunk_task, chunk_tasks, open_in_chunks, run_chunks
from backend.scale.scheduler import open_client


@dataclass
class ClusteringRequest:
    source: SeriesSource
    output: str
    output_report: str | None = None
    output_profiles: str | None = None  # CSV/GeoPackage table: cluster, time, mean, p10, p90
    n_clusters: int = 0  # 0 = chosen by silhouette
    features: str = "value"  # value | shape
    time_step: str | None = None
    seed: int = 0
    block: int = 0  # raster chunk side in cells; 0 = from the memory budget and the workers (backend.scale.blocks)


def _sample_size(steps: int, reporter: Reporter) -> int:
    """Series in the fit: :data:`MAX_FIT_ROWS`, or fewer where that many series of ``steps`` values would not fit
    the memory budget (the fit holds a few copies of them)."""
    from backend.diagnostics.clustering import MAX_FIT_ROWS
    from backend.memory import budget_bytes

    fitting = int(budget_bytes() / 2 // (steps * 8 * 6))  # the other half: chunks and the block cache
    if fitting < MAX_FIT_ROWS:
        reporter.log(
            f"The k-means fit uses at most {fitting:,} series (the memory budget; raise MEMORY_LIMIT for more)."
        )
    return max(3, min(MAX_FIT_ROWS, fitting))


def _cluster_stack(request: ClusteringRequest, output: str, outputs: AtomicOutputs, reporter: Reporter):
    """Fit on a sample of the cells, label every cell (written as chunks come back); returns (model, sizes,
    profiles)."""
    from backend.diagnostics import cluster_chunks as chunks
    from backend.diagnostics.clustering import cluster_profiles, fit_clusters_to_sample, fit_sample, require_series

    source = request.source
    axis = source.raster_axis(request.time_step, reporter)
    per_cell = axis.band_times.size * chunks.BYTES_PER_BAND + axis.series_times.size * chunks.BYTES_PER_STEP
    with open_client(reporter=reporter) as client:
        stack = open_in_chunks(source.raster, client, per_cell, reporter, side=request.block)
        grid, windows = stack.grid, stack.windows()
        has_values = np.zeros((grid.height, grid.width), bool)  # one byte per cell

        def keep_mask(index: int, mask: np.ndarray) -> None:
            window = windows[index]
            has_values[window.toslices()] = mask.reshape(window.height, window.width)

        run_chunks(
            chunk_tasks(chunks.chunk_has_values, stack),
            keep_mask,
            reporter.scaled(0, 20),
            client,
            "chunk (pass 1 of 3: cells with values)",
        )
        row_starts = np.concatenate([[0], np.cumsum(has_values.sum(axis=1))])  # cells with values before each row
        require_series(int(row_starts[-1]))
        # the fit's series are numbered row by row, as the in-memory path numbers them
        chosen, rng = fit_sample(int(row_starts[-1]), request.seed, _sample_size(axis.series_times.size, reporter))
        rows = np.searchsorted(row_starts, chosen, side="right") - 1
        cols = np.empty_like(chosen)
        for row in np.unique(rows):
            picked = rows == row
            cols[picked] = np.flatnonzero(has_values[row])[chosen[picked] - row_starts[row]]
        n_cols = len(stack.data.chunks[2])
        owner = rows // stack.side * n_cols + cols // stack.side
        needed = np.unique(owner)
        tasks, serves = [], []
        for index in needed:
            window = windows[index]
            mine = np.flatnonzero(owner == index)
            serves.append(mine)
            positions = (rows[mine] - window.row_off) * window.width + cols[mine] - window.col_off
            tasks.append(partial(chunk_task, chunks.chunk_series, stack, int(index), axis, positions))
        sample = np.empty((chosen.size, axis.series_times.size))
        run_chunks(
            tasks,
            lambda j, series: sample.__setitem__(serves[j], series),
            reporter.scaled(20, 40),
            client,
            "chunk (pass 2 of 3: series for the fit)",
        )
        reporter.progress(45, "k-means fit")
        model = fit_clusters_to_sample(sample, request.n_clusters, request.features, request.seed, rng)
        k = int(model.kmeans.n_clusters)
        totals = []
        with StackWriter(output, grid, None, ["cluster (0 = no data)"], outputs=outputs) as writer:

            def write(index: int, part) -> None:
                window = windows[index]
                band = np.where(part.labels > 0, part.labels, np.nan).reshape(1, window.height, window.width)
                writer.write_window(band.astype(np.float32), window)
                totals.append(part.totals)

            run_chunks(
                chunk_tasks(chunks.chunk_clusters, stack, axis, model),
                write,
                reporter.scaled(50, 100),
                client,
                "chunk (pass 3 of 3: clusters)",
            )
    total = sum(totals[1:], totals[0])
    sizes = {c: int(total.members[c - 1]) for c in range(1, k + 1)}
    profiles = cluster_profiles(axis.series_times, sample, model.predict(sample), k, total)
    return model, sizes, profiles


@command("timeseriesclustering", ClusteringRequest, "Time-series clustering")
def timeseries_clustering(request: ClusteringRequest, reporter: Reporter) -> CommandResult:
    from backend.diagnostics.clustering import cluster_profiles, fit_clusters

    source = request.source
    with AtomicOutputs() as outputs:
        if source.is_raster():
            output = raster_output_path(request.output)
            model, sizes, profiles = _cluster_stack(request, output, outputs, reporter)
        else:
            output = point_output_path(request.output)
            panel, _step = source.panel(request.time_step, reporter)
            series = panel.values.astype(np.float64)
            model = fit_clusters(series, request.n_clusters, request.features, request.seed)
            labels = model.predict(series)
            sizes = {c: int((labels == c).sum()) for c in range(1, int(model.kmeans.n_clusters) + 1)}
            profiles = cluster_profiles(panel.times, series, labels, int(model.kmeans.n_clusters))
            write_table(panel.frame({"cluster": labels.astype(np.int32)}), output, outputs, xy=panel.xy, crs=panel.crs)
        k = int(model.kmeans.n_clusters)
        if request.output_profiles:
            write_table(profiles, request.output_profiles, outputs)
        if request.output_report:
            report = HtmlReport("Time-series clustering")
            report.key_values(
                {
                    "series": sum(sizes.values()),
                    "features": request.features,
                    "clusters": k,
                    "chosen by": "silhouette" if request.n_clusters <= 0 else "user",
                }
            )
            if model.silhouette:
                report.table(
                    pd.DataFrame(
                        {
                            "clusters": list(model.silhouette),
                            "silhouette": [round(v, 4) for v in model.silhouette.values()],
                        }
                    )
                )
            report.table(pd.DataFrame({"cluster": list(sizes), "members": list(sizes.values())}))
            fig, ax = new_figure(8, 3.2)
            colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
            for cluster, part in profiles.groupby("cluster"):
                colour = colours[(cluster - 1) % len(colours)]
                plot_series(ax, part["time"], part["mean"], color=colour, lw=1.2, label=f"cluster {cluster}")
                ax.fill_between(part["time"], part["p10"], part["p90"], color=colour, alpha=0.15)
            label_time_axes(ax, axis_label("cluster mean", source.units()))
            ax.legend(fontsize=7)
            report.figure(fig, "Cluster mean profiles with the 10–90 % band of their members.")
            report.write(request.output_report, outputs)
    reporter.log(f"{k} clusters: " + ", ".join(f"{c}: {n}" for c, n in sizes.items()))
    produced = {"OUTPUT": output, "OUTPUT_REPORT": request.output_report, "OUTPUT_PROFILES": request.output_profiles}
    return CommandResult.of(
        produced, {"clusters": k, "sizes": sizes, "silhouette": model.silhouette, "raster": source.is_raster()}
    )
