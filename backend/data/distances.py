"""Distances between located stations or sensors, in metres: geodesic on the WGS 84 ellipsoid for geographic
coordinates, Euclidean for projected ones."""

from __future__ import annotations

import numpy as np

from backend.errors import UserInputError


def station_distances(xy: np.ndarray, crs: str) -> np.ndarray:
    """float64[N, N] distances in metres; geodesic on the WGS 84 ellipsoid for geographic CRSs."""
    from pyproj import CRS, Geod

    if not crs:
        raise UserInputError("The sensor layer has no CRS; set it in QGIS so distances can be measured.")
    source = CRS.from_user_input(crs)
    if source.is_geographic:
        n = xy.shape[0]
        i, j = np.triu_indices(n, 1)
        _, _, dist = Geod(ellps="WGS84").inv(xy[i, 0], xy[i, 1], xy[j, 0], xy[j, 1])
        out = np.zeros((n, n))
        out[i, j] = out[j, i] = dist
        return out
    unit = source.axis_info[0].unit_name if source.axis_info else "metre"
    if unit not in ("metre", "meter"):
        raise UserInputError(f"The sensor layer's CRS uses {unit}; reproject it to a CRS in metres or to WGS 84.")
    from scipy.spatial.distance import cdist

    return cdist(xy, xy)
