"""GDAL subdataset names: one variable of a NetCDF (or HDF) file, written ``NETCDF:"/path/file.nc":t2m``.

Kept free of rasterio so that request checks can read them without starting GDAL."""

from __future__ import annotations

import re
from pathlib import Path

_SUBDATASET = re.compile(
    r'^(?P<driver>NETCDF|HDF5|HDF4_SDS|HDF4_EOS):"?(?P<path>.+?)"?:(?P<variable>[^:"]+)$', re.IGNORECASE
)
_DRIVER_BY_SUFFIX = {
    ".nc": "NETCDF",
    ".nc4": "NETCDF",
    ".cdf": "NETCDF",
    ".h5": "HDF5",
    ".hdf5": "HDF5",
    ".he5": "HDF5",
}


def subdataset_name(path: str | Path, variable: str) -> str:
    """The GDAL name of ``variable`` in the NetCDF/HDF5 file ``path``."""
    from backend.errors import UserInputError

    driver = _DRIVER_BY_SUFFIX.get(Path(path).suffix.lower())
    if driver is None:
        raise UserInputError(
            f"VARIABLE ({variable!r}) chooses a variable of a NetCDF or HDF5 file; "
            f"{Path(path).name} is neither (.nc, .nc4, .h5). Leave VARIABLE empty for other rasters."
        )
    return f'{driver}:"{Path(path).absolute()}":{variable}'


def file_of(name: str) -> str:
    """The file behind a GDAL name: the path inside a subdataset name, else ``name`` itself."""
    match = _SUBDATASET.match(str(name))
    return match.group("path") if match else str(name)


def variable_of(name: str) -> str | None:
    """The variable of a subdataset name (None for a plain file)."""
    match = _SUBDATASET.match(str(name))
    return match.group("variable") if match else None


def absolute_name(name: str) -> str:
    """``name`` with its file as an absolute path (a plain file or a subdataset name), so that another process
    with another working folder (a dask worker) opens the same file; URLs and /vsi paths are kept."""
    file = file_of(name)
    if "://" in file or file.startswith("/vsi") or Path(file).is_absolute():
        return str(name)
    absolute = str(Path(file).absolute())
    match = _SUBDATASET.match(str(name))
    return f'{match.group("driver")}:"{absolute}":{match.group("variable")}' if match else absolute
