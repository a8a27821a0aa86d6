"""Basic variogram models (gstat ``vgm``): nested components Nug, Exp, Sph, Gau, Mat.

gamma(h) = sum_i psill_i * g_i(h / range_i); covariance C(h) = sill - gamma(h), with the
nugget contributing its psill to C(0) only. Distances in the model's units (m or days).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import gamma as gamma_fn
from scipy.special import kv

from backend.errors import UserInputError

BASIC_MODELS = ("Nug", "Exp", "Sph", "Gau", "Mat")


def _unit_variogram(model: str, h: np.ndarray, a: float, kappa: float) -> np.ndarray:
    """Standardised variogram (sill 1) of one component at distances ``h`` ≥ 0."""
    if model == "Nug":
        return (h > 0).astype(np.float64)
    r = h / a
    if model == "Exp":
        return 1.0 - np.exp(-r)
    if model == "Sph":
        return np.where(r < 1.0, 1.5 * r - 0.5 * r**3, 1.0)
    if model == "Gau":
        return 1.0 - np.exp(-(r**2))
    if model == "Mat":
        with np.errstate(invalid="ignore", over="ignore"):
            value = 1.0 - (r**kappa) * kv(kappa, r) / (2.0 ** (kappa - 1.0) * gamma_fn(kappa))
        return np.where(r > 0, np.nan_to_num(value, nan=1.0), 0.0)
    raise UserInputError(f"Unknown variogram model {model!r}; use one of {', '.join(BASIC_MODELS)}.")


MAX_MAGNITUDE = 1e100  # sills and ranges beyond this are damaged files: kriging sums would overflow
MAX_KAPPA = 100.0  # Matérn smoothness; gstat uses ≤ 10 in practice


@dataclass
class VariogramComponent:
    """One row of a gstat ``vgm``: ``model``, partial sill, range (model units), Matérn kappa."""

    model: str
    psill: float
    range: float = 0.0
    kappa: float = 0.5

    def validate(self, where: str) -> None:
        if self.model not in BASIC_MODELS:
            raise UserInputError(f"{where}: unknown model {self.model!r}; use one of {', '.join(BASIC_MODELS)}.")
        if not np.isfinite(self.psill) or not 0 <= self.psill <= MAX_MAGNITUDE:
            raise UserInputError(
                f"{where}: the partial sill must be between 0 and {MAX_MAGNITUDE:g}, got {self.psill}."
            )
        if self.model != "Nug" and (not np.isfinite(self.range) or not 0 < self.range <= MAX_MAGNITUDE):
            raise UserInputError(
                f"{where}: the range of a {self.model} model must be > 0 and at most "
                f"{MAX_MAGNITUDE:g}, got {self.range}."
            )
        if self.model == "Mat" and not 0 < self.kappa <= MAX_KAPPA:
            raise UserInputError(f"{where}: kappa must be > 0 and at most {MAX_KAPPA:g}, got {self.kappa}.")


@dataclass
class BasicVariogram:
    """A nested variogram (gstat ``vgm``): usually a nugget plus one structured component."""

    components: list[VariogramComponent] = field(default_factory=list)

    @classmethod
    def of(cls, model: str, psill: float, range_: float, nugget: float = 0.0, kappa: float = 0.5) -> BasicVariogram:
        """Like gstat's ``vgm(psill, model, range, nugget)``: a Nug row first when ``nugget`` > 0."""
        parts = [VariogramComponent("Nug", nugget, 0.0)] if nugget > 0 else []
        return cls(parts + [VariogramComponent(model, psill, range_, kappa)])

    @property
    def sill(self) -> float:
        return float(sum(c.psill for c in self.components))

    @property
    def nugget(self) -> float:
        return float(sum(c.psill for c in self.components if c.model == "Nug"))

    @property
    def structure(self) -> VariogramComponent:
        """The (last) non-nugget component, the one fitted for shape and range."""
        for component in reversed(self.components):
            if component.model != "Nug":
                return component
        raise UserInputError("The variogram has only a nugget; add a structured component (Exp, Sph, Gau, Mat).")

    def gamma(self, h) -> np.ndarray:
        h = np.abs(np.asarray(h, dtype=np.float64))
        total = np.zeros_like(h)
        for c in self.components:
            total += c.psill * _unit_variogram(c.model, h, c.range, c.kappa)
        return total

    def covariance(self, h) -> np.ndarray:
        return self.sill - self.gamma(h)

    def validate(self, where: str) -> None:
        if not self.components:
            raise UserInputError(f"{where}: the variogram has no component.")
        for i, component in enumerate(self.components):
            component.validate(f"{where}, component {i + 1}")

    def to_list(self) -> list[dict]:
        return [{"model": c.model, "psill": c.psill, "range": c.range, "kappa": c.kappa} for c in self.components]

    @classmethod
    def from_list(cls, rows, where: str) -> BasicVariogram:
        if not isinstance(rows, list):
            raise UserInputError(f"{where} must be a list of components (model, psill, range, kappa).")
        try:
            parts = [
                VariogramComponent(
                    str(r["model"]), float(r["psill"]), float(r.get("range", 0.0)), float(r.get("kappa", 0.5))
                )
                for r in rows
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise UserInputError(f"{where}: each component needs model, psill and range ({exc}).") from exc
        variogram = cls(parts)
        variogram.validate(where)
        return variogram
