"""Copies of the sample data for QGIS tests: QGIS opens GeoPackages for update and may rewrite them."""

import atexit
import shutil
import tempfile
from pathlib import Path

from tests.paths import SAMPLE

_COPY = Path(tempfile.mkdtemp(prefix="st_analyzer_sample_"))
atexit.register(shutil.rmtree, _COPY, ignore_errors=True)
shutil.copytree(SAMPLE, _COPY / "sample_data")

ERA5_DAILY = _COPY / "sample_data" / "era5_t2m_daily"
PM10_Q1 = _COPY / "sample_data" / "de_pm10_2005q1.gpkg"
SAMPLE_COPY = _COPY / "sample_data"
