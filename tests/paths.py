"""Locations of the repository's sample data and the project's shared data sets."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
ERA5_DAILY = SAMPLE / "era5_t2m_daily"
PM10_Q1 = SAMPLE / "de_pm10_2005q1.gpkg"
SHARED_DATA = REPO.parent / "shared" / "data"


def shared(relative: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data set not available: {path} (the tests read ../shared/data when present)")
    return path
