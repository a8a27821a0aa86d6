"""Reading point layers (long or wide format) into a PointPanel; writing feature tables.

Long format: one feature per station and time, with id, time and value fields.
Wide format: one feature per station, one value field per time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backend.data.atomic import AtomicOutputs
from backend.data.duplicates import merge_duplicates
from backend.data.point_panel import PointPanel
from backend.data.time_parsing import parse_times, time_from_filename
from backend.errors import UserInputError
from backend.progress import Reporter


@dataclass(frozen=True)
class PointLayerRef:
    """Where a point layer lives: an OGR path, an optional layer name inside it."""

    path: str
    layer: str | None = None


def read_layer_frame(ref: PointLayerRef):
    import geopandas as gpd

    if not Path(ref.path).exists():
        raise UserInputError(f"The layer file {ref.path} does not exist.")
    try:
        frame = gpd.read_file(ref.path, layer=ref.layer) if ref.layer else gpd.read_file(ref.path)
    except Exception as exc:  # fiona/pyogrio raise several driver-specific types
        raise UserInputError(f"Cannot read the layer {ref.path}: {exc}") from exc
    if frame.empty:
        raise UserInputError(f"The layer {ref.layer or ref.path} has no features.")
    return frame


def require_fields(frame, fields: Sequence[str]) -> None:
    geometry = getattr(frame, "_geometry_column_name", None)
    available = [str(c) for c in frame.columns if c != geometry]
    for name in fields:
        if name not in frame.columns:
            raise UserInputError(f"Unknown field {name!r}; the layer has: {', '.join(available)}.")


def numeric_values(series: pd.Series, field: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna() & (series.astype(str).str.strip() != "")
    if bad.any():
        examples = ", ".join(repr(v) for v in series[bad].astype(str).unique()[:5])
        raise UserInputError(f"Field {field!r} holds non-numeric values, e.g. {examples}.")
    return values.to_numpy(dtype=np.float64)


def point_xy(frame) -> np.ndarray:
    geometry = frame.geometry
    if geometry.isna().any() or geometry.is_empty.any():
        raise UserInputError(
            f"{int((geometry.isna() | geometry.is_empty).sum())} features have no "
            "geometry; every station needs a point."
        )
    kinds = set(geometry.geom_type)
    if not kinds <= {"Point", "MultiPoint"}:
        raise UserInputError(f"The layer has {', '.join(sorted(kinds))} geometries; use a point layer.")
    points = geometry.representative_point() if "MultiPoint" in kinds else geometry
    return np.column_stack([points.x.to_numpy(), points.y.to_numpy()])


def crs_wkt(frame) -> str:
    return frame.crs.to_wkt() if frame.crs is not None else ""


def read_long_points(
    ref: PointLayerRef,
    id_field: str,
    time_field: str,
    value_field: str,
    time_format: str | None = None,
    duplicates: str = "refuse",
    reporter: Reporter | None = None,
) -> PointPanel:
    """A long-format point layer (one feature per station-time) as a :class:`PointPanel`.

    ``time_format``: strptime pattern of a text time field (None = ISO 8601 or inferred for the whole column).
    ``duplicates``: what to do with repeated station-times (see :func:`merge_duplicates`; default: refuse).
    A station's location is its first feature's point.
    """
    frame = read_layer_frame(ref)
    require_fields(frame, [id_field, time_field, value_field])
    ids = frame[id_field]
    if ids.isna().any():
        raise UserInputError(f"{int(ids.isna().sum())} features have an empty {id_field!r}.")
    table = pd.DataFrame(
        {
            "id": ids.astype(str).to_numpy(),
            "time": parse_times(frame[time_field], f"values of {time_field!r}", time_format),
            "value": numeric_values(frame[value_field], value_field),
        }
    )
    xy = point_xy(frame)
    station_ids, first_row = np.unique(table["id"].to_numpy(), return_index=True)
    table = merge_duplicates(table, duplicates, "features", reporter)
    times = np.unique(table["time"].to_numpy())
    grid = table.pivot(index="id", columns="time", values="value").reindex(index=station_ids, columns=times)
    return PointPanel(
        station_ids,
        xy[first_row],
        crs_wkt(frame),
        times,
        grid.to_numpy(np.float32),
        {"source": ref.path, "format": "long", "value_field": value_field},
    )


def read_wide_points(
    ref: PointLayerRef,
    id_field: str,
    value_fields: Sequence[str],
    field_time_pattern: str | None = None,
    times: Sequence[Any] | None = None,
) -> PointPanel:
    """A wide point layer (one feature per station, one field per time) as a :class:`PointPanel`.

    Times come from ``times`` (one per field, in order) or from the field names, parsed with
    ``field_time_pattern`` (e.g. ``pm%Y%m%d``) or as ISO dates.
    """
    frame = read_layer_frame(ref)
    if not value_fields:
        raise UserInputError("Choose the value fields, one per time step.")
    require_fields(frame, [id_field, *value_fields])
    if times is not None:
        if len(times) != len(value_fields):
            raise UserInputError(f"{len(times)} times for {len(value_fields)} value fields; give one each.")
        field_times = parse_times(times, "times")
    elif field_time_pattern:
        field_times = np.array([time_from_filename(f, field_time_pattern) for f in value_fields])
    else:
        field_times = parse_times(value_fields, "field names read as times")
    order = np.argsort(field_times, kind="stable")
    values = np.column_stack([numeric_values(frame[f], f) for f in value_fields])[:, order]
    return PointPanel(
        frame[id_field].astype(str).to_numpy(),
        point_xy(frame),
        crs_wkt(frame),
        field_times[order],
        values.astype(np.float32),
        {"source": ref.path, "format": "wide"},
    )


_FIONA_TYPES = {"i": "int", "u": "int", "b": "int", "f": "float", "M": "datetime", "O": "str", "U": "str"}


def _fiona_type(series: pd.Series) -> str:
    return _FIONA_TYPES.get(series.dtype.kind, "str")


def _fiona_value(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if kind == "datetime":
        return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None).isoformat()
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if isinstance(value, (dt.date, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    return str(value)


def write_table(
    table: pd.DataFrame,
    path: str | Path,
    outputs: AtomicOutputs,
    xy: np.ndarray | None = None,
    crs: str = "",
    layer: str | None = None,
) -> None:
    """Write a table as a GeoPackage layer (points when ``xy`` float64[N, 2] is given) or a CSV.

    The format follows the extension: ``.gpkg`` or ``.csv``. GeoPackages are written with pyogrio where
    geopandas has it (Debian 13 and later) and with fiona otherwise.
    """
    path = Path(path)
    tmp = outputs.temporary(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = table.copy()
        if xy is not None:
            frame["x"], frame["y"] = xy[:, 0], xy[:, 1]
        frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        return
    if suffix != ".gpkg":
        raise UserInputError(f"Cannot write {path.name}: use a .gpkg or .csv output.")
    try:
        import pyogrio
    except ImportError:  # older stacks (Debian 12): geopandas with fiona
        _write_gpkg_with_fiona(table, tmp, xy, crs, layer or path.stem)
    else:
        _write_gpkg_with_pyogrio(pyogrio, table, tmp, xy, crs, layer or path.stem)


def _write_gpkg_with_pyogrio(pyogrio, table: pd.DataFrame, tmp: Path, xy, crs: str, layer: str) -> None:
    frame = table.copy()
    for column in frame.columns:
        kind = _fiona_type(frame[column])
        if kind == "str" or frame[column].dtype.kind == "b":
            frame[column] = [_fiona_value(v, kind) for v in frame[column].to_numpy()]
    if xy is not None:
        import geopandas as gpd

        frame = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs or None)
    pyogrio.write_dataframe(frame, tmp, layer=layer, driver="GPKG")


def _write_gpkg_with_fiona(table: pd.DataFrame, tmp: Path, xy, crs: str, layer: str) -> None:
    import fiona

    kinds = {c: _fiona_type(table[c]) for c in table.columns}
    schema = {"geometry": "Point" if xy is not None else "None", "properties": dict(kinds)}
    with fiona.open(tmp, "w", driver="GPKG", schema=schema, layer=layer, crs_wkt=crs or None) as dst:
        columns = [table[c].to_numpy() for c in table.columns]
        for i in range(len(table)):
            properties = {c: _fiona_value(col[i], kinds[c]) for c, col in zip(table.columns, columns)}
            geometry = None if xy is None else {"type": "Point", "coordinates": (float(xy[i, 0]), float(xy[i, 1]))}
            dst.write({"geometry": geometry, "properties": properties})
