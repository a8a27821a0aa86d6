"""Command ``buildrasterstack``: many rasters (or bands) → one multiband GeoTIFF with band times."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.commands.base import CommandResult, command
from backend.data.gdal_names import file_of, subdataset_name
from backend.data.raster_io import (
    RasterFileInfo,
    StackWriter,
    grid_of,
    inspect_raster,
    open_raster,
    read_band,
    reproject_values,
)
from backend.data.raster_stack import GridSpec
from backend.data.time_axis import check_strictly_increasing, summarize_time_axis
from backend.data.time_parsing import format_time, parse_times, time_from_filename
from backend.errors import UserInputError
from backend.progress import Reporter

TIME_SOURCES = ("filename", "list", "metadata")
RESAMPLING_METHODS = ("nearest", "bilinear", "cubic", "average")


@dataclass
class BuildRasterStackRequest:
    """Inputs are files, or every file of ``folder`` matching ``file_filter``; with ``variable``, that variable
    of each NetCDF/HDF5 input.

    time_source: ``filename`` (``filename_pattern``, e.g. ``%Y%m%d``), ``list`` (``times``, one
    per band of the inputs in order) or ``metadata`` (band tags/descriptions, NetCDF time …).
    """

    output: str
    inputs: list[str] = field(default_factory=list)
    folder: str | None = None
    file_filter: str = "*.tif"
    recursive: bool = False
    time_source: str = "filename"
    filename_pattern: str = "%Y%m%d"
    times: list[str] = field(default_factory=list)
    resample: bool = False
    resampling: str = "bilinear"
    variable: str | None = None  # the variable of NetCDF/HDF5 inputs (band times then come from the file)
    units: str | None = None  # unit of the values (e.g. K); None = the inputs' band unit, when they have one


@dataclass(frozen=True)
class _Band:
    info: RasterFileInfo
    band: int  # 1-based band index in its file
    time: np.datetime64

    @property
    def label(self) -> str:
        return self.info.path.name if self.info.band_count == 1 else f"{self.info.path.name} band {self.band}"


def list_input_files(request: BuildRasterStackRequest) -> list[Path]:
    """The input rasters: explicit files, else the folder's files matching the filter, sorted by name."""
    files = [Path(p) for p in request.inputs]
    if request.folder:
        folder = Path(request.folder)
        if not folder.is_dir():
            raise UserInputError(f"The folder {folder} does not exist.")
        pattern = "**/*" if request.recursive else "*"
        files += sorted(
            p
            for p in folder.glob(pattern)
            if p.is_file() and fnmatch.fnmatch(p.name.lower(), request.file_filter.lower())
        )
        if not files:
            raise UserInputError(f"No file in {folder} matches {request.file_filter!r}.")
    if not files:
        raise UserInputError("Give input rasters, or a folder with a file filter.")
    if request.variable:
        return [Path(subdataset_name(file_of(str(p)), request.variable)) for p in files]
    return files


def _bands_with_times(infos: list[RasterFileInfo], request: BuildRasterStackRequest) -> list[_Band]:
    if request.time_source not in TIME_SOURCES:
        raise UserInputError(f"Unknown time source {request.time_source!r}; use one of {TIME_SOURCES}.")
    if request.time_source == "filename":
        multi = [i.path.name for i in infos if i.band_count > 1]
        if multi:
            raise UserInputError(
                f"{multi[0]} has several bands, but a file name gives one time; use time source 'metadata' or 'list'."
            )
        return [_Band(i, 1, time_from_filename(i.path.name, request.filename_pattern)) for i in infos]
    pairs = [(i, b) for i in infos for b in range(1, i.band_count + 1)]
    if request.time_source == "list":
        if len(request.times) != len(pairs):
            raise UserInputError(
                f"The time list has {len(request.times)} entries but the inputs have "
                f"{len(pairs)} bands; give exactly one time per band, in input order."
            )
        times = parse_times(request.times, "listed times")
        return [_Band(i, b, t) for (i, b), t in zip(pairs, times)]
    bands = []
    for info in infos:
        if info.band_times is None:
            raise UserInputError(
                f"{info.path.name} has no time in its band metadata; use time source 'filename' or 'list' instead."
            )
        bands += [_Band(info, b, t) for b, t in zip(range(1, info.band_count + 1), info.band_times)]
    return bands


