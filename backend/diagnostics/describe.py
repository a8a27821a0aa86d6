"""Space-time summaries of a raster stack or a station panel: value statistics, missing shares per time step,
cell or station, gaps and availability (the numbers behind 'Describe space-time data')."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.data.point_panel import PointPanel
from backend.data.raster_stack import GridSpec
from backend.data.time_axis import TimeAxisSummary, summarize_time_axis
from backend.data.time_parsing import format_time
from backend.errors import UserInputError
from backend.progress import Reporter


def value_stats(values: np.ndarray) -> dict[str, float]:
    """min, max, mean, std and median of the finite values; {} when there is none."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {}
    return {
        "min": float(finite.min()),
        "max": float(finite.max()),
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "median": float(np.median(finite)),
    }


def crs_text(crs_wkt: str) -> str:
    """A CRS for people: its name and EPSG code ("none" without a CRS)."""
    if not crs_wkt:
        return "none"
    from pyproj import CRS

    crs = CRS.from_user_input(crs_wkt)
    epsg = crs.to_epsg()
    return f"{crs.name} (EPSG:{epsg})" if epsg else crs.name


def longest_run(missing: np.ndarray) -> int:
    """Longest run of True in a bool[T] vector."""
    best = run = 0
    for m in missing:
        run = run + 1 if m else 0
        best = max(best, run)
    return best


def mean_per_time(values_nt: np.ndarray) -> np.ndarray:
    """float64[T]: mean over stations at each time, NaN where none is observed."""
    count = np.isfinite(values_nt).sum(axis=0)
    total = np.nansum(values_nt, axis=0, dtype=np.float64)
    return np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)


def station_table(panel: PointPanel) -> pd.DataFrame:
    """One row per station: observations, missing share, first and last time, longest gap (steps), statistics."""
    finite = np.isfinite(panel.values)
    rows = []
    for i, station in enumerate(panel.ids):
        observed = np.flatnonzero(finite[i])
        stats = value_stats(panel.values[i])
        rows.append(
            {
                "station_id": station,
                "n_obs": int(observed.size),
                "missing_share": 1 - observed.size / panel.times.size,
                "first_time": format_time(panel.times[observed[0]]) if observed.size else "",
                "last_time": format_time(panel.times[observed[-1]]) if observed.size else "",
                "longest_gap_steps": longest_run(~finite[i]),
                **{k: stats.get(k, np.nan) for k in ("mean", "std", "min", "max")},
            }
        )
    return pd.DataFrame(rows)


@dataclass
class PointDescription:
    """stations: :func:`station_table`; observed_per_time int[T]; mean_per_time float64[T]; summary: JSON-ready."""

    axis: TimeAxisSummary
    stations: pd.DataFrame
    observed_per_time: np.ndarray
    mean_per_time: np.ndarray
    values: dict[str, float]
    summary: dict


def describe_panel(panel: PointPanel) -> PointDescription:
    """The summary of a station panel; a panel without any value is refused."""
    axis = panel.time_summary()
    stations = station_table(panel)
    values = value_stats(panel.values)
    if not values:
        raise UserInputError("The point layer holds no valid value: every observation is empty.")
    finite = np.isfinite(panel.values)
    summary = {
        "kind": "points",
        "stations": panel.n_stations,
        "crs": crs_text(panel.crs),
        "time_axis": axis.to_dict(),
        "observations": int(finite.sum()),
        "missing_share": float(1 - finite.mean()),
        "stations_without_data": stations.loc[stations["n_obs"] == 0, "station_id"].tolist(),
        **values,
    }
    return PointDescription(axis, stations, finite.sum(axis=0), mean_per_time(panel.values), values, summary)


@dataclass
class RasterDescription:
    """per_time: one row per band (valid cells, missing share, mean, std, min, max); missing_share float64[H, W]
    per cell; mean float64[T] and count int[T] per band; summary: JSON-ready."""

    axis: TimeAxisSummary
    per_time: pd.DataFrame
    missing_share: np.ndarray
    mean: np.ndarray
    count: np.ndarray
    summary: dict


def describe_raster_blocks(
    times: np.ndarray, grid: GridSpec, blocks: Iterable[tuple], n_blocks: int, reporter: Reporter
) -> RasterDescription:
    """The summary of a stack read block by block: ``blocks`` yields (rasterio Window, float32[T, h, w]) pairs
    covering ``grid`` (bounded memory); ``times`` datetime64[s][T] are the band times."""
    t = times.size
    valid_per_cell = np.zeros((grid.height, grid.width), dtype=np.int64)
    count, total, total_sq = np.zeros(t, np.int64), np.zeros(t), np.zeros(t)
    low, high = np.full(t, np.inf), np.full(t, -np.inf)
    for index, (window, block) in enumerate(blocks):
        finite = np.isfinite(block)
        filled = np.where(finite, block, 0.0).astype(np.float64)
        rows = slice(window.row_off, window.row_off + window.height)
        cols = slice(window.col_off, window.col_off + window.width)
        valid_per_cell[rows, cols] += finite.sum(axis=0)
        count += finite.sum(axis=(1, 2))
        total += filled.sum(axis=(1, 2))
        total_sq += (filled**2).sum(axis=(1, 2))
        low = np.minimum(low, np.where(finite, block, np.inf).min(axis=(1, 2)))
        high = np.maximum(high, np.where(finite, block, -np.inf).max(axis=(1, 2)))
        reporter.progress(90.0 * (index + 1) / n_blocks, f"block {index + 1}/{n_blocks}")
    if count.sum() == 0:
        raise UserInputError("The raster stack holds no valid value: every cell is no data in every band.")
    cells = grid.width * grid.height
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
        std = np.sqrt(np.maximum(np.where(count > 0, total_sq / count, np.nan) - mean**2, 0))
    per_time = pd.DataFrame(
        {
            "time": [format_time(x) for x in times],
            "valid_cells": count,
            "missing_share": 1 - count / cells,
            "mean": mean,
            "std": std,
            "min": np.where(count > 0, low, np.nan),
            "max": np.where(count > 0, high, np.nan),
        }
    )
    n_all = int(count.sum())
    overall_mean = float(total.sum() / n_all)
    axis = summarize_time_axis(times)
    summary = {
        "kind": "raster",
        "bands": t,
        "width": grid.width,
        "height": grid.height,
        "crs": crs_text(grid.crs),
        "cell_size": [abs(grid.transform.a), abs(grid.transform.e)],
        "time_axis": axis.to_dict(),
        "valid_values": n_all,
        "missing_share": 1 - n_all / (cells * t),
        "cells_always_missing": int((valid_per_cell == 0).sum()),
        "cells_never_missing": int((valid_per_cell == t).sum()),
        "mean": overall_mean,
        "std": float(np.sqrt(max(total_sq.sum() / n_all - overall_mean**2, 0.0))),
        "min": float(np.nanmin(per_time["min"])),
        "max": float(np.nanmax(per_time["max"])),
    }
    return RasterDescription(axis, per_time, 1.0 - valid_per_cell / t, mean, count, summary)
