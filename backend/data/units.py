"""Units and numbers as text for legends, band units, model descriptions and report axes ("µg/m³", "123,456")."""

from __future__ import annotations

import re

import numpy as np

_SIMPLE_UNIT = re.compile(r"^[^\s/*^·()]+$")


def squared_units(units: str | None) -> str | None:
    """The unit of a variance: K → K², µg/m³ → (µg/m³)²; None stays None."""
    if not units:
        return None
    return f"{units}²" if _SIMPLE_UNIT.match(units) else f"({units})²"


def per_year_units(units: str | None) -> str:
    """The unit of a slope per year: mm → mm/year, m/s → (m/s)/year, unknown → /year."""
    if not units:
        return "/year"
    return f"{units}/year" if _SIMPLE_UNIT.match(units) else f"({units})/year"


def axis_label(what: str, units: str | None) -> str:
    """A report axis label: "value (µg/m³)", "semivariance (µg/m³)²", or just "value" when the unit is unknown."""
    if not units:
        return what
    return f"{what} {units}" if units.startswith("(") else f"{what} ({units})"


def readable_number(value: float) -> str:
    """A number as people write it: 123,456 and 12.35 rather than 1.235e+05; scientific only below 0.001."""
    size = abs(value)
    if not np.isfinite(value):
        return "n/a" if np.isnan(value) else str(value)
    if size >= 1e4:
        return f"{value:,.0f}"
    if size == 0 or size >= 1e-3:
        return f"{value:.4g}"
    return f"{value:.3g}"


def readable_length(value: float, unit: str = "m") -> str:
    """A length for people: 850 m, 12.5 km, 1,234 km; values in another unit keep it (3 day)."""
    if unit != "m" or abs(value) < 1000:
        return f"{readable_number(value)} {unit}"
    return f"{readable_number(value / 1000)} km"
