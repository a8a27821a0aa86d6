"""Reading and writing raster time stacks (GeoTIFF, NetCDF and anything else GDAL reads).

Times of bands are read, in this order, from: the per-band ``time`` tag, an ISO band
description, the dataset tag ``ST_TIMES`` (written by :class:`StackWriter`), NetCDF
``NETCDF_DIM_time`` + ``time#units``, GRIB ``GRIB_VALID_TIME``, and, for a single band,
the TIFF ``TIFFTAG_DATETIME``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from backend.data.atomic import AtomicOutputs
from backend.data.gdal_names import file_of, variable_of
from backend.data.raster_stack import GridSpec, RasterStack
from backend.data.time_parsing import format_time, parse_times, to_utc_naive
from backend.errors import UserInputError
from backend.memory import require_disk_space, require_memory

TIMES_TAG = "ST_TIMES"
GTIFF_OPTIONS = {
    "driver": "GTiff",
    "tiled": True,
    "blockxsize": 256,
    "blockysize": 256,
    "compress": "deflate",
    "predictor": 3,
    "interleave": "band",
    "BIGTIFF": "IF_SAFER",
}


@dataclass(frozen=True)
class RasterFileInfo:
    """What a raster file holds, read from its header only (no pixel is loaded)."""

    path: Path
    grid: GridSpec
    band_count: int
    nodata: float | None
    band_times: np.ndarray | None  # datetime64[s][band_count], or None when not in the metadata
    descriptions: tuple[str | None, ...]
    units: str | None = None  # the bands' unit (see band_units)


def open_raster(path: str | Path):
    """Open a raster (or one variable of a NetCDF/HDF5 file by its GDAL name, see :mod:`backend.data.gdal_names`)
    with rasterio; a clear error when it is missing or unreadable, or holds several variables."""
    file, variable = Path(file_of(str(path))), variable_of(str(path))
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        if not file.exists():
            raise UserInputError(f"The raster {file} does not exist.") from exc
        if variable:
            raise UserInputError(
                f"{file.name} has no variable {variable!r} GDAL can read as a raster ({exc})."
            ) from exc
        raise UserInputError(f"The raster {path} cannot be read by GDAL: {exc}") from exc
    if src.count == 0 and src.subdatasets:
        variables = [name.rsplit(":", 1)[-1] for name in src.subdatasets]
        src.close()
        raise UserInputError(
            f"{Path(str(path)).name} holds several variables ({', '.join(variables[:12])}): choose "
            f"one with VARIABLE (e.g. VARIABLE={variables[0]})."
        )
    return src


def grid_of(src) -> GridSpec:
    crs = src.crs.to_wkt() if src.crs else ""
    return GridSpec(src.width, src.height, src.transform, crs)


def inspect_raster(path: str | Path) -> RasterFileInfo:
    with open_raster(path) as src:
        return RasterFileInfo(
            Path(path),
            grid_of(src),
            src.count,
            None if src.nodata is None else float(src.nodata),
            band_times_from_metadata(src),
            tuple(src.descriptions),
            band_units(src),
        )


_NETCDF_UNITS = re.compile(r"^\s*(\w+)\s+since\s+(.+?)\s*$")
_NETCDF_UNIT_SECONDS = {
    "seconds": 1,
    "second": 1,
    "s": 1,
    "minutes": 60,
    "minute": 60,
    "min": 60,
    "hours": 3600,
    "hour": 3600,
    "h": 3600,
    "days": 86400,
    "day": 86400,
    "d": 86400,
}


def _netcdf_times(src) -> np.ndarray | None:
    tags = src.tags()
    units = tags.get("time#units")
    values = [src.tags(b).get("NETCDF_DIM_time") for b in range(1, src.count + 1)]
    if not units or any(v is None for v in values):
        return None
    calendar = tags.get("time#calendar", "standard").lower()
    if calendar not in ("standard", "gregorian", "proleptic_gregorian"):
        raise UserInputError(
            f"{src.name}: NetCDF calendar {calendar!r} is not supported; convert the file to a standard calendar first."
        )
    match = _NETCDF_UNITS.match(units)
    if not match or match.group(1).lower() not in _NETCDF_UNIT_SECONDS:
        raise UserInputError(f"{src.name}: cannot read NetCDF time units {units!r}.")
    origin = parse_times([match.group(2)], "NetCDF time origin")[0]
    offsets = np.asarray(values, dtype=float) * _NETCDF_UNIT_SECONDS[match.group(1).lower()]
    return origin + np.round(offsets).astype("timedelta64[s]")


def _parse_or_none(texts: list[str | None]) -> np.ndarray | None:
    if not texts or any(not t for t in texts):
        return None
    parsed = to_utc_naive(texts)
    if parsed.isna().any():
        return None
    return parsed.to_numpy().astype("datetime64[s]")


def band_times_from_metadata(src) -> np.ndarray | None:
    """Per-band times found in a dataset's metadata, or ``None`` when it holds none."""
    bands = range(1, src.count + 1)
    for key in ("time", "TIME", "datetime", "DATETIME"):
        times = _parse_or_none([src.tags(b).get(key) for b in bands])
        if times is not None:
            return times
    descriptions = list(src.descriptions)
    if all(d and re.match(r"^\d{4}-\d{2}-\d{2}", d) for d in descriptions):
        times = _parse_or_none(descriptions)
        if times is not None:
            return times
    listed = src.tags().get(TIMES_TAG)
    if listed:
        times = _parse_or_none(listed.split(","))
        if times is not None and times.size == src.count:
            return times
    times = _netcdf_times(src)
    if times is not None:
        return times
    grib = [src.tags(b).get("GRIB_VALID_TIME") for b in bands]
    if all(grib):
        seconds = [int(re.match(r"\s*(-?\d+)", g).group(1)) for g in grib]
        return np.asarray(seconds, dtype="datetime64[s]")
    if src.count == 1:
        stamp = src.tags().get("TIFFTAG_DATETIME")
        if stamp:
            return _parse_or_none([re.sub(r"^(\d{4}):(\d{2}):(\d{2})", r"\1-\2-\3", stamp)])
    return None


