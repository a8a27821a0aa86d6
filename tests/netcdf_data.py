"""A NetCDF file with two variables on a time axis (as ERA5/CHIRPS downloads are), written with scipy."""

from pathlib import Path

import numpy as np


def write_two_variable_netcdf(path: Path, steps: int = 6, months: bool = False) -> Path:
    """t2m (K) and tp (m) on 4 × 6 cells at 0.25°, daily from 2019-03-01 or monthly (``months``) from 2019-01."""
    from scipy.io import netcdf_file

    with netcdf_file(path, "w") as nc:
        nc.createDimension("time", steps)
        nc.createDimension("lat", 4)
        nc.createDimension("lon", 6)
        time = nc.createVariable("time", "d", ("time",))
        if months:  # days since 2019-01-01 of the first of each month
            firsts = np.arange("2019-01", np.datetime64("2019-01") + steps, dtype="datetime64[M]")
            time[:] = (firsts.astype("datetime64[D]") - np.datetime64("2019-01-01")).astype(float)
            time.units = b"days since 2019-01-01 00:00:00"
        else:
            time[:] = np.arange(steps) * 24.0
            time.units = b"hours since 2019-03-01 00:00:00"
        time.calendar = b"standard"
        lat = nc.createVariable("lat", "d", ("lat",))
        lat[:] = [55.0, 54.75, 54.5, 54.25]
        lat.units = b"degrees_north"
        lon = nc.createVariable("lon", "d", ("lon",))
        lon[:] = np.arange(6) * 0.25 - 5.0
        lon.units = b"degrees_east"
        t2m = nc.createVariable("t2m", "f", ("time", "lat", "lon"))
        t2m[:] = 270.0 + np.arange(steps * 24, dtype="f").reshape(steps, 4, 6) / 10
        t2m.units = b"K"
        tp = nc.createVariable("tp", "f", ("time", "lat", "lon"))
        tp[:] = np.arange(steps * 24, dtype="f").reshape(steps, 4, 6) / 1000
        tp.units = b"m"
    return path
