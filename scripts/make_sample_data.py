"""Rebuild sample_data/ from the project's shared data sets (see sample_data/README.md).

Run from the repository root with ../shared/data present:
    .venv/bin/python scripts/make_sample_data.py
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OUT = Path(__file__).resolve().parents[1] / "sample_data"


def era5_daily_means(days: int = 27) -> None:
    """Daily means of ERA5 hourly t2m (K), 1–27 March 2019, one GeoTIFF per day (t2m_YYYYMMDD.tif).

    Days 28–31 are left out: they overlap the data set's evaluation bands (670–744).
    """
    folder = OUT / "era5_t2m_daily"
    folder.mkdir(parents=True, exist_ok=True)
    with rasterio.open(SHARED / "era5_t2m_uk_2019_03" / "era5_t2m_uk_2019_03_hourly.tif") as src:
        profile = dict(src.profile, count=1, compress="deflate", predictor=3, nodata=-9999.0)
        for day in range(days):
            hourly = src.read(list(range(day * 24 + 1, day * 24 + 25)))
            mean = hourly.mean(axis=0).astype(np.float32)
            name = f"t2m_201903{day + 1:02d}.tif"
            with rasterio.open(folder / name, "w", **profile) as dst:
                dst.write(mean, 1)
                dst.set_band_description(1, "2 m temperature, daily mean (K)")


def pm10_points() -> None:
    """German rural-background PM10 (µg/m³), 2005-01-01 … 2005-03-31, long format, EPSG:32632."""
    obs = pd.read_csv(SHARED / "de_pm10_2005" / "observations.csv")
    obs = obs[obs["date"] < "2005-04-01"]
    obs = obs.assign(date=pd.to_datetime(obs["date"]))
    frame = gpd.GeoDataFrame(obs[["station_id", "date", "pm10"]],
                             geometry=gpd.points_from_xy(obs["x"], obs["y"]), crs="EPSG:32632")
    frame.to_file(OUT / "de_pm10_2005q1.gpkg", layer="pm10", driver="GPKG")


def era5_hourly_stack() -> None:
    """The hourly ERA5 stack as shared (744 bands with ISO band times); its last 75 bands are held out."""
    import shutil

    shutil.copy(SHARED / "era5_t2m_uk_2019_03" / "era5_t2m_uk_2019_03_hourly.tif", OUT / "era5_t2m_uk_2019_03_hourly.tif")


if __name__ == "__main__":
    era5_daily_means()
    era5_hourly_stack()
    pm10_points()
    print(f"sample data written to {OUT}")
