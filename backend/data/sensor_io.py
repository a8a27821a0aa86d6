"""Sensor networks: a SENSORS point layer (id + location) joined with an OBSERVATIONS table.

The table is CSV, Parquet or any OGR table (GeoPackage, …), in one of two layouts:
- long: one row per sensor and time (id, time and value columns);
- wide: a time column and one column per sensor id (the usual layout of traffic data).
The layout is detected: a table holding the id column is long, otherwise wide.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backend.data.duplicates import merge_duplicates
from backend.data.point_io import PointLayerRef, crs_wkt, numeric_values, point_xy, read_layer_frame, require_fields
from backend.data.point_panel import PointPanel
from backend.data.time_parsing import parse_times
from backend.errors import UserInputError
from backend.progress import Reporter

TIME_COLUMN_GUESSES = ("time", "timestamp", "datetime", "date", "Time", "Date", "Timestamp")


def read_table(path: str) -> pd.DataFrame:
    """A CSV, Parquet or OGR table as a DataFrame (geometry dropped)."""
    source = Path(path)
    if not source.exists():
        raise UserInputError(f"The observation table {path} does not exist.")
    suffix = source.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            return pd.read_csv(source, low_memory=False)
        if suffix == ".parquet":
            try:
                return pd.read_parquet(source)
            except ImportError as exc:
                raise UserInputError(
                    "Reading Parquet needs the 'pyarrow' package; install it "
                    "('pip install pyarrow') or save the table as CSV."
                ) from exc
        frame = read_layer_frame(PointLayerRef(str(source)))
        return pd.DataFrame(frame.drop(columns=frame.geometry.name)) if hasattr(frame, "geometry") else frame
    except UserInputError:
        raise
    except Exception as exc:  # pandas/pyarrow/fiona raise many types for unreadable files
        raise UserInputError(f"Cannot read the observation table {path}: {exc}") from exc


def _times(column: pd.Series, name: str, time_format: str | None = None) -> np.ndarray:
    """Parse a (possibly long) time column once per distinct value, one format for the whole column."""
    text = column.astype(str).to_numpy()
    unique, inverse = np.unique(text, return_inverse=True)
    return parse_times(unique, f"values of {name!r}", time_format)[inverse]


def _time_column(table: pd.DataFrame, time_field: str) -> str:
    if time_field:
        require_fields(table, [time_field])
        return time_field
    for guess in TIME_COLUMN_GUESSES:
        if guess in table.columns:
            return guess
    raise UserInputError(
        f"Name the time column (TIME_FIELD); the table has: {', '.join(map(str, table.columns[:12]))}."
    )


def _long_matrix(table, id_field, time_field, value_field, time_format=None, duplicates="refuse", reporter=None):
    if not value_field:
        raise UserInputError("A long observation table (id, time, value per row) needs the value column (VALUE_FIELD).")
    require_fields(table, [value_field])
    frame = pd.DataFrame(
        {
            "id": table[id_field].astype(str).to_numpy(),
            "time": _times(table[time_field], time_field, time_format),
            "value": numeric_values(table[value_field], value_field),
        }
    )
    frame = merge_duplicates(frame, duplicates, "rows", reporter)
    grid = frame.pivot(index="id", columns="time", values="value")
    return grid.index.to_numpy().astype(str), grid.columns.to_numpy().astype("datetime64[s]"), grid.to_numpy(np.float32)


def _wide_matrix(table, time_field, time_format=None):
    times = _times(table[time_field], time_field, time_format)
    columns = [c for c in table.columns if c != time_field]
    if not columns:
        raise UserInputError("The wide observation table has no sensor column besides the time column.")
    values = np.column_stack([numeric_values(table[c], str(c)) for c in columns]).astype(np.float32)
    unique, counts = np.unique(times, return_counts=True)
    if (counts > 1).any():
        raise UserInputError(
            f"{int((counts > 1).sum())} times appear on more than one row, e.g. "
            f"{pd.Timestamp(unique[counts > 1][0]).isoformat()}; keep one row per time."
        )
    order = np.argsort(times)
    return np.array([str(c) for c in columns]), times[order], values[order].T


def read_sensors_and_table(
    sensors: PointLayerRef,
    id_field: str,
    observations: str,
    time_field: str = "",
    value_field: str = "",
    reporter: Reporter | None = None,
    time_format: str | None = None,
    duplicates: str = "refuse",
) -> PointPanel:
    """A PointPanel of the layer's sensors (in layer order) with the table's readings (NaN where none)."""
    reporter = reporter or Reporter()
    if not id_field:
        raise UserInputError("Choose the sensor id field (ID_FIELD).")
    layer = read_layer_frame(sensors)
    require_fields(layer, [id_field])
    sensor_ids = layer[id_field].astype(str).to_numpy()
    xy = point_xy(layer)
    _refuse_duplicate_sensors(sensor_ids, xy)
    table = read_table(observations)
    if table.empty:
        raise UserInputError(f"The observation table {observations} has no rows.")
    time_field = _time_column(table, time_field)
    if id_field in table.columns:
        ids, times, values = _long_matrix(table, id_field, time_field, value_field, time_format, duplicates, reporter)
    else:
        ids, times, values = _wide_matrix(table, time_field, time_format)
    ids = np.array([normalise_id(i) for i in ids])
    sensor_keys = np.array([normalise_id(i) for i in sensor_ids])
    position = {key: i for i, key in enumerate(ids)}
    unknown = sorted(set(ids) - set(sensor_keys))
    if unknown:
        reporter.warning(
            f"{len(unknown)} sensor(s) in the observation table are not in the sensor layer and "
            f"are ignored: {', '.join(unknown[:8])}{'…' if len(unknown) > 8 else ''}."
        )
    matched = [key in position for key in sensor_keys]
    if not any(matched):
        raise UserInputError(
            f"No sensor id of the layer's {id_field!r} field appears in the observation "
            f"table (layer: {', '.join(sensor_keys[:4])}…; table: {', '.join(ids[:4])}…)."
        )
    rows = np.array([position.get(key, -1) for key in sensor_keys])
    panel_values = np.where(rows[:, None] >= 0, values[np.maximum(rows, 0)], np.nan).astype(np.float32)
    return PointPanel(sensor_keys, xy, crs_wkt(layer), times, panel_values, {"source": observations, "format": "table"})


def normalise_id(value) -> str:
    """Sensor ids compare as text; '773869.0' (a float column) equals '773869'."""
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") and text[:-2].lstrip("-").isdigit() else text


def _refuse_duplicate_sensors(ids: np.ndarray, xy: np.ndarray) -> None:
    unique, counts = np.unique(ids, return_counts=True)
    for sensor in unique[counts > 1]:
        places = xy[ids == sensor]
        if np.ptp(places, axis=0).max() > 0:
            raise UserInputError(
                f"Sensor id {sensor} appears at {len(places)} different places in the sensor layer; "
                "each sensor needs one location (fix or rename the duplicates)."
            )
    if (counts > 1).any():
        raise UserInputError(
            f"Sensor ids repeat in the sensor layer: {', '.join(unique[counts > 1][:5])}; keep one feature per sensor."
        )


def drop_empty_stations(panel: PointPanel, reporter: Reporter) -> PointPanel:
    """The panel without stations that have no reading at all (named in a warning)."""
    empty = ~np.isfinite(panel.values).any(axis=1)
    if empty.all():
        raise UserInputError("No sensor has any valid reading.")
    if empty.any():
        reporter.warning(
            f"{int(empty.sum())} sensor(s) have no valid reading and are left out: "
            f"{', '.join(panel.ids[empty][:8])}{'…' if empty.sum() > 8 else ''}."
        )
        keep = ~empty
        return PointPanel(
            panel.ids[keep], panel.xy[keep], panel.crs, panel.times, panel.values[keep], dict(panel.attributes)
        )
    return panel