def required_band_times(src, path) -> np.ndarray:
    """Band times of an open stack, or a clear error saying how to give it times."""
    times = band_times_from_metadata(src)
    if times is None:
        raise UserInputError(
            f"{Path(path).name} has no time for its bands; build it with 'Build raster time stack' "
            "(stanalyzer:buildrasterstack) first."
        )
    return times


def read_band(src, band: int, window: Window | None = None) -> np.ndarray:
    """One band as float32 with nodata → NaN."""
    data = src.read(band, window=window, masked=True)
    return np.ma.filled(data.astype(np.float32), np.nan)


def read_block(src, window: Window | None = None) -> np.ndarray:
    """All bands of a window as float32[T, h, w] with nodata → NaN, in one read (fast for any interleave)."""
    data = src.read(window=window, masked=True)
    return np.ma.filled(data.astype(np.float32), np.nan)


def read_bands(src, indexes: np.ndarray, window: Window | None = None) -> np.ndarray:
    """Bands ``indexes`` (0-based) of a window as float32[k, h, w] with nodata → NaN."""
    if len(indexes) == 0:
        height, width = (window.height, window.width) if window is not None else (src.height, src.width)
        return np.empty((0, int(height), int(width)), np.float32)
    data = src.read([int(i) + 1 for i in indexes], window=window, masked=True)
    return np.ma.filled(data.astype(np.float32), np.nan)


def read_stack(path: str | Path, window: Window | None = None) -> RasterStack:
    """A multiband raster whose bands carry times (see module docstring) as a :class:`RasterStack`."""
    with open_raster(path) as src:
        times = band_times_from_metadata(src)
        if times is None:
            raise UserInputError(
                f"{path} has no time for its bands. Build it with 'Build raster time stack' "
                "(stanalyzer:buildrasterstack), which stores one time per band."
            )
        grid = grid_of(src)
        if window is not None:
            grid = GridSpec(int(window.width), int(window.height), src.window_transform(window), grid.crs)
        require_memory(
            float(src.count) * grid.width * grid.height * 4 * 2,
            f"Reading {path} whole ({grid.width}×{grid.height} px, {src.count} bands)",
            "Use a smaller extent, a coarser grid or fewer time steps (clip or resample the stack first).",
        )
        values = read_block(src, window)
        return RasterStack(
            values, times, grid, list(src.descriptions) if any(src.descriptions) else None, units=band_units(src)
        )


def band_units(src) -> str | None:
    """The unit of a raster's values: the first band unit type GDAL reports (a NetCDF variable's ``units``
    attribute, a GeoTIFF's band unit), None when no band has one."""
    return next((unit.strip() for unit in src.units if unit and unit.strip()), None)


def reproject_values(
    values: np.ndarray, source: GridSpec, target: GridSpec, resampling: str = "bilinear"
) -> np.ndarray:
    """Values [H, W] or [T, H, W] on ``source`` resampled onto ``target`` (NaN = no data)."""
    from rasterio.warp import Resampling, reproject

    stacked = values[None] if values.ndim == 2 else values
    out = np.full((stacked.shape[0], target.height, target.width), np.nan, dtype=np.float32)
    reproject(
        stacked.astype(np.float32),
        out,
        src_transform=source.transform,
        src_crs=source.crs or target.crs,
        src_nodata=np.nan,
        dst_transform=target.transform,
        dst_crs=target.crs or source.crs,
        dst_nodata=np.nan,
        resampling=Resampling[resampling],
    )
    return out[0] if values.ndim == 2 else out


