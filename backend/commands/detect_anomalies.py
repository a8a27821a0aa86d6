"""Commands ``detectpointanomalies`` and ``detectrasteranomalies``."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backend.anomaly.detect import Detection, DetectionSettings, detect_point_anomalies
from backend.anomaly.events import threshold_value
from backend.anomaly.raster import ChunkScores, RasterScorer, score_chunk
from backend.commands.base import CommandResult, command
from backend.commands.inputs import PointInput
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter, band_times_from_metadata, grid_of, open_raster
from backend.data.time_axis import summarize_time_axis
from backend.data.time_parsing import format_time
from backend.data.units import axis_label
from backend.errors import UserInputError
from backend.progress import Reporter
from backend.report.html import HtmlReport, label_time_axes, new_figure, plot_series
from backend.scale.blocks import chunk_tasks, open_in_chunks, run_chunks
from backend.scale.scheduler import open_client


@dataclass
class DetectPointAnomaliesRequest:
    points: PointInput
    output: str  # GeoPackage of observations with scores
    output_events: str | None = None
    output_report: str | None = None
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    flagged_only: bool = False


def _events_frame(detection: Detection) -> pd.DataFrame:
    rows = [
        {
            "event_id": e.event_id,
            "station_id": e.station,
            "start": format_time(e.start),
            "end": format_time(e.end),
            "peak_time": format_time(e.peak_time),
            "peak_score": e.peak_score,
            "points": e.points,
        }
        for e in detection.events
    ]
    return pd.DataFrame(rows, columns=["event_id", "station_id", "start", "end", "peak_time", "peak_score", "points"])


def _point_report(request, detection: Detection, events: pd.DataFrame) -> HtmlReport:
    table = detection.table
    report = HtmlReport(f"Anomalies: {Path(request.points.path).name}")
    report.heading("Detection")
    s = request.detection
    report.key_values(
        {
            "method": s.method,
            "scores": "causal (past only)" if s.causal else "whole series",
            "score smoothing (steps)": s.smooth_steps,
            "threshold": f"{s.threshold_mode} {s.threshold:g} → score > {detection.threshold:.3g}",
            "observations": len(table),
            "flagged": int(table["is_anomaly"].sum()),
            "events": len(events),
        }
    )
    report.heading("Largest events")
    report.table(
        events.sort_values("peak_score", ascending=False), max_rows=20, rest="are in the events table (OUTPUT_EVENTS)"
    )
    busiest = events["station_id"].value_counts().index[:6] if len(events) else table["station_id"].unique()[:3]
    for station in busiest:
        part = table[table["station_id"] == station]
        fig, ax = new_figure(9, 2.6)
        times = pd.DatetimeIndex(part["time"])
        plot_series(ax, times, part["observed"], lw=0.7, color="#2d5384", label="observed")
        plot_series(ax, times, part["expected"], lw=0.7, color="#999999", label="expected")
        flagged = part["is_anomaly"] > 0
        ax.plot(times[flagged.to_numpy()], part["observed"][flagged], "o", ms=3, color="#c0504d", label="flagged")
        label_time_axes(ax, axis_label("value", request.points.units))
        ax.legend(fontsize=7)
        ax.set_title(str(station))
        report.figure(fig, f"Station {station}: observed, expected and flagged values.")
    return report


@command("detectpointanomalies", DetectPointAnomaliesRequest, "Detect point anomalies")
def detect_point_anomalies_command(request: DetectPointAnomaliesRequest, reporter: Reporter) -> CommandResult:
    panel = request.points.read(reporter)
    detection = detect_point_anomalies(panel, request.detection, reporter.scaled(0, 90))
    table = detection.table
    if request.flagged_only:
        table = table[table["is_anomaly"] > 0]
    index = {s: i for i, s in enumerate(panel.ids)}
    xy = panel.xy[table["station_id"].map(index).to_numpy()] if len(table) else np.zeros((0, 2))
    events = _events_frame(detection)
    with AtomicOutputs() as outputs:
        write_table(table.reset_index(drop=True), request.output, outputs, xy=xy, crs=panel.crs, layer="anomalies")
        if request.output_events:
            write_table(events, request.output_events, outputs, layer="events")
        if request.output_report:
            _point_report(request, detection, events).write(request.output_report, outputs)
    produced = {
        "OUTPUT": request.output,
        "OUTPUT_EVENTS": request.output_events,
        "OUTPUT_REPORT": request.output_report,
    }
    return CommandResult.of(
        produced,
        {
            "threshold": detection.threshold,
            "flagged": int(detection.table["is_anomaly"].sum()),
            "observations": len(detection.table),
            "events": len(events),
            "method": request.detection.method.replace("_", " "),
            "units": request.points.units,
        },
    )


@dataclass
class DetectRasterAnomaliesRequest:
    input: str
    output_scores: str
    output_flags: str | None = None
    output_summary: str | None = None
    method: str = "auto"
    window_steps: int = 24
    threshold_mode: str = "score"
    threshold: float = 3.5
    block: int = 0  # chunk side in cells; 0 = from the memory budget and the workers (backend.scale.blocks)


@command("detectrasteranomalies", DetectRasterAnomaliesRequest, "Detect raster anomalies")
def detect_raster_anomalies(request: DetectRasterAnomaliesRequest, reporter: Reporter) -> CommandResult:
    """Scores (|robust z|) per cell and time, 0/1 flags and a count of flagged steps per cell, chunk by chunk on
    the run's scheduler (backend.scale)."""
    if request.threshold_mode == "quantile":
        raise UserInputError(
            "A quantile threshold needs all scores at once; for rasters use a score or a false alarm rate threshold."
        )
    threshold = threshold_value(request.threshold_mode, request.threshold, np.array([]))
    with open_raster(request.input) as src:
        times = band_times_from_metadata(src)
        if times is None:
            raise UserInputError(
                f"{Path(request.input).name} has no band times; build it with 'Build raster time stack' first."
            )
        axis = summarize_time_axis(times)
        if axis.step is None:
            raise UserInputError("The stack needs at least 2 time steps.")
        scorer = RasterScorer(request.method, times, axis.step, request.window_steps)
        if request.method == "auto":
            reporter.log(scorer.choice)
        grid = grid_of(src)
        totals = {"flagged": 0.0, "max_count": 0.0, "valid": False}
        with AtomicOutputs() as outputs, ExitStack() as writers, open_client(reporter=reporter) as client:
            scores_out = writers.enter_context(StackWriter(request.output_scores, grid, times, outputs=outputs))
            flags_out = (
                writers.enter_context(StackWriter(request.output_flags, grid, times, outputs=outputs))
                if request.output_flags
                else None
            )
            summary_out = (
                writers.enter_context(
                    StackWriter(request.output_summary, grid, None, ["anomalous steps"], outputs=outputs)
                )
                if request.output_summary
                else None
            )
            stack = open_in_chunks(
                request.input, client, times.size * scorer.work_bytes_per_value, reporter, side=request.block
            )
            windows = stack.windows()

            def write(index: int, result: ChunkScores) -> None:
                window = windows[index]
                scores_out.write_window(result.scores, window)
                if flags_out is not None:
                    flags_out.write_window(result.flags, window)
                if summary_out is not None:
                    summary_out.write_window(result.count[None], window)
                if np.isfinite(result.count).any():
                    totals["valid"] = True
                    totals["flagged"] += float(np.nansum(result.count))
                    totals["max_count"] = max(totals["max_count"], float(np.nanmax(result.count)))

            run_chunks(chunk_tasks(score_chunk, stack, scorer, threshold), write, reporter, client)
            if not totals["valid"]:
                raise UserInputError("The stack holds no valid value: every cell is no data in every band.")
    produced = {
        "OUTPUT_SCORES": request.output_scores,
        "OUTPUT_FLAGS": request.output_flags,
        "OUTPUT_SUMMARY": request.output_summary,
    }
    return CommandResult.of(
        produced,
        {
            "threshold": threshold,
            "flagged": int(totals["flagged"]),
            "cells": grid.width * grid.height,
            "times": [format_time(t) for t in times],
            **axis.step.fields(),
            "max_count": totals["max_count"],
        },
    )
