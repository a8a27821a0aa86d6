"""Monthly data through real `qgis_process` runs: trends equal pymannkendall, hot spots per month, anomalies."""

import geopandas as gpd
import pandas as pd
import pytest

from tests.monthly_data import irish_wind_monthly, write_points
from tests.paths import SHARED_DATA, shared

pytestmark = pytest.mark.qgis_process


def ok(done):
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_monthly_wind_trends_equal_pymannkendall(qgis_process, tmp_path):
    """Monthly means of the 12 Irish stations, 1961–1978 (../shared/data; the 1976–1978 sample without it)."""
    mk = pytest.importorskip("pymannkendall", reason="pymannkendall (the reference) is not installed here")
    full = (SHARED_DATA / "ireland_wind" / "observations.csv").exists()
    layer, table = irish_wind_monthly(tmp_path, full)
    done = ok(
        qgis_process(
            "run",
            "stanalyzer:timeseriesdiagnostics",
            "--",
            f"INPUT={layer}",
            "ID_FIELD=station_id",
            "TIME_FIELD=date",
            "VALUE_FIELD=wind_speed_knots",
            f"OUTPUT={tmp_path / 'trends.gpkg'}",
        )
    )
    assert "irregular" not in done.stdout and "Time step 1 month" in done.stdout
    result = gpd.read_file(tmp_path / "trends.gpkg").set_index("station_id")
    assert len(result) == 12 and (result["n_values"] == (216 if full else 36)).all()
    for station, part in table.groupby("station_id"):
        series = part.sort_values("date")["wind_speed_knots"].to_numpy()
        original, seasonal = mk.original_test(series), mk.seasonal_test(series, period=12)
        row = result.loc[station]
        assert abs(row["mk_p"] - original.p) < 1e-6 and abs(row["trend_slope"] - original.slope) < 1e-6
        assert abs(row["seasonal_mk_p"] - seasonal.p) < 1e-6
        assert abs(row["seasonal_slope_per_year"] - seasonal.slope) < 1e-6


def test_monthly_pm10_1998_2007_gives_one_hot_spot_category_per_station(qgis_process, tmp_path):
    daily = pd.read_csv(shared("de_pm10_1998_2007/observations.csv"))
    layer = write_points(
        daily[["station_id", "x", "y", "date", "pm10"]], tmp_path / "pm10_daily.gpkg", "x", "y", "EPSG:32632"
    )
    done = ok(
        qgis_process(
            "run",
            "stanalyzer:emerginghotspots",
            "--",
            f"INPUT={layer}",
            "ID_FIELD=station_id",
            "TIME_FIELD=date",
            "VALUE_FIELD=pm10",
            "TIME_STEP=1M",
            f"OUTPUT={tmp_path / 'hot.gpkg'}",
        )
    )
    assert "to 120 steps of 1 month (mean)" in done.stdout
    hot = gpd.read_file(tmp_path / "hot.gpkg")
    stations = daily["station_id"].nunique()
    assert len(hot) == stations and hot["station_id"].is_unique
    assert hot["category"].notna().all() and (hot["category"] != "").all()


def test_point_anomalies_default_on_the_sample_picks_a_method_and_says_why(qgis_process, tmp_path):
    from tests.qgis.data import PM10_Q1

    done = ok(
        qgis_process(
            "run",
            "stanalyzer:detectpointanomalies",
            "--",
            f"INPUT={PM10_Q1}",
            "ID_FIELD=station_id",
            "TIME_FIELD=date",
            "VALUE_FIELD=pm10",
            f"OUTPUT={tmp_path / 'a.gpkg'}",
        )
    )
    assert (
        "METHOD auto: rolling median (window 21 days, 7 days) for 68 station(s)" in done.stdout
        and "too short for a seasonal" in done.stdout
    )
    refused = qgis_process(
        "run",
        "stanalyzer:detectpointanomalies",
        "--",
        f"INPUT={PM10_Q1}",
        "ID_FIELD=station_id",
        "TIME_FIELD=date",
        "VALUE_FIELD=pm10",
        "METHOD=4",
        f"OUTPUT={tmp_path / 'b.gpkg'}",
    )
    assert refused.returncode != 0 and "too short for a seasonal profile" in refused.stdout + refused.stderr
    assert not (tmp_path / "b.gpkg").exists()
