"""Command ``forecastbylocation``: one classical model per station or cell (ARIMA, exponential smoothing, curve
fit, forest, seasonal naive, or the best of them on a validation period), with intervals and the evaluation."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.forecast_raster import forecast_summary, value_range
from backend.commands.inputs import SeriesSource
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter, band_units, grid_of, open_raster, required_band_times
from backend.data.time_axis import on_regular_axis
from backend.data.time_parsing import format_time
from backend.data.units import axis_label
from backend.diagnostics.sources import point_output_path, raster_output_path
from backend.errors import UserInputError
from backend.forecast.by_location import CANDIDATES, METHODS, LocationForecasts, forecast_locations
from backend.forecast.windows import future_times
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure, plot_series
from backend.scale.blocks import chunk_tasks, open_in_chunks, run_chunks
from backend.scale.scheduler import open_client

WORK_BYTES_PER_VALUE = 64  # a chunk's series as float64 with their filled copies and the models' working arrays


@dataclass
class LocationForecastSettings:
    """``method``: one of :data:`backend.forecast.by_location.METHODS`; ``horizon`` steps; the last
    ``validation_steps`` held out to score (and, for ``best``, to choose); ``season_length`` 0 = detected per
    location; ``interval`` the central coverage of the bounds."""

    method: str = "best"
    horizon: int = 7
    validation_steps: int = 14
    season_length: int = 0
    interval: float = 0.9

    def tried(self) -> tuple[str, ...]:
        return CANDIDATES if self.method == "best" else (self.method,)

    def evaluation_names(self) -> list[str]:
        """The fields of :func:`evaluation_fields`, in order."""
        return [f"rmse_{m}" for m in self.tried()] + ["method", "season_length", "coverage"]

    def check(self) -> None:
        if self.method not in METHODS:
            raise UserInputError(f"Unknown method {self.method!r}; use one of {', '.join(METHODS)}.")
        if self.season_length < 0:
            raise UserInputError("SEASON_LENGTH must be 0 (detect) or a number of steps.")


@dataclass
class ForecastByLocationRequest:
    source: SeriesSource
    output: str
    output_evaluation: str | None = None
    output_report: str | None = None
    output_lower: str | None = None  # rasters: lower bounds as a stack
    output_upper: str | None = None  # rasters: upper bounds as a stack
    settings: LocationForecastSettings = field(default_factory=LocationForecastSettings)


def forecast_chunk(block_thw: np.ndarray, times: np.ndarray, settings: LocationForecastSettings) -> np.ndarray:
    """float32[3·H + F, h, w]: forecasts, lower and upper bounds of the next H steps and the evaluation fields
    (:func:`evaluation_fields`) of the cells of one chunk float32[T, h, w] of a stack with band ``times``."""
    regular_times, values, step = on_regular_axis(times, block_thw.astype(np.float32))
    _, h, w = values.shape
    result = _forecast(values.reshape(values.shape[0], -1).T.astype(np.float64), regular_times, step, settings)
    fields = evaluation_fields(result, settings)
    frames = [result.mean.T, result.lower.T, result.upper.T, np.stack(list(fields.values()))]
    return np.concatenate(frames).reshape(-1, h, w).astype(np.float32)


def _forecast(values, times, step, settings: LocationForecastSettings, reporter=None) -> LocationForecasts:
    return forecast_locations(
        values,
        times,
        step,
        settings.horizon,
        settings.method,
        settings.validation_steps,
        settings.season_length,
        settings.interval,
        reporter,
    )


def evaluation_fields(result: LocationForecasts, settings: LocationForecastSettings) -> dict[str, np.ndarray]:
    """Per location (float64[N] each): validation RMSE of every method tried, the method used (its METHOD number;
    0 = none), the season length and the share of validation values inside the chosen method's interval."""
    n = result.mean.shape[0]
    fields = {f"rmse_{m}": result.validation_rmse.get(m, np.full(n, np.nan)) for m in settings.tried()}
    fields["method"] = np.array([METHODS.index(m) if m else 0 for m in result.method], dtype=np.float64)
    fields["season_length"] = result.season_length.astype(np.float64)
    fields["coverage"] = _share_covered(result.validation_covered, n)
    return fields


def _share_covered(covered: np.ndarray | None, n: int, axis: int | None = 1):
    """Share of 1s among the finite entries of ``covered`` float[N, V] per location (``axis`` 1) or overall."""
    if covered is None or not covered.size:
        return np.full(n, np.nan) if axis is not None else np.nan
    count = np.isfinite(covered).sum(axis=axis)
    return np.where(count > 0, np.nansum(covered, axis=axis) / np.maximum(count, 1), np.nan)


