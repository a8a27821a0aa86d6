"""Loop-detector readings with repeated timestamps (as exports of such sensors have) through every algorithm
that reads station readings, with each DUPLICATES rule.

Data: 8 METR-LA sensors of the repository's subset (real positions, projected to UTM 11N), 4 hours of 5-min
speeds in long format, with 5 station-times logged twice with another speed."""

import importlib.util
import os

import geopandas as gpd
import pandas as pd
import pytest

from backend.commands import run_command
from backend.data.duplicates import DUPLICATE_RULES
from backend.errors import UserInputError
from tests.collect import CollectingReporter
from tests.paths import SAMPLE

MERGE_RULES = [rule for rule in DUPLICATE_RULES if rule != "refuse"]
REPEATS = 5
COMMANDS = [
    "describespacetime",
    "timeseriesdiagnostics",
    "timeseriesclustering",
    "emerginghotspots",
    "detectpointanomalies",
    "fitstvariogram",
    "stkrigingcv",
    "stkriging",
    "trainnetworkforecaster",
    "forecastnetwork",
]
TORCH = ("trainnetworkforecaster", "forecastnetwork")
SMALL_TRAINING = {"lookback": 4, "horizon": 2, "epochs": 1, "hidden": 8, "max_batches_per_epoch": 2}


@pytest.fixture(scope="module")
def repeated_readings(tmp_path_factory):
    sensors = gpd.read_file(SAMPLE / "metr_la_subset" / "sensors.gpkg").iloc[:8].to_crs("EPSG:32611")
    wide = pd.read_csv(SAMPLE / "metr_la_subset" / "speed_wide.csv").iloc[:48]
    long = wide.melt(
        id_vars="time", value_vars=list(sensors["sensor_id"].astype(str)), var_name="sensor_id", value_name="speed"
    )
    long = long[long["speed"] > 0]  # 0 = missing in METR-LA
    repeated = long.sample(REPEATS, random_state=3).assign(speed=lambda f: f["speed"] + 7.0)
    long = pd.concat([long, repeated], ignore_index=True)
    position = sensors.set_index(sensors["sensor_id"].astype(str)).geometry
    layer = gpd.GeoDataFrame(long, geometry=list(position.loc[long["sensor_id"]]), crs="EPSG:32611")
    path = tmp_path_factory.mktemp("repeated") / "speeds.gpkg"
    layer.to_file(path, driver="GPKG")
    return str(path)


def points_input(path: str, rule: str) -> dict:
    return {"path": path, "id_field": "sensor_id", "time_field": "time", "value_field": "speed", "duplicates": rule}


def request_for(command: str, points: dict, folder, model: str | None = None) -> dict:
    """The request of ``command`` on ``points`` (outputs in ``folder``; ``model``: a network forecaster)."""
    sensors = {"id_field": "sensor_id", "points": points}
    return {
        "describespacetime": {"points": points, "output_html": str(folder / "d.html")},
        "timeseriesdiagnostics": {"source": {"points": points}, "output": str(folder / "t.gpkg")},
        "timeseriesclustering": {"source": {"points": points}, "output": str(folder / "c.gpkg")},
        "emerginghotspots": {"source": {"points": points}, "output": str(folder / "h.gpkg"), "time_step": "30min"},
        "detectpointanomalies": {"points": points, "output": str(folder / "a.gpkg")},
        "fitstvariogram": {
            "points": points,
            "output_model": str(folder / "m.json"),
            "variogram": {"model": "separable", "tlags": 2},
        },
        "stkrigingcv": {"points": points, "output_table": str(folder / "cv.gpkg")},
        "stkriging": {
            "points": points,
            "output": str(folder / "k.tif"),
            "grid": {
                "xmin": 374000,
                "ymin": 3774000,
                "xmax": 384000,
                "ymax": 3782000,
                "pixel_size": 2000,
                "step": "1h",
            },
        },
        "trainnetworkforecaster": {"sensors": sensors, "output_model": str(folder / "net"), "config": SMALL_TRAINING},
        "forecastnetwork": {"sensors": sensors, "model": model, "output": str(folder / "f.gpkg")},
    }[command]


@pytest.fixture(scope="module")
def network_model(repeated_readings, tmp_path_factory):
    if importlib.util.find_spec("torch") is None:
        return None
    folder = tmp_path_factory.mktemp("network")
    run_command(
        "trainnetworkforecaster", request_for("trainnetworkforecaster", points_input(repeated_readings, "mean"), folder)
    )
    return str(folder / "net")


@pytest.mark.parametrize("command", COMMANDS)
def test_repeated_readings_are_refused_by_default_with_the_parameter_named(
    repeated_readings, network_model, command, tmp_path
):
    if command in TORCH and network_model is None:
        pytest.skip("torch is not installed in this environment (the host run covers the network forecaster)")
    with pytest.raises(UserInputError, match="repeat a station-time.*DUPLICATES"):
        run_command(command, request_for(command, points_input(repeated_readings, "refuse"), tmp_path, network_model))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rule", MERGE_RULES)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_rule_runs_through_every_station_algorithm(repeated_readings, network_model, command, rule, tmp_path):
    if command in TORCH and network_model is None:
        pytest.skip("torch is not installed in this environment (the host run covers the network forecaster)")
    reporter = CollectingReporter()
    result = run_command(
        command, request_for(command, points_input(repeated_readings, rule), tmp_path, network_model), reporter
    )
    assert result.outputs and all(os.path.exists(path) for path in result.outputs.values())
    assert any(
        f"{2 * REPEATS} features at {REPEATS} repeated station-times merged into one each ({rule})" in m
        for m in reporter.messages
    ), reporter.messages
