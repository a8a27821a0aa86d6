"""Command ``stkriging``: space-time kriging to a raster grid over a time range, or to target points."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import dask
import numpy as np
from affine import Affine
from rasterio.windows import Window

from backend.commands.base import CommandResult, command
from backend.commands.inputs import KrigingSettings, PointInput
from backend.data.atomic import AtomicOutputs
from backend.data.point_io import write_table
from backend.data.raster_io import StackWriter
from backend.data.raster_stack import GridSpec
from backend.data.time_axis import summarize_time_axis
from backend.data.time_parsing import format_time, parse_times
from backend.data.time_step import TimeStep, parse_time_step, steps_until
from backend.data.units import squared_units
from backend.errors import UserInputError
from backend.kriging.kriging import (
    KrigingOptions,
    SpaceTimePoints,
    krige,
    krige_grid_rows,
    kriging_work_bytes,
    observations,
    time_in_model_units,
)
from backend.kriging.model_choice import NMAX_CHOICES
from backend.kriging.workflow import CHOOSE_NMAX, kriging_panel, model_for
from backend.memory import budget_bytes, require_memory
from backend.progress import Reporter, ScaledReporter
from backend.scale.blocks import IN_FLIGHT_PER_THREAD, describe_run, run_chunks, workers_of
from backend.scale.scheduler import current_scheduler, local_cores, open_client

GRID_BYTES_PER_CELL = 96  # cell centres, coordinates, times, prediction and variance of one band (float64)
CHUNK_TARGETS = 32768  # predictions per chunk of a grid (whole rows of one time step)


@dataclass
class GridTarget:
    """A north-up grid in the data's CRS (metres) and the prediction times start..end every ``step``."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float
    pixel_size: float
    start: str | None = None  # default: first data time
    end: str | None = None  # default: last data time
    step: str = "1 day"  # "1 day", "6h", "30min", calendar "1M"/"3M"/"1Y"; a bare number = that many data steps


@dataclass
class PointTarget:
    """A point layer with a time field; predictions are added as fields ``pred`` and ``var``."""

    path: str
    time_field: str
    layer: str | None = None


@dataclass
class StKrigingRequest:
    points: PointInput
    model_file: str | None = None
    grid: GridTarget | None = None
    output: str | None = None  # predictions raster (grid)
    output_variance: str | None = None  # kriging variance raster (grid)
    target_points: PointTarget | None = None
    output_points: str | None = None
    kriging: KrigingSettings = field(default_factory=KrigingSettings)
    max_predictions: int = 5_000_000  # above this a warning estimates the run time


def grid_spec(grid: GridTarget, crs: str) -> GridSpec:
    if grid.pixel_size <= 0:
        raise UserInputError(f"The pixel size must be > 0, got {grid.pixel_size}.")
    if grid.xmax <= grid.xmin or grid.ymax <= grid.ymin:
        raise UserInputError("The extent is empty (xmax ≤ xmin or ymax ≤ ymin).")
    width = int(np.ceil((grid.xmax - grid.xmin) / grid.pixel_size - 1e-9))
    height = int(np.ceil((grid.ymax - grid.ymin) / grid.pixel_size - 1e-9))
    return GridSpec(width, height, Affine(grid.pixel_size, 0, grid.xmin, 0, -grid.pixel_size, grid.ymax), crs)


def prediction_step(text: str, data_step: TimeStep | None = None) -> TimeStep:
    """The step of the prediction times: a duration ('1 day', '6h', '30min'), calendar months ('1M', '3M', '1Y'),
    or a bare number counting the data's time steps."""
    try:
        count = float(text)
    except (TypeError, ValueError):
        return parse_time_step(text, "time step (TIME_STEP)")
    if count <= 0:
        raise UserInputError(f"The time step must be positive, got {text!r}.")
    if data_step is None:
        raise UserInputError(f"The time step {text!r} has no unit; write e.g. '1 day', '6h', '30min' or '1M'.")
    if data_step.is_calendar:
        if count != int(count):
            raise UserInputError(f"The data's step is {data_step.text}: count it in whole steps, not {text!r}.")
        return TimeStep(months=int(count) * data_step.months)
    return TimeStep(seconds=int(round(count * data_step.seconds)))


def grid_times(grid: GridTarget, data_times: np.ndarray) -> tuple[np.ndarray, TimeStep]:
    """Prediction times from start to end (inclusive; defaults: the data's first and last time) and their step."""
    start = parse_times([grid.start], "start time")[0] if grid.start else data_times[0]
    end = parse_times([grid.end], "end time")[0] if grid.end else data_times[-1]
    if end < start:
        raise UserInputError(f"The end time {format_time(end)} is before the start time {format_time(start)}.")
    data_step = summarize_time_axis(data_times).step if data_times.size > 1 else None
    step = prediction_step(grid.step, data_step)
    return step.times(start, steps_until(start, end, step)), step


