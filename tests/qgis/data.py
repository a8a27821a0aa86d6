"""Copies of the sample data for QGIS tests: QGIS opens GeoPackages for update and may rewrite them."""

import atexit
import shutil
import tempfile
from pathlib import Path

from tests.paths import SAMPLE

_COPY = Path(tempfile.mkdtemp(prefix="st_analyzer_sample_"))


def remove_copy() -> None:
    """Delete the copies (at exit; the test session's end calls it too, as it leaves by os._exit)."""
    shutil.rmtree(_COPY, ignore_errors=True)


atexit.register(remove_copy)
shutil.copytree(SAMPLE, _COPY / "sample_data")

ERA5_DAILY = _COPY / "sample_data" / "era5_t2m_daily"
PM10_Q1 = _COPY / "sample_data" / "de_pm10_2005q1.gpkg"
SAMPLE_COPY = _COPY / "sample_data"
