"""Commands ``timeseriesdiagnostics``, ``timeseriesclustering`` and ``emerginghotspots`` (rasters or points)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import SeriesSource
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter, grid_of, iter_windows, open_raster, read_block
from backend.data.raster_stack import GridSpec
from backend.data.time_parsing import format_time
from backend.data.time_step import TimeStep
from backend.data.units import axis_label, per_year_units, readable_length
from backend.diagnostics.engine import DESCRIPTIONS, FIELDS, DiagnosticSettings, diagnose, seasonal_test_period
from backend.diagnostics.series_tests import VERDICTS, default_period
from backend.diagnostics.sources import aggregate, point_output_path, raster_output_path, regular_axis, regular_block
from backend.errors import UserInputError
from backend.memory import require_memory
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure, plot_series


@dataclass
class DiagnosticsRequest:
    source: SeriesSource
    output: str
    output_report: str | None = None
    settings: DiagnosticSettings = field(default_factory=DiagnosticSettings)
    time_step: str | None = None  # average to this step first (pandas offset), e.g. 1D


def _point_frame(panel, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({"station_id": panel.ids, **{k: np.asarray(v) for k, v in columns.items()}})


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
            table = _point_frame(panel, {**fields, "first_change_time": change_time})
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


# --- emerging hot spots ------------------------------------------------------------------------------


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


def _whole_stack(source: SeriesSource, time_step: str | None, purpose: str, reporter: Reporter):
    """(times, values float64[T, H·W], grid) of a whole raster stack on its regular axis, averaged to ``time_step``;
    refused when it would not fit in memory."""
    times, step = source.raster_times()
    axis = regular_axis(times, step)
    with open_raster(source.raster) as src:
        grid = grid_of(src)
        require_memory(
            axis.size * grid.width * grid.height * 8 * 3,
            f"{purpose.capitalize()} of a {grid.width}×{grid.height} px stack with {axis.size} time steps",
            "Aggregate it to fewer time steps (TIME_STEP) or use a coarser grid or a smaller extent.",
        )
        values = regular_block(times, read_block(src)).astype(np.float64)
    times, flat = aggregate(axis, values.reshape(axis.size, -1), time_step, reporter)
    return times, flat, grid


def _hot_spot_series(request: HotSpotRequest, reporter: Reporter):
    """(times, :class:`HotSpotSeries`, grid or panel) for raster cells or points."""
    from backend.data.distances import station_distances
    from backend.diagnostics.hotspots import point_hot_spot_series, raster_hot_spot_series

    if request.source.is_raster():
        times, flat, grid = _whole_stack(request.source, request.time_step, "hot spot analysis", reporter)
        values = flat.reshape(-1, grid.height, grid.width)
        return (
            times,
            raster_hot_spot_series(values, abs(grid.transform.a), request.neighbourhood, request.distance),
            grid,
        )
    panel, _step = request.source.panel(request.time_step, reporter)
    distances = station_distances(panel.xy, panel.crs) if panel.n_stations >= 3 else np.zeros((0, 0))
    series = point_hot_spot_series(
        panel.values, distances, request.neighbourhood, request.distance, request.k, reporter
    )
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
            write_table(_point_frame(where, columns), output, outputs, xy=where.xy, crs=where.crs)
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


# --- clustering --------------------------------------------------------------------------------------


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
        times, flat, grid = _whole_stack(source, request.time_step, "clustering", reporter)
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
            write_table(
                _point_frame(panel, {"cluster": labels.astype(np.int32)}), output, outputs, xy=panel.xy, crs=panel.crs
            )
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