def _check_crs_is_metric(crs: str) -> None:
    from pyproj import CRS

    if crs and CRS.from_user_input(crs).is_geographic:
        raise UserInputError(
            "The point layer has geographic coordinates (degrees). Kriging to a grid needs a "
            "projected CRS in metres: reproject the layer (e.g. to its UTM zone) first."
        )


@dataclass
class GridPlan:
    """The output grid of a request: ``spec``, band ``times`` with their ``step``, and rows per chunk."""

    spec: GridSpec
    times: np.ndarray
    step: TimeStep
    rows_per_chunk: int

    @classmethod
    def of(cls, request, panel, source_crs: str) -> GridPlan:
        _check_crs_is_metric(source_crs)
        spec = grid_spec(request.grid, panel.crs)
        times, step = grid_times(request.grid, panel.times)
        return cls(spec, times, step, max(1, min(spec.height, math.ceil(CHUNK_TARGETS / spec.width))))

    def memory_bytes(self, threads: int, observations: int, options: KrigingOptions) -> float:
        """Working memory of ``threads`` chunks at once: their grid rows in flight and one kriging batch each."""
        rows = IN_FLIGHT_PER_THREAD * self.rows_per_chunk * self.spec.width * GRID_BYTES_PER_CELL
        return threads * (rows + kriging_work_bytes(observations, options))

    def require_memory(self, threads: int, observations: int, options: KrigingOptions) -> None:
        require_memory(
            self.memory_bytes(threads, observations, options),
            f"Kriging to a {self.spec.width}×{self.spec.height} px grid on {threads} threads",
            "Use a larger PIXEL_SIZE, or a neighbourhood (NMAX) with fewer observations.",
        )

    def sizes_that_fit(self, observations: int, options: KrigingOptions, reporter: Reporter) -> tuple:
        """The neighbourhood sizes of the automatic choice whose grid run fits the memory budget (on this
        machine's cores); refuses at once, before any model is fitted, when none does or a fixed NMAX does not."""
        threads = local_cores() if current_scheduler().kind == "threads" else 1
        if options.nmax != CHOOSE_NMAX:
            self.require_memory(threads, observations, options)
            return NMAX_CHOICES
        fit = tuple(
            n
            for n in NMAX_CHOICES
            if self.memory_bytes(threads, observations, dataclasses.replace(options, nmax=n)) <= budget_bytes()
        )
        if not fit:
            smallest = min(n for n in NMAX_CHOICES if n is not None)
            self.require_memory(threads, observations, dataclasses.replace(options, nmax=smallest))
        if len(fit) < len(NMAX_CHOICES):
            sizes = ", ".join("all data" if n is None else str(n) for n in fit)
            reporter.log(f"Within the memory budget the neighbourhood size is chosen among {sizes}.")
        return fit


def _krige_grid(request, plan: GridPlan, model, options, data, origin, reporter, outputs):
    spec, times, step, rows_per_chunk = plan.spec, plan.times, plan.step, plan.rows_per_chunk
    cells = spec.width * spec.height
    total = cells * times.size
    reporter.log(f"Grid {spec.width}×{spec.height} px × {times.size} time steps = {total} predictions.")
    units = request.points.units
    band_times = time_in_model_units(times, origin, model)
    with open_client(reporter=reporter) as client:
        threads = workers_of(client).threads
        plan.require_memory(threads, data.t.size, options)
        chunks = [
            (band, (row, min(spec.height, row + rows_per_chunk)))
            for band in range(times.size)
            for row in range(0, spec.height, rows_per_chunk)
        ]
        reporter.log(f"{len(chunks)} chunk(s) of up to {rows_per_chunk} rows on {describe_run(client)}.")
        shared = client.scatter([data, model], broadcast=True)
        task = dask.delayed(krige_grid_rows, pure=True)
        tasks = [
            partial(task, *shared, options, spec.transform, spec.width, rows, float(band_times[band]))
            for band, rows in chunks
        ]
        ranges = {"value": [np.inf, -np.inf], "variance": [np.inf, -np.inf]}
        chunk_reporter = reporter.scaled(20, 100)
        if total > request.max_predictions:
            chunk_reporter = RunTimeEstimate(chunk_reporter, total, request.max_predictions)
        with (
            StackWriter(request.output, spec, times, outputs=outputs, units=units) as pred_out,
            StackWriter(
                request.output_variance or _variance_path(request.output),
                spec,
                times,
                outputs=outputs,
                units=squared_units(units),
            ) as var_out,
        ):

            def write(index: int, result: tuple[np.ndarray, np.ndarray]) -> None:
                band, (start, stop) = chunks[index]
                window = Window(0, start, spec.width, stop - start)
                for writer, values, name in ((pred_out, result[0], "value"), (var_out, result[1], "variance")):
                    writer.write_band(band, values, window)
                    ranges[name] = [
                        min(ranges[name][0], float(values.min())),
                        max(ranges[name][1], float(values.max())),
                    ]

            run_chunks(tasks, write, chunk_reporter, client, what="chunk")
    (low, high), (var_low, var_high) = ranges["value"], ranges["variance"]
    return {"OUTPUT": request.output, "OUTPUT_VARIANCE": request.output_variance or _variance_path(request.output)}, {
        "width": spec.width,
        "height": spec.height,
        "times": [format_time(t) for t in times],
        **step.fields(),
        "units": units,
        "variance_units": squared_units(units),
        "value_min": low,
        "value_max": high,
        "variance_min": var_low,
        "variance_max": var_high,
    }


