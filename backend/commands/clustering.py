"""Command ``timeseriesclustering``: k-means clusters of station or cell series and their profiles."""

from __future__ import annotations

from dataclasses import dataclass

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


@command("timeseriesclustering", ClusteringRequest, "Time-series clustering")
def timeseries_clustering(request: ClusteringRequest, reporter: Reporter) -> CommandResult:
    from backend.diagnostics.clustering import cluster_profiles, fit_clusters

    source = request.source
    if source.is_raster():
        times, flat, grid = source.whole_stack(request.time_step, "clustering", reporter)
        series = flat.T
    else:
        panel, _step = source.panel(request.time_step, reporter)
        times, series = panel.times, panel.values.astype(np.float64)
    model = fit_clusters(series, request.n_clusters, request.features, request.seed)
    k = int(model.kmeans.n_clusters)
    labels = model.predict(series)
    sizes = {int(c): int((labels == c).sum()) for c in range(1, k + 1)}
    profiles = cluster_profiles(times, series, labels, k)
    with AtomicOutputs() as outputs:
        if source.is_raster():
            output = raster_output_path(request.output)
            from rasterio.windows import Window

            band = np.where(labels > 0, labels, np.nan).reshape(1, grid.height, grid.width)
            with StackWriter(output, grid, None, ["cluster (0 = no data)"], outputs=outputs) as writer:
                writer.write_window(band, Window(0, 0, grid.width, grid.height))
        else:
            output = point_output_path(request.output)
            write_table(panel.frame({"cluster": labels.astype(np.int32)}), output, outputs, xy=panel.xy, crs=panel.crs)
        if request.output_profiles:
            write_table(profiles, request.output_profiles, outputs)
        if request.output_report:
            report = HtmlReport("Time-series clustering")
            report.key_values(
                {
                    "series": int((labels > 0).sum()),
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
