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
    frame = gpd.GeoDataFrame(
        obs[["station_id", "date", "pm10"]], geometry=gpd.points_from_xy(obs["x"], obs["y"]), crs="EPSG:32632"
    )
    frame.to_file(OUT / "de_pm10_2005q1.gpkg", layer="pm10", driver="GPKG")


def era5_hourly_stack() -> None:
    """The hourly ERA5 stack as shared (744 bands with ISO band times); its last 75 bands are held out."""
    import shutil

    shutil.copy(
        SHARED / "era5_t2m_uk_2019_03" / "era5_t2m_uk_2019_03_hourly.tif", OUT / "era5_t2m_uk_2019_03_hourly.tif"
    )


def metr_la_subset(n_sensors: int = 30, days: int = 10) -> None:
    """METR-LA speeds (mph, 0 = missing): the 30 sensors nearest the network's centre, 2012-03-01 … 03-10,
    as a SENSORS layer (EPSG:4326), a wide observation CSV and the DCRNN edges among them."""
    folder = OUT / "metr_la_subset"
    folder.mkdir(exist_ok=True)
    data = np.load(SHARED / "metr_la" / "speed_train_val.npz", allow_pickle=False)
    sensors = pd.read_csv(SHARED / "metr_la" / "sensors.csv")
    centre = sensors[["lon", "lat"]].median().to_numpy()
    nearest = np.argsort(np.hypot(*(sensors[["lon", "lat"]].to_numpy() - centre).T))[:n_sensors]
    nearest = np.sort(nearest)
    chosen = sensors.iloc[nearest]
    gpd.GeoDataFrame(
        chosen[["sensor_id"]], geometry=gpd.points_from_xy(chosen["lon"], chosen["lat"]), crs="EPSG:4326"
    ).to_file(folder / "sensors.gpkg", layer="sensors", driver="GPKG")
    steps = days * 288
    wide = pd.DataFrame(data["speed"][:steps, nearest], columns=chosen["sensor_id"].astype(str))
    wide.insert(0, "time", data["time"][:steps])
    wide.round(3).to_csv(folder / "speed_wide.csv", index=False)
    edges = pd.read_csv(SHARED / "metr_la" / "adj_dcrnn.csv")
    keep = set(chosen["sensor_id"])
    edges[edges["from"].isin(keep) & edges["to"].isin(keep)].to_csv(folder / "edges.csv", index=False)


def ireland_wind_points(first: str = "1976-01-01") -> None:
    """Irish daily mean wind speed (knots), 12 stations, 1976-01-01 … 1978-12-31, long point layer (EPSG:4326)."""
    obs = pd.read_csv(SHARED / "ireland_wind" / "observations.csv")
    obs = obs[obs["date"] >= first].assign(date=lambda f: pd.to_datetime(f["date"]))
    frame = gpd.GeoDataFrame(
        obs[["station_id", "date", "wind_speed_knots"]],
        geometry=gpd.points_from_xy(obs["lon"], obs["lat"]),
        crs="EPSG:4326",
    )
    frame.to_file(OUT / "ireland_wind_1976_1978.gpkg", layer="wind", driver="GPKG")


if __name__ == "__main__":
    metr_la_subset()
    ireland_wind_points()
    era5_daily_means()
    era5_hourly_stack()
    pm10_points()
    print(f"sample data written to {OUT}")
