"""Command ``evaluateforecasts``: several forecasts of the same stations or cells scored against observations,
the best one per location merged into one output."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backend.commands.base import CommandResult, command
from backend.commands.inputs import SeriesSource
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import PointLayerRef, numeric_values, read_layer_frame, require_fields, write_table
from backend.data.raster_io import (
    StackWriter,
    band_units,
    grid_of,
    iter_windows,
    open_raster,
    read_block,
    required_band_times,
)
from backend.data.time_parsing import format_time, parse_times
from backend.diagnostics.sources import point_output_path, raster_output_path
from backend.errors import UserInputError
from backend.forecast.evaluation import evaluate_forecasts
from backend.progress import Reporter
from backend.report.html import HtmlReport
from backend.scale.blocks import chunk_side

FORECAST_FIELDS = ("station_id", "time", "forecast")  # what a point forecast needs (lower, upper, step kept)


@dataclass
class EvaluateForecastsRequest:
    forecasts: list[str]  # point layers / tables or raster stacks with band times, all of one kind
    observed: SeriesSource
    output: str
    output_evaluation: str | None = None
    output_report: str | None = None
    names: list[str] = field(default_factory=list)  # labels of the forecasts (default: file names)


def forecast_names(paths: list[str], names: list[str]) -> list[str]:
    """Labels of the forecasts: the given ones, else the file names, made unique."""
    labels = [names[i] if i < len(names) and names[i] else Path(p).stem for i, p in enumerate(paths)]
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label}_{seen[label]}")
    return unique


def _read_point_forecast(path: str) -> pd.DataFrame:
    if Path(path).suffix.lower() == ".csv" and Path(path).exists():
        frame = pd.read_csv(path)
    else:
        frame = pd.DataFrame(read_layer_frame(PointLayerRef(path)))
    try:
        require_fields(frame, FORECAST_FIELDS)
    except UserInputError as exc:
        raise UserInputError(
            f"{Path(path).name} is not a point forecast ({exc}). Use the OUTPUT of forecastbylocation or "
            "forecastnetwork (station_id, time, forecast)."
        ) from None
    frame = frame.drop(columns=[c for c in ("geometry",) if c in frame.columns])
    frame["station_id"] = frame["station_id"].astype(str)
    frame["time"] = parse_times(frame["time"], f"times of {Path(path).name}")
    frame["forecast"] = numeric_values(frame["forecast"], "forecast")
    if frame.duplicated(["station_id", "time"]).any():
        raise UserInputError(
            f"{Path(path).name} has several forecasts for one station and time (e.g. several origins); "
            "give one forecast per station and time."
        )
    return frame


def _report(path, outputs, names: list[str], rmse: np.ndarray, best: np.ndarray, what: str) -> None:
    """``rmse`` float[S, N] of each forecast per location, ``best`` int[N] the chosen one (−1 = none)."""
    report = HtmlReport("Evaluate forecasts by location")
    report.heading("Summary")
    scored = best >= 0
    wins = pd.Series([names[b] for b in best[scored]]).value_counts()
    report.key_values({"locations": int(best.size), "scored": int(scored.sum()), "compared": what})
    rows = []
    for s, name in enumerate(names):
        ok = np.isfinite(rmse[s])
        rows.append(
            {
                "forecast": name,
                "locations scored": int(ok.sum()),
                "median RMSE": float(np.median(rmse[s][ok])) if ok.any() else np.nan,
                "best at locations": int(wins.get(name, 0)),
            }
        )
    report.table(pd.DataFrame(rows))
    report.write(path, outputs)


def _points(request: EvaluateForecastsRequest, names: list[str], reporter: Reporter) -> CommandResult:
    panel = request.observed.points.read(reporter)
    frames = [_read_point_forecast(p) for p in request.forecasts]
    stations = np.array(sorted(set().union(*(set(f["station_id"]) for f in frames))), dtype=object)
    times = np.unique(np.concatenate([f["time"].to_numpy() for f in frames])).astype("datetime64[s]")
    observed = np.full((stations.size, times.size), np.nan)
    known = {s: i for i, s in enumerate(panel.ids.astype(str))}
    rows = [known.get(s, -1) for s in stations]
    columns = np.searchsorted(panel.times, times)
    exact = (columns < panel.times.size) & (panel.times[np.minimum(columns, panel.times.size - 1)] == times)
    for n, row in enumerate(rows):
        if row >= 0:
            observed[n, exact] = panel.values[row, columns[exact]]
    forecasts = np.full((len(frames), stations.size, times.size), np.nan)
    for s, frame in enumerate(frames):
        forecasts[s, np.searchsorted(stations, frame["station_id"]), np.searchsorted(times, frame["time"])] = frame[
            "forecast"
        ]
    if not np.isfinite(forecasts - observed[None]).any():
        raise UserInputError(
            "No forecast meets an observation: the observed layer must hold readings of the forecast stations at "
            "forecast times (the validation period)."
        )
    evaluation = evaluate_forecasts(forecasts, observed)
    unscored = int((evaluation.best < 0).sum())
    if unscored:
        reporter.warning(f"{unscored} station(s) have no observed value at a forecast time; they are left out.")
    merged = []
    for n, station in enumerate(stations):
        if evaluation.best[n] >= 0:
            b = evaluation.best[n]
            part = frames[b][frames[b]["station_id"] == station].copy()
            part["source"] = names[b]
            part["validation_rmse"] = evaluation.rmse[b, n]
            merged.append(part)
    merged = pd.concat(merged, ignore_index=True).sort_values(["station_id", "time"], kind="stable")
    merged["time"] = [format_time(t) for t in merged["time"].to_numpy().astype("datetime64[s]")]
    xy_of = {s: panel.xy[i] for s, i in known.items()}
    table = pd.DataFrame({"station_id": stations})
    for s, name in enumerate(names):
        table[f"rmse_{name}"] = evaluation.rmse[s]
        table[f"n_{name}"] = evaluation.matched[s]
    table["best"] = [names[b] if b >= 0 else "" for b in evaluation.best]
    output = point_output_path(request.output)
    with AtomicOutputs() as outputs:
        merged_xy = np.array([xy_of.get(s, (np.nan, np.nan)) for s in merged["station_id"]], dtype=np.float64)
        write_table(merged.reset_index(drop=True), output, outputs, xy=merged_xy, crs=panel.crs, layer="best")
        if request.output_evaluation:
            table_xy = np.array([xy_of.get(s, (np.nan, np.nan)) for s in stations], dtype=np.float64)
            path = point_output_path(request.output_evaluation)
            write_table(table, path, outputs, xy=table_xy, crs=panel.crs, layer="evaluation")
        if request.output_report:
            _report(request.output_report, outputs, names, evaluation.rmse, evaluation.best, "point forecasts")
    return _result(request, output, names, evaluation.best)


def _result(request, output: str, names: list[str], best: np.ndarray) -> CommandResult:
    wins = {name: int((best == s).sum()) for s, name in enumerate(names)}
    produced = {
        "OUTPUT": output,
        "OUTPUT_EVALUATION": (
            (raster_output_path if request.observed.is_raster() else point_output_path)(request.output_evaluation)
            if request.output_evaluation
            else None
        ),
        "OUTPUT_REPORT": request.output_report,
    }
    summary = {"forecasts": names, "best_counts": wins, "unscored": int((best < 0).sum())}
    return CommandResult.of(produced, summary)


def _rasters(request: EvaluateForecastsRequest, names: list[str], reporter: Reporter) -> CommandResult:
    """Stacks compared window by window (each cell's choice depends on its own series only), so stacks beyond
    memory work; only each forecast's RMSE per cell (float32) and the choice are kept for the whole grid."""
    with open_raster(request.observed.raster) as src:
        grid, observed_times, units = grid_of(src), required_band_times(src, request.observed.raster), band_units(src)
    stacks = []
    for path in request.forecasts:
        with open_raster(path) as src:
            if not grid_of(src).same_as(grid):
                raise UserInputError(
                    f"{Path(path).name} is on another grid than the observed stack; resample it onto that grid."
                )
            stacks.append(required_band_times(src, path))
    times = np.unique(np.concatenate(stacks)).astype("datetime64[s]")
    shared = np.isin(observed_times, times)
    if not shared.any():
        raise UserInputError(
            "The observed stack has no band at a forecast time: give observations of the forecast period."
        )
    cells, count = grid.width * grid.height, len(stacks)
    kept_bytes = cells * (4.0 * count + 8.0)  # RMSE per forecast and cell (float32), the choice (int64)
    side = chunk_side(8.0 * times.size * (count + 3), 1, cells, reserved=kept_bytes)
    windows = list(iter_windows(grid, side))
    rmse = np.full((count, grid.height, grid.width), np.nan, np.float32)
    best = np.full((grid.height, grid.width), -1, np.int64)
    output = raster_output_path(request.output)
    with AtomicOutputs() as outputs, ExitStack() as files:
        sources = [files.enter_context(open_raster(path)) for path in request.forecasts]
        observed_source = files.enter_context(open_raster(request.observed.raster))
        writer = files.enter_context(StackWriter(output, grid, times, outputs=outputs, units=units))
        for k, window in enumerate(windows):
            rows, columns = window.toslices()
            forecasts = np.full((count, window.height * window.width, times.size), np.nan)
            for s, (src, band_times) in enumerate(zip(sources, stacks)):
                block = read_block(src, window).reshape(band_times.size, -1).T
                forecasts[s][:, np.searchsorted(times, band_times)] = block
            observed = np.full((window.height * window.width, times.size), np.nan)
            block = read_block(observed_source, window).reshape(observed_times.size, -1)
            observed[:, np.searchsorted(times, observed_times[shared])] = block[shared].T
            evaluation = evaluate_forecasts(forecasts, observed)
            picked = np.take_along_axis(forecasts, np.maximum(evaluation.best, 0)[None, :, None], axis=0)[0]
            picked[evaluation.best < 0] = np.nan
            writer.write_window(picked.T.reshape((times.size, window.height, window.width)), window)
            rmse[:, rows, columns] = evaluation.rmse.reshape((count, window.height, window.width))
            best[rows, columns] = evaluation.best.reshape((window.height, window.width))
            reporter.progress(100.0 * (k + 1) / len(windows), f"window {k + 1}/{len(windows)}")
        if request.output_evaluation:
            bands = [f"rmse_{name}" for name in names] + [
                "best: " + ", ".join(f"{i + 1} {n}" for i, n in enumerate(names))
            ]
            choice = np.where(best >= 0, best + 1, np.nan)[None].astype(np.float32)
            with StackWriter(raster_output_path(request.output_evaluation), grid, None, bands, outputs=outputs) as w:
                w.write_window(np.concatenate([rmse, choice]), None)
        rmse, best = rmse.reshape(count, -1), best.ravel()
        if request.output_report:
            _report(request.output_report, outputs, names, rmse, best, "raster forecasts")
    return _result(request, output, names, best)


@command("evaluateforecasts", EvaluateForecastsRequest, "Evaluate forecasts by location")
def evaluate_forecasts_command(request: EvaluateForecastsRequest, reporter: Reporter) -> CommandResult:
    if len(request.forecasts) < 2:
        raise UserInputError("Give at least two forecasts of the same locations to compare.")
    names = forecast_names(request.forecasts, request.names)
    if request.observed.is_raster():
        return _rasters(request, names, reporter)
    return _points(request, names, reporter)
