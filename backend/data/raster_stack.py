"""RasterStack: a raster time series held in memory, one band per time step."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from affine import Affine

from backend.data.time_axis import TimeAxisSummary, check_strictly_increasing, summarize_time_axis
from backend.errors import UserInputError


@dataclass(frozen=True)
class GridSpec:
    """A north-up raster grid: ``height`` × ``width`` cells, affine ``transform``, ``crs`` as WKT."""

    width: int
    height: int
    transform: Affine
    crs: str

    def same_as(self, other: GridSpec, tolerance: float = 1e-6) -> bool:
        return (
            (self.width, self.height) == (other.width, other.height)
            and self.transform.almost_equals(
                other.transform, precision=tolerance * max(1.0, abs(self.transform.a), abs(self.transform.e))
            )
            and _same_crs(self.crs, other.crs)
        )

    def difference(self, other: GridSpec) -> str:
        """Plain text of what differs between two grids (empty when they match)."""
        if (self.width, self.height) != (other.width, other.height):
            return f"size {other.width}×{other.height} px instead of {self.width}×{self.height} px"
        if not _same_crs(self.crs, other.crs):
            return "a different CRS"
        if not self.same_as(other):
            return (
                f"a different extent or cell size (origin {other.transform.c:.6g}, "
                f"{other.transform.f:.6g}, cell {other.transform.a:.6g} instead of origin "
                f"{self.transform.c:.6g}, {self.transform.f:.6g}, cell {self.transform.a:.6g})"
            )
        return ""


def _same_crs(a: str, b: str) -> bool:
    if a == b:
        return True
    if not a or not b:
        return False
    from pyproj import CRS

    return CRS.from_user_input(a) == CRS.from_user_input(b)


@dataclass
class RasterStack:
    """A raster time stack.

    values: float32[T, H, W], NaN = no data.
    times: datetime64[s][T], strictly increasing, UTC.
    grid: the common grid of all bands.
    band_names: optional per-band labels (defaults to the ISO times).
    units: the unit of the values (e.g. "K", "µg/m³"; the bands' GDAL unit type), None when unknown.
    """

    values: np.ndarray
    times: np.ndarray
    grid: GridSpec
    band_names: list[str] | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    units: str | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        self.times = np.asarray(self.times, dtype="datetime64[s]")
        if self.values.ndim != 3:
            raise UserInputError(f"A raster stack needs values of shape [T, H, W], got {self.values.shape}.")
        t, h, w = self.values.shape
        if t != self.times.size:
            raise UserInputError(f"The stack has {t} bands but {self.times.size} times.")
        if (h, w) != (self.grid.height, self.grid.width):
            raise UserInputError(f"The values are {h}×{w} px but the grid is {self.grid.height}×{self.grid.width} px.")
        check_strictly_increasing(self.times)
        if self.band_names is not None and len(self.band_names) != t:
            raise UserInputError(f"{len(self.band_names)} band names for {t} bands.")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.values.shape  # type: ignore[return-value]

    def time_summary(self) -> TimeAxisSummary:
        return summarize_time_axis(self.times)

    def require_data(self) -> None:
        """Raise when every cell of every band is no data."""
        if not np.isfinite(self.values).any():
            raise UserInputError("The raster stack holds no valid value: every cell is no data in every band.")