def iter_windows(grid: GridSpec, block: int = 256) -> Iterator[Window]:
    """Square windows of at most ``block`` × ``block`` cells covering the grid, row by row."""
    for row in range(0, grid.height, block):
        for col in range(0, grid.width, block):
            yield Window(col, row, min(block, grid.width - col), min(block, grid.height - row))


class StackWriter:
    """Writes a multiband float32 GeoTIFF, one band per time, band by band or window by window.

    Band descriptions are the ISO times (or given names); each band has a ``time`` tag and the
    dataset tag ``ST_TIMES`` lists all times. The file appears at ``path`` only on success.
    """

    def __init__(
        self,
        path: str | Path,
        grid: GridSpec,
        times: np.ndarray | None,
        band_names: list[str] | None = None,
        tags: dict[str, str] | None = None,
        outputs: AtomicOutputs | None = None,
        units: str | None = None,
    ) -> None:
        """``times`` None: bands that are not times (e.g. statistics), named by ``band_names``; ``units`` is
        written as every band's unit type (QGIS and GDAL show it)."""
        self.path = Path(path)
        self.grid = grid
        self.times = None if times is None else np.asarray(times, dtype="datetime64[s]")
        self._iso = [format_time(t) for t in self.times] if self.times is not None else None
        self._names = band_names or self._iso
        self._tags = dict(tags or {})
        self._units = units
        self._own_outputs = outputs is None
        self._outputs = outputs or AtomicOutputs()
        self._dst = None

    def __enter__(self) -> StackWriter:
        require_disk_space(self.path, float(self.grid.width) * self.grid.height * len(self._names) * 4)
        tmp = self._outputs.temporary(self.path)
        profile = dict(
            GTIFF_OPTIONS,
            width=self.grid.width,
            height=self.grid.height,
            count=len(self._names),
            dtype="float32",
            nodata=np.nan,
            crs=self.grid.crs or None,
            transform=self.grid.transform,
        )
        if self.grid.width < 256 or self.grid.height < 256:
            profile.update(tiled=False)
            profile.pop("blockxsize"), profile.pop("blockysize")
        self._dst = rasterio.open(tmp, "w", **profile)
        return self

    def write_band(self, index: int, values_hw: np.ndarray, window: Window | None = None) -> None:
        """Write band ``index`` (0-based) or a window of it."""
        self._dst.write(np.asarray(values_hw, dtype=np.float32), index + 1, window=window)

    def write_window(self, values_thw: np.ndarray, window: Window) -> None:
        self._dst.write(np.asarray(values_thw, dtype=np.float32), window=window)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for i, name in enumerate(self._names, start=1):
                    self._dst.set_band_description(i, name)
                    if self._units:
                        self._dst.set_band_unit(i, self._units)
                    if self._iso:
                        self._dst.update_tags(i, time=self._iso[i - 1])
                times_tag = {TIMES_TAG: ",".join(self._iso)} if self._iso else {}
                self._dst.update_tags(**times_tag, **self._tags)
        finally:
            self._dst.close()
        if self._own_outputs:
            self._outputs.__exit__(exc_type, exc, tb)


def write_stack(
    stack: RasterStack, path: str | Path, tags: dict[str, str] | None = None, outputs: AtomicOutputs | None = None
) -> Path:
    """Write a whole in-memory stack as a multiband GeoTIFF with band times."""
    with StackWriter(path, stack.grid, stack.times, stack.band_names, tags, outputs, stack.units) as writer:
        writer.write_window(stack.values, Window(0, 0, stack.grid.width, stack.grid.height))
    return Path(path)


def write_single_raster(
    values_hw: np.ndarray, grid: GridSpec, path: str | Path, band_name: str, outputs: AtomicOutputs
) -> None:
    """A one-band float32 GeoTIFF (summaries such as missing share per cell)."""
    tmp = outputs.temporary(path)
    profile = dict(
        GTIFF_OPTIONS,
        width=grid.width,
        height=grid.height,
        count=1,
        dtype="float32",
        nodata=np.nan,
        crs=grid.crs or None,
        transform=grid.transform,
        tiled=False,
    )
    profile.pop("blockxsize"), profile.pop("blockysize")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(np.asarray(values_hw, dtype=np.float32), 1)
        dst.set_band_description(1, band_name)
