"""Monthly station layers made from daily series (sample data or ../shared/data), as analysts bring them:
one feature per station and month, dated on the first of the month."""

from pathlib import Path

import geopandas as gpd
import pandas as pd

from tests.paths import SAMPLE, shared


def monthly_means(daily: pd.DataFrame, value: str) -> pd.DataFrame:
    """station_id, date (first of the month, ISO text), ``value`` (monthly mean) and lon/lat or x/y kept."""
    daily = daily.assign(date=pd.to_datetime(daily["date"]).dt.to_period("M").dt.to_timestamp())
    coordinates = [c for c in ("lon", "lat", "x", "y") if c in daily.columns]
    monthly = daily.groupby(["station_id", "date"], as_index=False).agg(
        **{value: (value, "mean")}, **{c: (c, "first") for c in coordinates}
    )
    return monthly.assign(date=monthly["date"].dt.strftime("%Y-%m-%d"))


def write_points(frame: pd.DataFrame, path: Path, x: str, y: str, crs: str) -> Path:
    gpd.GeoDataFrame(frame.drop(columns=[x, y]), geometry=gpd.points_from_xy(frame[x], frame[y]), crs=crs).to_file(
        path, driver="GPKG"
    )
    return path


def irish_wind_monthly(folder: Path, full: bool) -> tuple[Path, pd.DataFrame]:
    """Monthly mean wind speed (knots) at the 12 Irish stations: 1961–1978 from ../shared/data (``full``) or
    1976–1978 from the repository's sample; the GeoPackage (EPSG:4326) and its table."""
    if full:
        daily = pd.read_csv(shared("ireland_wind/observations.csv"))
    else:
        sample = gpd.read_file(SAMPLE / "ireland_wind_1976_1978.gpkg")
        daily = pd.DataFrame(
            {
                "station_id": sample["station_id"],
                "date": sample["date"],
                "wind_speed_knots": sample["wind_speed_knots"],
                "lon": sample.geometry.x,
                "lat": sample.geometry.y,
            }
        )
    monthly = monthly_means(daily, "wind_speed_knots")
    return write_points(monthly, folder / "ireland_wind_monthly.gpkg", "lon", "lat", "EPSG:4326"), monthly
