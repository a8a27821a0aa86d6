"""Input specifications shared by commands (point layers in long or wide format)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from backend.data.point_io import PointLayerRef, read_long_points, read_wide_points
from backend.data.point_panel import PointPanel
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.kriging.kriging import KrigingOptions, requested_nmax

POINT_FORMATS = ("long", "wide")


def resampled_as_asked(panel: PointPanel, step: str | None, statistic: str, reporter) -> PointPanel:
    """``panel`` aggregated to ``step`` with ``statistic`` (logging the empty steps), or unchanged without a step."""
    return panel.resampled(step, statistic, reporter) if step else panel


@dataclass
class PointInput:
    """A point layer with its fields: long (id, time, value) or wide (id + one field per time)."""

    path: str
    layer: str | None = None
    format: str = "long"
    id_field: str = ""
    time_field: str = ""
    value_field: str = ""
    value_fields: list[str] = field(default_factory=list)
    field_time_pattern: str | None = None
    time_format: str | None = None  # strptime pattern of a text time field; None = ISO / inferred per column
    duplicates: str = "refuse"  # repeated station-times: refuse, mean, median, first, last, sum
    resample: str | None = None  # regular step to aggregate to first: 1h, 1D, 1M, 3M, 1Y …; None = as read
    resample_statistic: str = "mean"  # mean, median, sum, last, first, min, max of the readings in each step
    units: str | None = None  # unit of the values (e.g. µg/m³) for outputs and reports; None = unknown

    def read(self, reporter=None) -> PointPanel:
        return resampled_as_asked(self._read(reporter), self.resample, self.resample_statistic, reporter)

    def _read(self, reporter) -> PointPanel:
        ref = PointLayerRef(self.path, self.layer)
        if not self.id_field:
            raise UserInputError("Choose the station id field.")
        if self.format == "long":
            if not self.time_field or not self.value_field:
                raise UserInputError("A long-format layer needs a time field and a value field.")
            return read_long_points(
                ref, self.id_field, self.time_field, self.value_field, self.time_format, self.duplicates, reporter
            )
        if self.format == "wide":
            return read_wide_points(ref, self.id_field, self.value_fields, self.field_time_pattern)
        raise UserInputError(f"Unknown point layer format {self.format!r}; use one of {POINT_FORMATS}.")


@dataclass
class SensorInput:
    """Sensor observations: a SENSORS point layer (id + location) with an OBSERVATIONS table (long or wide),
    or one long-format point layer (``points``).

    missing_value: a reading that means "no data" (e.g. 0 for METR-LA speeds); None = only empty/NaN.
    """

    sensors: str | None = None
    sensors_layer: str | None = None
    id_field: str = ""
    observations: str | None = None
    time_field: str = ""
    value_field: str = ""
    points: PointInput | None = None
    missing_value: float | None = None
    time_format: str | None = None  # strptime pattern of the table's time column; None = ISO / inferred
    duplicates: str = "refuse"  # repeated sensor-times: refuse, mean, median, first, last, sum
    resample_statistic: str = "mean"  # statistic of the readings per step when the command resamples
    units: str | None = None  # unit of the readings (e.g. mph) for outputs and reports; None = unknown

    def read(self, reporter=None) -> PointPanel:
        from backend.data.sensor_io import read_sensors_and_table

        if self.points is not None and self.points.path:
            panel = self.points.read(reporter)
        elif self.sensors and self.observations:
            panel = read_sensors_and_table(
                PointLayerRef(self.sensors, self.sensors_layer),
                self.id_field,
                self.observations,
                self.time_field,
                self.value_field,
                reporter,
                self.time_format,
                self.duplicates,
            )
        else:
            raise UserInputError(
                "Give a SENSORS point layer with an OBSERVATIONS table, or one long-format point "
                "layer (INPUT with id, time and value fields)."
            )
        if self.missing_value is not None:
            panel.values[panel.values == np.float32(self.missing_value)] = np.nan
        return panel


@dataclass
class SeriesSource:
    """Exactly one of ``raster`` (a multiband stack with band times) or ``points`` (a point layer)."""

    raster: str | None = None
    points: PointInput | None = None

    def is_raster(self) -> bool:
        if bool(self.raster) == bool(self.points and self.points.path):
            raise UserInputError("Give either a raster time stack or a point layer as input.")
        return bool(self.raster)

    def panel(self, time_step: str | None = None, reporter=None) -> tuple[PointPanel, TimeStep]:
        """Station series on a regular axis (optionally aggregated to ``time_step``, e.g. '1D', '7D', '1M', '1Y',
        with the point input's statistic, the mean by default)."""
        panel = self.points.read(reporter)
        panel = resampled_as_asked(panel, time_step, self.points.resample_statistic, reporter)
        return panel.on_regular_axis()

    def units(self) -> str | None:
        """The unit of the values: the point input's ``units``, or the stack's band unit."""
        if self.points is not None and self.points.path:
            return self.points.units
        from backend.data.raster_io import band_units, open_raster

        with open_raster(self.raster) as src:
            return band_units(src)

    def raster_axis(self, time_step: str | None, reporter=None):
        """The stack's :class:`~backend.diagnostics.sources.StackAxis`: band times and the times of every cell's
        series (the regular axis, averaged to ``time_step``; the log says how)."""
        from backend.diagnostics.sources import StackAxis

        times, step = self.raster_times()
        return StackAxis.of(times, step, time_step, reporter)

    def raster_times(self) -> tuple[np.ndarray, TimeStep]:
        from backend.data.raster_io import open_raster, required_band_times
        from backend.data.time_axis import summarize_time_axis

        with open_raster(self.raster) as src:
            times = required_band_times(src, self.raster)
        summary = summarize_time_axis(times)
        if summary.step is None or summary.irregular_intervals:
            raise UserInputError(
                f"The stack's band times are not on a regular axis ({summary.describe()}) Aggregate "
                "it to a regular step first (TIME_STEP, e.g. 1D or 1M)."
            )
        return times, summary.step


@dataclass
class KrigingSettings(KrigingOptions):
    """The kriging options as requests give them: ``nmax`` −1 = all data, 0 = choose by leave-one-station-out
    cross-validation (the default), ``device`` auto, cpu or cuda (see
    :class:`backend.kriging.kriging.KrigingOptions` for the rest)."""

    nmax: int | None = 0
    device: str = "auto"

    def options(self) -> KrigingOptions:
        """The engine's options: nmax None for all data (0 stays: chosen later), numpy on the CPU or torch on the
        GPU."""
        from backend.device import choose_device

        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(KrigingOptions)}
        settings.update(
            nmax=requested_nmax(self.nmax), device="numpy" if choose_device(self.device) == "cpu" else "cuda"
        )
        return KrigingOptions(**settings)


@dataclass
class VariogramSettings:
    """Sample variogram bins and the fit: model type ('best' = smallest fit error, 'best_cv' = smallest
    leave-one-station-out RMSE), basic model, gstat fit.method."""

    model: str = "best"
    basic_model: str = "Exp"
    fit_method: int = 6
    cutoff: float | None = None  # metres; None = a third of the largest station distance
    width: float | None = None  # metres; None = cutoff / 15
    tlags: int = 6  # time lags 0..tlags (in time steps)