class RunTimeEstimate(ScaledReporter):
    """Passes progress on; at the first progress of a run of ``total`` predictions (more than ``limit``), warns with
    the estimated run time."""

    def __init__(self, parent: Reporter, total: int, limit: int) -> None:
        super().__init__(parent, 0.0, 100.0)
        self._total, self._limit = total, limit
        self._started = time.perf_counter()
        self._warned = False

    def progress(self, percent: float, message: str = "") -> None:
        super().progress(percent, message)
        if not self._warned and percent > 0:
            self._warned = True
            seconds = (time.perf_counter() - self._started) / (percent / 100)
            self.warning(
                f"{self._total} predictions exceed {self._limit}: estimated run time {seconds / 60:.0f} min. "
                "Use a larger PIXEL_SIZE, a smaller EXTENT or fewer time steps to go faster; cancel stops "
                "the run at once."
            )


def _variance_path(output: str) -> str:
    path = Path(output)
    return str(path.with_name(f"{path.stem}_variance{path.suffix}"))


def _krige_points(request, panel, model, options, data, origin, reporter, outputs, source_crs):
    import geopandas as gpd
    from pyproj import CRS

    target = request.target_points
    frame = gpd.read_file(target.path, layer=target.layer) if target.layer else gpd.read_file(target.path)
    if frame.empty:
        raise UserInputError(f"The target layer {target.path} has no features.")
    if target.time_field not in frame.columns:
        raise UserInputError(
            f"Unknown target time field {target.time_field!r}; the layer has: "
            f"{', '.join(c for c in frame.columns if c != frame.geometry.name)}."
        )
    if frame.crs is not None and panel.crs:
        projected = frame.to_crs(CRS.from_user_input(panel.crs))
    else:
        projected = frame
    points = projected.geometry.representative_point()
    xy = np.column_stack([points.x, points.y]) / model.distance_scale()
    times = parse_times(frame[target.time_field], f"values of {target.time_field!r}", request.points.time_format)
    prediction, variance = krige(
        data, SpaceTimePoints(xy, time_in_model_units(times, origin, model)), model, options, reporter.scaled(20, 95)
    )
    table = frame.drop(columns=frame.geometry.name).copy()
    table["pred"], table["var"] = prediction, variance
    original = frame.geometry.representative_point()
    write_table(
        table,
        request.output_points,
        outputs,
        xy=np.column_stack([original.x, original.y]),
        crs=frame.crs.to_wkt() if frame.crs is not None else "",
        layer="kriging",
    )
    return {"OUTPUT_POINTS": request.output_points}, {
        "points": int(len(frame)),
        "value_min": float(prediction.min()),
        "value_max": float(prediction.max()),
    }


@command("stkriging", StKrigingRequest, "Space-time kriging")
def st_kriging(request: StKrigingRequest, reporter: Reporter) -> CommandResult:
    """Ordinary (or simple) space-time kriging with prediction variance."""
    if (request.grid is None) == (request.target_points is None):
        raise UserInputError("Give either a grid (extent, pixel size, start, end, step) or target points.")
    if request.grid is not None and not request.output:
        raise UserInputError("Give an output raster for the predictions.")
    if request.target_points is not None and not request.output_points:
        raise UserInputError("Give an output layer for the predicted points.")
    source = request.points.read(reporter)
    panel = kriging_panel(source, reporter)
    options = request.kriging.options()
    plan, sizes = None, NMAX_CHOICES
    if request.grid is not None:  # a grid that cannot fit is refused before any model is fitted
        plan = GridPlan.of(request, panel, source.crs)
        sizes = plan.sizes_that_fit(int(np.isfinite(panel.values).sum()), options, reporter)
    model, options, choice = model_for(panel, request.model_file, options, reporter.scaled(0, 20), sizes)
    origin = panel.times[0]
    data = observations(panel, model, origin)
    with AtomicOutputs() as outputs:
        if plan is not None:
            produced, summary = _krige_grid(request, plan, model, options, data, origin, reporter, outputs)
        else:
            produced, summary = _krige_points(
                request, panel, model, options, data, origin, reporter, outputs, source.crs
            )
    summary["model"] = model.to_dict()
    summary["nmax"] = options.nmax if options.nmax is not None else "all data"
    if choice is not None:
        summary["model_choice"] = choice.table().to_dict(orient="records")
    return CommandResult.of(produced, summary)
