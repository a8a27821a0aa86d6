"""PointPanel: values observed at fixed stations over a common time axis."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backend.data.time_axis import (
    TimeAxisSummary,
    check_strictly_increasing,
    on_regular_axis,
    resample_values,
    summarize_time_axis,
)
from backend.data.time_step import TimeStep, parse_time_step
from backend.errors import UserInputError


@dataclass
class PointPanel:
    """Station time series on a shared time axis.

    ids: str[N] station identifiers (unique).
    xy: float64[N, 2] station coordinates in ``crs`` (metres once :func:`to_metric` ran).
    times: datetime64[s][T], strictly increasing, UTC.
    values: float32[N, T], NaN = not observed.
    """

    ids: np.ndarray
    xy: np.ndarray
    crs: str
    times: np.ndarray
    values: np.ndarray
    attributes: dict[str, str] = field(default_factory=dict)

    def frame(self, columns: dict) -> pd.DataFrame:
        """A table with one row per station: ``station_id`` and ``columns`` (name → array[N])."""
        return pd.DataFrame({"station_id": self.ids, **{k: np.asarray(v) for k, v in columns.items()}})

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids).astype(str)
        self.xy = np.asarray(self.xy, dtype=np.float64).reshape(-1, 2)
        self.times = np.asarray(self.times, dtype="datetime64[s]")
        self.values = np.asarray(self.values, dtype=np.float32)
        n, t = self.ids.size, self.times.size
        if n == 0:
            raise UserInputError("The point layer has no station.")
        if self.xy.shape != (n, 2) or self.values.shape != (n, t):
            raise UserInputError(
                f"Inconsistent panel: {n} ids, xy {self.xy.shape}, values {self.values.shape}, {t} times."
            )
        unique, counts = np.unique(self.ids, return_counts=True)
        if (counts > 1).any():
            raise UserInputError(f"Station ids must be unique; repeated: {', '.join(unique[counts > 1][:5])}.")
        check_strictly_increasing(self.times)

    @property
    def n_stations(self) -> int:
        return int(self.ids.size)

    def time_summary(self) -> TimeAxisSummary:
        return summarize_time_axis(self.times)

    def observed_share(self) -> np.ndarray:
        """float64[N]: share of the time axis observed at each station."""
        return np.isfinite(self.values).mean(axis=1)

    def on_regular_axis(self) -> tuple[PointPanel, TimeStep]:
        """The panel on its regular time axis (missing steps filled with NaN) and its step (fixed or calendar).

        Times off the axis (intervals that are not whole steps) are refused: time lags would be ambiguous.
        """
        if self.times.size < 2:
            raise UserInputError(
                f"At least 2 time steps are needed; the series have {self.times.size} (after any "
                "RESAMPLE or TIME_STEP aggregation: use a shorter step)."
            )
        times, values, step = on_regular_axis(self.times, self.values, axis=1)
        if values is self.values:
            return self, step
        return PointPanel(self.ids, self.xy, self.crs, times, values, dict(self.attributes)), step

    def resampled(self, step: TimeStep | str, statistic: str = "mean", reporter=None) -> PointPanel:
        """The ``statistic`` (mean, median, sum, last, …) of each station's readings per bin of ``step`` ('1h',
        '1D', '1M', '3M', '1Y'; calendar bins start on the first of the month), on the full regular axis; the
        reporter logs how many steps are empty."""
        if isinstance(step, str):
            step = parse_time_step(step, "resampling step")
        result = resample_values(self.times, self.values.T, step, statistic)
        if reporter is not None:
            reporter.log(result.describe())
        return PointPanel(
            self.ids, self.xy, self.crs, result.times, result.values.astype(np.float32).T, dict(self.attributes)
        )

    def to_long_frame(self) -> pd.DataFrame:
        """Observed values as a long table: station_id, time, value."""
        station, step = np.nonzero(np.isfinite(self.values))
        return pd.DataFrame(
            {"station_id": self.ids[station], "time": self.times[step], "value": self.values[station, step]}
        )


def metric_crs_for(panel: PointPanel) -> str:
    """WKT of the UTM zone covering the centre of a panel in geographic coordinates."""
    from pyproj import CRS
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    lon_min, lat_min = panel.xy.min(axis=0)
    lon_max, lat_max = panel.xy.max(axis=0)
    lon_c, lat_c = (lon_min + lon_max) / 2, (lat_min + lat_max) / 2
    infos = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon_c, lat_c, lon_c, lat_c))
    if not infos:
        raise UserInputError("No UTM zone covers these stations; reproject the layer to a metric CRS first.")
    return CRS.from_epsg(int(infos[0].code)).to_wkt()


def to_metric(panel: PointPanel) -> PointPanel:
    """The same panel with coordinates in metres: geographic input goes to its UTM zone."""
    from pyproj import CRS, Transformer

    if not panel.crs:
        raise UserInputError("The point layer has no CRS; set its CRS in QGIS before running.")
    crs = CRS.from_user_input(panel.crs)
    if not crs.is_geographic:
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit not in ("metre", "meter"):
            raise UserInputError(f"The layer's CRS uses {unit}; reproject it to a CRS in metres.")
        return panel
    target = metric_crs_for(PointPanel(panel.ids, panel.xy, panel.crs, panel.times[:0], panel.values[:, :0]))
    transformer = Transformer.from_crs(crs, CRS.from_wkt(target), always_xy=True)
    x, y = transformer.transform(panel.xy[:, 0], panel.xy[:, 1])
    return PointPanel(panel.ids, np.column_stack([x, y]), target, panel.times, panel.values, dict(panel.attributes))
