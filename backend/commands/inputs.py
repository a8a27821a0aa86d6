"""Input specifications shared by commands (point layers in long or wide format)."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.data.point_io import PointLayerRef, read_long_points, read_wide_points
from backend.data.point_panel import PointPanel
from backend.errors import UserInputError

POINT_FORMATS = ("long", "wide")


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

    def read(self) -> PointPanel:
        ref = PointLayerRef(self.path, self.layer)
        if not self.id_field:
            raise UserInputError("Choose the station id field.")
        if self.format == "long":
            if not self.time_field or not self.value_field:
                raise UserInputError("A long-format layer needs a time field and a value field.")
            return read_long_points(ref, self.id_field, self.time_field, self.value_field)
        if self.format == "wide":
            return read_wide_points(ref, self.id_field, self.value_fields, self.field_time_pattern)
        raise UserInputError(f"Unknown point layer format {self.format!r}; use one of {POINT_FORMATS}.")


@dataclass
class KrigingSettings:
    """Neighbourhood and solver options shared by the kriging commands.

    nmax: neighbours per prediction (0 or None = all data); st_ani: metres per time unit used to
    scale time in the neighbour search (None = from the model); mean: known mean for simple kriging.
    """

    nmax: int | None = 50
    buffer_nmax: float = 2.0
    st_ani: float | None = None
    mean: float | None = None
    device: str = "auto"

    def options(self):
        from backend.device import choose_device
        from backend.kriging.kriging import KrigingOptions

        device = "numpy" if choose_device(self.device) == "cpu" else "cuda"
        return KrigingOptions(nmax=self.nmax or None, buffer_nmax=self.buffer_nmax, st_ani=self.st_ani,
                              mean=self.mean, device=device)


@dataclass
class VariogramSettings:
    """Sample variogram bins and the fit: model type ('best' = smallest fit error, 'best_cv' = smallest
    leave-one-station-out RMSE), basic model, gstat fit.method."""

    model: str = "best"
    basic_model: str = "Exp"
    fit_method: int = 6
    cutoff: float | None = None   # metres; None = a third of the largest station distance
    width: float | None = None    # metres; None = cutoff / 15
    tlags: int = 6                # time lags 0..tlags (in time steps)