def _check_grids(infos: list[RasterFileInfo], resample: bool, reporter: Reporter) -> GridSpec:
    reference = infos[0].grid
    for info in infos[1:]:
        difference = reference.difference(info.grid)
        if difference and not resample:
            raise UserInputError(
                f"{info.path.name} has {difference} than {infos[0].path.name}. All rasters of a stack "
                "must share one grid: fix the file, or tick 'resample onto the first grid'."
            )
        if difference:
            reporter.warning(
                f"{info.path.name} has {difference}; it is resampled onto the grid of {infos[0].path.name}."
            )
    return reference


def _read_on_grid(src, band: int, grid: GridSpec, resampling: str) -> np.ndarray:
    """A band read on its own grid, or reprojected onto ``grid`` when they differ."""
    own = grid_of(src)
    values = read_band(src, band)
    return values if grid.same_as(own) else reproject_values(values, own, grid, resampling)


@command("buildrasterstack", BuildRasterStackRequest, "Build raster time stack")
def build_raster_stack(request: BuildRasterStackRequest, reporter: Reporter) -> CommandResult:
    """Stack the inputs' bands in time order into one GeoTIFF (band description = ISO time)."""
    if request.resampling not in RESAMPLING_METHODS:
        raise UserInputError(f"Unknown resampling {request.resampling!r}; use one of {RESAMPLING_METHODS}.")
    files = list_input_files(request)
    reporter.log(f"{len(files)} input raster(s).")
    if request.variable and request.time_source == "filename":
        reporter.log(f"VARIABLE {request.variable}: band times are read from the file (time source 'metadata').")
        request.time_source = "metadata"
    infos = [inspect_raster(p) for p in files]
    bands = _bands_with_times(infos, request)
    order = np.argsort(np.array([b.time for b in bands]), kind="stable")
    bands = [bands[i] for i in order]
    times = np.array([b.time for b in bands], dtype="datetime64[s]")
    check_strictly_increasing(times, [b.label for b in bands])
    grid = _check_grids(infos, request.resample, reporter)
    summary = summarize_time_axis(times)
    reporter.log(f"Time axis: {summary.describe()}")
    units = stack_units(request.units, infos, reporter)
    valid_bands, low, high = 0, np.inf, -np.inf
    with StackWriter(
        request.output, grid, times, tags={"ST_SOURCE": "st_analyzer buildrasterstack"}, units=units
    ) as writer:
        for index, item in enumerate(bands):
            with open_raster(item.info.path) as src:
                values = _read_on_grid(src, item.band, grid, request.resampling)
            finite = values[np.isfinite(values)]
            if finite.size:
                valid_bands += 1
                low, high = min(low, float(finite.min())), max(high, float(finite.max()))
            writer.write_band(index, values)
            reporter.progress(100.0 * (index + 1) / len(bands), f"{item.label} → {format_time(item.time)}")
        if valid_bands == 0:
            raise UserInputError("Every input band is entirely no data; the stack would be empty.")
    if valid_bands < len(bands):
        reporter.warning(f"{len(bands) - valid_bands} band(s) hold no valid value.")
    return CommandResult.of(
        {"OUTPUT": request.output},
        {
            "bands": len(bands),
            "time_axis": summary.to_dict(),
            "times": [format_time(t) for t in times],
            "value_min": low,
            "value_max": high,
            "width": grid.width,
            "height": grid.height,
            "units": units,
        },
    )


def stack_units(asked: str | None, infos: list[RasterFileInfo], reporter: Reporter) -> str | None:
    """The stack's unit: the one asked for, else the inputs' band unit (a warning when they disagree)."""
    if asked:
        return asked
    found = sorted({info.units for info in infos if info.units})
    if len(found) > 1:
        reporter.warning(
            f"The inputs give different units ({', '.join(found)}); the stack says {found[0]}. Set "
            "UNITS to state the right one."
        )
    return found[0] if found else None
