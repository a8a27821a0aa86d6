"""Space-time variogram models with gstat's definitions (``vgmST``) and a JSON form.

Model types (gstat names): separable, productSum, metric, sumMetric, simpleSumMetric.
Distances ``h`` in ``distance_unit`` (m or km), time lags ``u`` in ``time_unit`` (sec, min, hour, day, or
calendar month: lags between real dates in months, see :func:`backend.data.time_axis.calendar_months`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.data.time_step import MEAN_MONTH_SECONDS
from backend.data.units import readable_length, readable_number
from backend.errors import UserInputError
from backend.kriging.basic_models import MAX_MAGNITUDE, BasicVariogram, VariogramComponent

ST_MODELS = ("separable", "productSum", "metric", "sumMetric", "simpleSumMetric")
TIME_UNIT_SECONDS = {"sec": 1.0, "min": 60.0, "hour": 3600.0, "day": 86400.0, "month": MEAN_MONTH_SECONDS}
DISTANCE_UNIT_METRES = {"m": 1.0, "km": 1000.0}
_NEEDS = {
    "separable": ("space", "time", "sill"),
    "productSum": ("space", "time", "k"),
    "metric": ("joint", "stAni"),
    "sumMetric": ("space", "time", "joint", "stAni"),
    "simpleSumMetric": ("space", "time", "joint", "nugget", "stAni"),
}


@dataclass
class SpaceTimeModel:
    """A gstat ``StVariogramModel``: one of :data:`ST_MODELS` with its components.

    separable: gamma = sill·(gs + gt − gs·gt), space/time variograms with sill 1.
    productSum: gamma = (k·sill_t + 1)·gs + (k·sill_s + 1)·gt − k·gs·gt.
    metric: gamma = gj(√(h² + (stAni·u)²)).
    sumMetric: gamma = gs + gt + gj(√(h² + (stAni·u)²)); simpleSumMetric adds a joint nugget.
    """

    stModel: str  # noqa: N815 (gstat's name)
    space: BasicVariogram | None = None
    time: BasicVariogram | None = None
    joint: BasicVariogram | None = None
    sill: float | None = None
    nugget: float | None = None
    k: float | None = None
    stAni: float | None = None  # noqa: N815  distance units per time unit
    distance_unit: str = "m"
    time_unit: str = "day"
    fit: dict = field(default_factory=dict)  # fit diagnostics (method, MSE, weighted error)

    def validate(self) -> SpaceTimeModel:
        if self.stModel not in ST_MODELS:
            raise UserInputError(f"Unknown space-time model {self.stModel!r}; use one of {', '.join(ST_MODELS)}.")
        for name in _NEEDS[self.stModel]:
            value = getattr(self, name)
            if value is None:
                raise UserInputError(f"A {self.stModel} model needs {name!r}.")
            if isinstance(value, BasicVariogram):
                value.validate(f"{self.stModel} model, {name} variogram")
            elif not np.isfinite(value) or not 0 <= value <= MAX_MAGNITUDE or (name in ("stAni", "k") and value == 0):
                raise UserInputError(
                    f"{self.stModel} model: {name} must be {'> 0' if name in ('stAni', 'k') else '≥ 0'} "
                    f"and at most {MAX_MAGNITUDE:g}, got {value}."
                )
        if self.time_unit not in TIME_UNIT_SECONDS:
            raise UserInputError(f"time_unit must be one of {', '.join(TIME_UNIT_SECONDS)}, got {self.time_unit!r}.")
        if self.distance_unit not in DISTANCE_UNIT_METRES:
            raise UserInputError(f"distance_unit must be 'm' or 'km', got {self.distance_unit!r}.")
        return self

    # --- evaluation ---------------------------------------------------------------------
    def _metric_lag(self, h, u):
        return np.sqrt(np.asarray(h, dtype=np.float64) ** 2 + (self.stAni * np.asarray(u, dtype=np.float64)) ** 2)

    def gamma(self, h, u) -> np.ndarray:
        """Semivariance at spatial lag ``h`` and time lag ``u`` (broadcast)."""
        h, u = np.broadcast_arrays(np.abs(np.asarray(h, float)), np.abs(np.asarray(u, float)))
        kind = self.stModel
        if kind == "separable":
            gs, gt = self.space.gamma(h), self.time.gamma(u)
            return self.sill * (gs + gt - gs * gt)
        if kind == "productSum":
            gs, gt = self.space.gamma(h), self.time.gamma(u)
            return (self.k * self.time.sill + 1) * gs + (self.k * self.space.sill + 1) * gt - self.k * gs * gt
        hst = self._metric_lag(h, u)
        if kind == "metric":
            return self.joint.gamma(hst)
        total = self.space.gamma(h) + self.time.gamma(u) + self.joint.gamma(hst)
        if kind == "simpleSumMetric":
            total = total + self.nugget * (hst > 0)
        return total

    def covariance(self, h, u) -> np.ndarray:
        """Covariance at spatial lag ``h`` and time lag ``u`` (broadcast), as gstat's ``covfn.ST``. Each part is
        evaluated on its own argument's shape before they are combined (u[1, n] against h[b, n]: n evaluations)."""
        h, u = np.abs(np.asarray(h, float)), np.abs(np.asarray(u, float))
        kind = self.stModel
        if kind == "separable":
            return self.sill * self.space.covariance(h) * self.time.covariance(u)
        if kind == "productSum":
            cs, ct = self.space.covariance(h), self.time.covariance(u)
            return ct + cs + self.k * ct * cs
        hst = self._metric_lag(h, u)
        if kind == "metric":
            return self.joint.covariance(hst)
        total = self.space.covariance(h) + self.time.covariance(u) + self.joint.covariance(hst)
        if kind == "simpleSumMetric":
            total = total + self.nugget * (hst == 0)
        return total

    @classmethod
    def spatial_only(cls, space: BasicVariogram, time_unit: str = "day", distance_unit: str = "m") -> SpaceTimeModel:
        """Pure spatial kriging per time step as a space-time model: separable with a pure-nugget time variogram
        (no correlation between different times) and the spatial variogram's sill (gstat:
        ``vgmST("separable", space, vgm(1, "Nug"), sill)``)."""
        sill = space.sill
        unit_space = BasicVariogram(
            [VariogramComponent(c.model, c.psill / sill, c.range, c.kappa) for c in space.components]
        )
        return cls(
            "separable",
            space=unit_space,
            time=BasicVariogram([VariogramComponent("Nug", 1.0)]),
            sill=sill,
            distance_unit=distance_unit,
            time_unit=time_unit,
        )

    def space_variogram(self) -> BasicVariogram:
        """The space variogram with its real sill (separable models keep it at 1 and scale by ``sill``)."""
        scale = self.sill if self.stModel == "separable" else 1.0
        return BasicVariogram(
            [VariogramComponent(c.model, c.psill * scale, c.range, c.kappa) for c in self.space.components]
        )

    @property
    def is_spatial_only(self) -> bool:
        """True when different times are uncorrelated (separable, time variogram a pure nugget): kriging each time
        step from its own observations."""
        return (
            self.stModel == "separable"
            and self.time is not None
            and all(c.model == "Nug" for c in self.time.components)
        )

    @property
    def total_sill(self) -> float:
        return float(self.covariance(0.0, 0.0))

    # --- units --------------------------------------------------------------------------
    def distance_scale(self) -> float:
        """Metres per model distance unit."""
        return DISTANCE_UNIT_METRES[self.distance_unit]

    def time_scale(self) -> float:
        """Seconds per model time unit."""
        return TIME_UNIT_SECONDS[self.time_unit]

    # --- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {"stModel": self.stModel, "distance_unit": self.distance_unit, "time_unit": self.time_unit}
        for name in ("space", "time", "joint"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name).to_list()
        for name in ("sill", "nugget", "k", "stAni"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.fit:
            out["fit"] = self.fit
        return out

    def describe(self) -> str:
        """One line: each variogram's components with ranges in km (distances) or time units, then the sills."""
        parts = [f"{self.stModel} model ({self.distance_unit}, {self.time_unit})"]
        for name in ("space", "time", "joint"):
            v = getattr(self, name)
            if v is not None:
                unit = self.time_unit if name == "time" else self.distance_unit
                parts.append(
                    f"{name}: "
                    + " + ".join(
                        f"{c.model}(psill={readable_number(c.psill)}"
                        + (f", range={readable_length(c.range, unit)}" if c.model != "Nug" else "")
                        + ")"
                        for c in v.components
                    )
                )
        parts += [
            f"{n}={readable_number(getattr(self, n))}" for n in ("sill", "nugget", "k") if getattr(self, n) is not None
        ]
        if self.stAni is not None:
            parts.append(f"stAni={readable_length(self.stAni, self.distance_unit)} per {self.time_unit}")
        return "; ".join(parts)

    @classmethod
    def from_dict(cls, data: dict) -> SpaceTimeModel:
        if not isinstance(data, dict) or "stModel" not in data:
            raise UserInputError(
                "A space-time model needs 'stModel' (separable, productSum, metric, sumMetric, simpleSumMetric)."
            )
        known = {
            "stModel",
            "space",
            "time",
            "joint",
            "sill",
            "nugget",
            "nug",
            "k",
            "stAni",
            "distance_unit",
            "time_unit",
            "fit",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserInputError(f"Unknown key(s) in the model: {', '.join(unknown)}.")

        def variogram(name):
            rows = data.get(name)
            if rows is None:
                return None
            expanded = []
            for row in rows if isinstance(rows, list) else [rows]:
                if isinstance(row, dict) and row.get("nugget"):  # vgm(psill, model, range, nugget) shorthand
                    expanded.append({"model": "Nug", "psill": row["nugget"], "range": 0})
                    row = {k: v for k, v in row.items() if k != "nugget"}
                expanded.append(row)
            return BasicVariogram.from_list(expanded, f"'{name}'")

        def number(name, alias=None):
            value = data.get(name, data.get(alias) if alias else None)
            if value is None:
                return None
            try:
                return float(value)
            except (TypeError, ValueError) as exc:
                raise UserInputError(f"Model value {name!r} must be a number, got {value!r}.") from exc

        return cls(
            str(data["stModel"]),
            variogram("space"),
            variogram("time"),
            variogram("joint"),
            number("sill"),
            number("nugget", "nug"),
            number("k"),
            number("stAni"),
            str(data.get("distance_unit", "m")),
            str(data.get("time_unit", "day")),
            dict(data.get("fit") or {}),
        ).validate()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> SpaceTimeModel:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise UserInputError(f"The model file {path} does not exist.") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserInputError(f"The model file {path} is not valid JSON: {exc}.") from exc
        return cls.from_dict(data)


# --- parameter vectors for fitting (gstat's extractPar/insertPar order) -------------------


def _pair(v: BasicVariogram) -> tuple[float, float, float]:
    """(psill, range, nugget) of a nugget + one-structure variogram."""
    return v.structure.psill, v.structure.range, v.nugget


def _rebuild(template: BasicVariogram, psill: float, range_: float, nugget: float) -> BasicVariogram:
    s = template.structure
    parts = [VariogramComponent("Nug", nugget)] if nugget > 0 or template.nugget > 0 else []
    return BasicVariogram(parts + [VariogramComponent(s.model, psill, range_, s.kappa)])


def parameter_names(kind: str) -> list[str]:
    return {
        "separable": ["range.s", "nugget.s", "range.t", "nugget.t", "sill"],
        "productSum": ["sill.s", "range.s", "nugget.s", "sill.t", "range.t", "nugget.t", "k"],
        "metric": ["sill", "range", "nugget", "anis"],
        "sumMetric": [
            "sill.s",
            "range.s",
            "nugget.s",
            "sill.t",
            "range.t",
            "nugget.t",
            "sill.st",
            "range.st",
            "nugget.st",
            "anis",
        ],
        "simpleSumMetric": ["sill.s", "range.s", "sill.t", "range.t", "sill.st", "range.st", "nugget", "anis"],
    }[kind]


def extract_parameters(model: SpaceTimeModel) -> np.ndarray:
    kind = model.stModel
    if kind == "separable":
        return np.array(
            [model.space.structure.range, model.space.nugget, model.time.structure.range, model.time.nugget, model.sill]
        )
    if kind == "metric":
        s, r, n = _pair(model.joint)
        return np.array([s, r, n, model.stAni])
    s_s, r_s, n_s = _pair(model.space)
    s_t, r_t, n_t = _pair(model.time)
    if kind == "productSum":
        return np.array([s_s, r_s, n_s, s_t, r_t, n_t, model.k])
    s_j, r_j, n_j = _pair(model.joint)
    if kind == "sumMetric":
        return np.array([s_s, r_s, n_s, s_t, r_t, n_t, s_j, r_j, n_j, model.stAni])
    return np.array([s_s, r_s, s_t, r_t, s_j, r_j, model.nugget, model.stAni])


def insert_parameters(model: SpaceTimeModel, p) -> SpaceTimeModel:
    p = [float(x) for x in p]
    base = dict(stModel=model.stModel, distance_unit=model.distance_unit, time_unit=model.time_unit)
    kind = model.stModel
    if kind == "separable":
        return SpaceTimeModel(
            space=_rebuild(model.space, 1 - p[1], p[0], p[1]),
            time=_rebuild(model.time, 1 - p[3], p[2], p[3]),
            sill=p[4],
            **base,
        )
    if kind == "metric":
        return SpaceTimeModel(joint=_rebuild(model.joint, p[0], p[1], p[2]), stAni=p[3], **base)
    if kind == "productSum":
        return SpaceTimeModel(
            space=_rebuild(model.space, p[0], p[1], p[2]), time=_rebuild(model.time, p[3], p[4], p[5]), k=p[6], **base
        )
    if kind == "sumMetric":
        return SpaceTimeModel(
            space=_rebuild(model.space, p[0], p[1], p[2]),
            time=_rebuild(model.time, p[3], p[4], p[5]),
            joint=_rebuild(model.joint, p[6], p[7], p[8]),
            stAni=p[9],
            **base,
        )
    return SpaceTimeModel(
        space=_rebuild(model.space, p[0], p[1], 0.0),
        time=_rebuild(model.time, p[2], p[3], 0.0),
        joint=_rebuild(model.joint, p[4], p[5], 0.0),
        nugget=p[6],
        stAni=p[7],
        **base,
    )
