import numpy as np
import pytest
import rasterio
from affine import Affine

from tests.paths import ERA5_DAILY


@pytest.fixture
def write_raster(tmp_path):
    """write_raster(name, values_hw, transform=None, crs='EPSG:4326', **tags) → path of a 1-band GeoTIFF."""

    def write(name, values, transform=None, crs="EPSG:4326", nodata=None, description=None, **tags):
        values = np.asarray(values, dtype=np.float32)
        values = values[None] if values.ndim == 2 else values
        path = tmp_path / name
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=values.shape[2],
            height=values.shape[1],
            count=values.shape[0],
            dtype="float32",
            crs=crs,
            nodata=nodata,
            transform=transform or Affine(0.25, 0, -10.125, 0, -0.25, 58.125),
        ) as dst:
            dst.write(values)
            if description:
                for band, text in enumerate(description, start=1):
                    dst.set_band_description(band, text)
            if tags:
                dst.update_tags(**tags)
        return path

    return write


@pytest.fixture
def era5_daily_files():
    files = sorted(ERA5_DAILY.glob("t2m_*.tif"))
    assert len(files) == 27, "sample_data/era5_t2m_daily should hold 27 daily files"
    return files
