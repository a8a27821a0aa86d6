"""Repeated station-times (as loop-detector and logger exports have): refused with a name, or merged by DUPLICATES."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from backend.commands import run_command
from backend.data.duplicates import DUPLICATE_RULES, merge_duplicates
from backend.data.point_io import PointLayerRef, read_long_points
from backend.errors import UserInputError
from backend.progress import Reporter
from tests.paths import PM10_Q1

EXPECTED = {"mean": 15.0, "median": 15.0, "first": 10.0, "last": 20.0, "sum": 30.0}


class Log(Reporter):
    def __init__(self):
        self.lines = []

    def log(self, message, level="info"):
        self.lines.append(message)


@pytest.fixture
def repeated_layer(tmp_path):
    """The PM10 sample with three readings of DEBB053 on 2005-01-02 (10, 20 and the original replaced)."""
    frame = gpd.read_file(PM10_Q1)
    target = (frame["station_id"] == "DEBB053") & (frame["date"].astype(str).str.startswith("2005-01-02"))
    row = frame[target].iloc[[0]]
    frame.loc[target, "pm10"] = 10.0
    extra = row.copy()
    extra["pm10"] = 20.0
    frame = pd.concat([frame, extra], ignore_index=True)
    path = tmp_path / "repeated.gpkg"
    frame.to_file(path, driver="GPKG")
    return path


def test_refuse_names_the_station_time_and_the_parameter(repeated_layer):
    with pytest.raises(
        UserInputError,
        match="2 features repeat a station-time, e.g. station DEBB053 at 2005-01-02T00:00:00.*DUPLICATES",
    ):
        read_long_points(PointLayerRef(str(repeated_layer)), "station_id", "date", "pm10")


@pytest.mark.parametrize("rule", [r for r in DUPLICATE_RULES if r != "refuse"])
def test_each_rule_merges_the_repeated_readings_and_says_so(repeated_layer, rule):
    log = Log()
    panel = read_long_points(
        PointLayerRef(str(repeated_layer)), "station_id", "date", "pm10", duplicates=rule, reporter=log
    )
    station = int(np.flatnonzero(panel.ids == "DEBB053")[0])
    day = int(np.flatnonzero(panel.times == np.datetime64("2005-01-02T00:00:00"))[0])
    assert panel.values[station, day] == pytest.approx(EXPECTED[rule])
    assert panel.values.shape == (68, 90)
    assert log.lines == [f"2 features at 1 repeated station-times merged into one each ({rule})."]


def test_all_missing_repeats_stay_missing_and_sum_is_not_zero():
    readings = pd.DataFrame(
        {"id": ["a", "a", "b"], "time": pd.to_datetime(["2020-01-01"] * 3), "value": [np.nan, np.nan, 1.0]}
    )
    assert np.isnan(merge_duplicates(readings, "sum")["value"].iloc[0])
    assert np.isnan(merge_duplicates(readings, "mean")["value"].iloc[0])


@pytest.mark.parametrize(
    "command, extra",
    [
        ("describespacetime", {"output_html": "r.html"}),
        ("timeseriesdiagnostics", {"output": "d.gpkg"}),
        ("detectpointanomalies", {"output": "a.gpkg"}),
    ],
)
def test_point_commands_run_with_duplicates_merged(repeated_layer, tmp_path, command, extra):
    points = {
        "path": str(repeated_layer),
        "id_field": "station_id",
        "time_field": "date",
        "value_field": "pm10",
        "duplicates": "median",
    }
    source = {"source": {"points": points}} if command == "timeseriesdiagnostics" else {"points": points}
    if command == "detectpointanomalies":  # 90 days: too short for the default seasonal profile
        source["detection"] = {"method": "rolling_median"}
    result = run_command(command, {**source, **{k: str(tmp_path / v) for k, v in extra.items()}})
    assert all(p and (tmp_path / p).exists() for p in (v for v in extra.values()))
    assert result.outputs


def test_sensor_tables_merge_repeated_rows(tmp_path):
    from backend.data.sensor_io import read_sensors_and_table

    sensors = gpd.GeoDataFrame(
        {"sensor_id": ["s1", "s2"]}, geometry=gpd.points_from_xy([0, 1000], [0, 0]), crs="EPSG:32632"
    )
    sensors.to_file(tmp_path / "sensors.gpkg", driver="GPKG")
    table = pd.DataFrame(
        {
            "sensor_id": ["s1", "s1", "s2", "s1"],
            "time": ["2020-01-01T00:00", "2020-01-01T00:05", "2020-01-01T00:00", "2020-01-01T00:05"],
            "speed": [50.0, 60.0, 40.0, 70.0],
        }
    )
    table.to_csv(tmp_path / "obs.csv", index=False)
    with pytest.raises(UserInputError, match="2 rows repeat a station-time.*DUPLICATES"):
        read_sensors_and_table(
            PointLayerRef(str(tmp_path / "sensors.gpkg")), "sensor_id", str(tmp_path / "obs.csv"), "time", "speed"
        )
    panel = read_sensors_and_table(
        PointLayerRef(str(tmp_path / "sensors.gpkg")),
        "sensor_id",
        str(tmp_path / "obs.csv"),
        "time",
        "speed",
        duplicates="last",
    )
    assert panel.values[0].tolist() == [50.0, 70.0]