def _validation_summary(result: LocationForecasts, settings: LocationForecastSettings) -> pd.DataFrame:
    """Validation RMSE per method at leads 1, 7 and all steps, pooled over locations, and of the chosen methods."""
    rows = []
    errors = dict(result.validation_errors)
    if errors:
        chosen = np.full_like(next(iter(errors.values())), np.nan)
        for m, e in errors.items():
            chosen[result.method == m] = e[result.method == m]
        if settings.method == "best":
            errors["chosen per location"] = chosen
    for name, e in errors.items():
        row = {"method": name.replace("_", " ")}
        for lead in (1, 7, 28):
            if lead <= e.shape[1]:
                row[f"RMSE at {lead} steps"] = float(np.sqrt(np.nanmean(e[:, lead - 1] ** 2)))
        row[f"RMSE over 1–{e.shape[1]} steps"] = float(np.sqrt(np.nanmean(e**2)))
        row["locations"] = int(np.isfinite(e).any(axis=1).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _report(path, outputs, title, result, settings, names, times, values, future, units, table) -> None:
    report = HtmlReport(title)
    report.heading("Summary")
    used = pd.Series([m or "none" for m in result.method]).value_counts()
    report.key_values(
        {
            "locations": int(result.method.size),
            "method": settings.method.replace("_", " "),
            "horizon (steps)": settings.horizon,
            "validation steps": settings.validation_steps if table is not None else 0,
            "interval": f"{100 * settings.interval:g} %",
            "season lengths found": ", ".join(
                f"{k}: {v}" for k, v in pd.Series(result.season_length).value_counts().sort_index().items()
            ),
            "failed fits (replaced by the next method)": ", ".join(
                f"{k.replace('_', ' ')} {v}" for k, v in result.failures.items() if v
            )
            or "none",
        }
    )
    report.table(pd.DataFrame({"method used": used.index, "locations": used.to_numpy()}))
    if table is not None and len(table):
        report.heading("Validation")
        report.paragraph(
            f"Each method fitted on all but the last {settings.validation_steps} steps and scored on them "
            "(observed values only), pooled over the locations."
        )
        report.table(table)
        if result.validation_covered is not None:
            coverage = float(_share_covered(result.validation_covered, 0, axis=None))
            report.paragraph(
                f"Share of validation values inside the chosen methods' {100 * settings.interval:g} % intervals: "
                f"{coverage:.3f}."
            )
        fig, ax = new_figure(8, 3.0)
        data = [r[np.isfinite(r)] for r in result.validation_rmse.values()]
        ax.boxplot(data, labels=[m.replace("_", " ") for m in result.validation_rmse], showfliers=False)
        ax.set_ylabel(axis_label("validation RMSE", units))
        report.figure(fig, "Validation RMSE per location, by method.")
    order = np.argsort([-np.nanstd(v) if np.isfinite(v).any() else np.inf for v in values])[:3]
    for i in order:
        if not result.method[i]:
            continue
        fig, ax = new_figure(8, 2.6)
        plot_series(ax, times, values[i], lw=0.8, color="#2d5384", label="observed")
        ax.plot(future, result.mean[i], color="#c0504d", lw=1.2, label=f"forecast ({result.detail[i]})")
        ax.fill_between(future, result.lower[i], result.upper[i], color="#c0504d", alpha=0.2, lw=0)
        label_time_axes(ax, axis_label("value", units))
        ax.legend(fontsize=7)
        ax.set_title(str(names[i]))
        report.figure(fig, f"Observed series and the forecast with its {100 * settings.interval:g} % interval.")
    report.write(path, outputs)


def _point_forecasts(request: ForecastByLocationRequest, reporter: Reporter) -> CommandResult:
    settings = request.settings
    panel, step = request.source.panel(None, reporter)
    units = request.source.units()
    result = _forecast(panel.values.astype(np.float64), panel.times, step, settings, reporter.scaled(5, 90))
    future = future_times(panel.times[-1], step, settings.horizon)
    n, h = result.mean.shape
    station = np.repeat(np.arange(n), h)
    forecasts = pd.DataFrame(
        {
            "station_id": panel.ids[station],
            "time": [format_time(t) for t in np.tile(future, n)],
            "step": np.tile(np.arange(1, h + 1), n),
            "forecast": result.mean.ravel(),
            "lower": result.lower.ravel(),
            "upper": result.upper.ravel(),
            "method": result.method[station].astype(str),
        }
    )
    fields = evaluation_fields(result, settings)
    fields["method"] = result.method.astype(str)
    evaluation = panel.frame({**fields, "model": result.detail.astype(str)})
    table = _validation_summary(result, settings)
    output = point_output_path(request.output)
    with AtomicOutputs() as outputs:
        write_table(forecasts, output, outputs, xy=panel.xy[station], crs=panel.crs, layer="forecasts")
        if request.output_evaluation:
            path = point_output_path(request.output_evaluation)
            write_table(evaluation, path, outputs, xy=panel.xy, crs=panel.crs, layer="evaluation")
        if request.output_report:
            _report(
                request.output_report,
                outputs,
                "Forecast by location",
                result,
                settings,
                panel.ids,
                panel.times,
                panel.values,
                future,
                units,
                table if len(table) else None,
            )
    return CommandResult.of(
        {
            "OUTPUT": output,
            "OUTPUT_EVALUATION": point_output_path(request.output_evaluation) if request.output_evaluation else None,
            "OUTPUT_REPORT": request.output_report,
        },
        _summary(result, settings, future, step, units, table),
    )


def _summary(result, settings, future, step, units, table) -> dict:
    return {
        **forecast_summary(future, step, units, *value_range(result.mean)),
        "methods_used": {k: int(v) for k, v in pd.Series(result.method).value_counts().items() if k},
        "validation": table.to_dict(orient="records") if table is not None else [],
        "failures": {k: int(v) for k, v in result.failures.items()},
    }


def _raster_forecasts(request: ForecastByLocationRequest, reporter: Reporter) -> CommandResult:
    settings = request.settings
    path = request.source.raster
    with open_raster(path) as src:
        times, grid, units = required_band_times(src, path), grid_of(src), band_units(src)
    regular_times, _, step = on_regular_axis(times, np.empty((times.size, 0), np.float32))
    if regular_times.size > times.size:
        reporter.warning(f"{regular_times.size - times.size} missing time step(s) are treated as no data.")
    future = future_times(regular_times[-1], step, settings.horizon)
    h = settings.horizon
    names = settings.evaluation_names()
    output = raster_output_path(request.output)
    ranges = {"low": np.inf, "high": -np.inf}
    with AtomicOutputs() as outputs, open_client(reporter=reporter, chunks_in_this_thread=True) as client:
        stack = open_in_chunks(path, client, regular_times.size * WORK_BYTES_PER_VALUE, reporter)
        windows = stack.windows()
        paths = {(0, h): output, (h, 2 * h): request.output_lower, (2 * h, 3 * h): request.output_upper}
        with ExitStack() as files:
            writers = {
                part: files.enter_context(
                    StackWriter(raster_output_path(target), grid, future, outputs=outputs, units=units)
                )
                for part, target in paths.items()
                if target
            }
            if request.output_evaluation:
                evaluation = StackWriter(
                    raster_output_path(request.output_evaluation), grid, None, names, outputs=outputs
                )
                writers[(3 * h, None)] = files.enter_context(evaluation)

            def write(index: int, frames: np.ndarray) -> None:
                for (start, stop), writer in writers.items():
                    writer.write_window(frames[start:stop], windows[index])
                finite = frames[:h][np.isfinite(frames[:h])]
                if finite.size:
                    ranges["low"], ranges["high"] = min(ranges["low"], finite.min()), max(ranges["high"], finite.max())

            run_chunks(chunk_tasks(forecast_chunk, stack, times, settings), write, reporter, client)
            if not np.isfinite(ranges["low"]):
                raise UserInputError("No cell of the stack could be fitted: every cell has too few values.")
    produced = {
        "OUTPUT": output,
        "OUTPUT_LOWER": raster_output_path(request.output_lower) if request.output_lower else None,
        "OUTPUT_UPPER": raster_output_path(request.output_upper) if request.output_upper else None,
        "OUTPUT_EVALUATION": raster_output_path(request.output_evaluation) if request.output_evaluation else None,
    }
    summary = {**forecast_summary(future, step, units, ranges["low"], ranges["high"]), "evaluation_bands": names}
    return CommandResult.of(produced, summary)


@command("forecastbylocation", ForecastByLocationRequest, "Forecast by location")
def forecast_by_location(request: ForecastByLocationRequest, reporter: Reporter) -> CommandResult:
    request.settings.check()
    if request.source.is_raster():
        return _raster_forecasts(request, reporter)
    return _point_forecasts(request, reporter)
