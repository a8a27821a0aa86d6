"""Every analysis algorithm runs with its defaults on the repository's sample data, as a new user first tries it.

Only what a user must choose is given: the input layer or stack, and for point layers the id, time and value
fields (a model folder for the forecast algorithms, trained here). Training runs 1 epoch (default 30) with few
batches to keep the suite short; every other parameter keeps its default. Not in the loop: `setupbackend`
(installs packages; its own tests cover it) and the example models (tests/qgis/test_models.py)."""

import importlib.util
import os

import pytest
from qgis.core import QgsProcessingParameterFolderDestination

from tests.qgis.data import ERA5_DAILY, PM10_Q1, SAMPLE_COPY

PM10 = {"INPUT": str(PM10_Q1), "ID_FIELD": "station_id", "TIME_FIELD": "date", "VALUE_FIELD": "pm10"}
METR = {
    "SENSORS": str(SAMPLE_COPY / "metr_la_subset" / "sensors.gpkg"),
    "ID_FIELD": "sensor_id",
    "OBSERVATIONS": str(SAMPLE_COPY / "metr_la_subset" / "speed_wide.csv"),
}
SHORT_TRAINING = {"EPOCHS": 1}
NOT_IN_LOOP = {"stanalyzer:setupbackend"}
SLOW_DEFAULTS = {"stkriging"}  # a 100 × 100 px grid for each of the 90 days: about a minute on 2 cores
TORCH = ("trainrasterforecaster", "forecastraster", "trainnetworkforecaster", "forecastnetwork")
STATSFORECAST = importlib.util.find_spec("statsforecast") is not None  # the backend runs this Python
NEEDS_STATSFORECAST = ("forecastbylocation", "evaluateforecasts")


def user_choices(stack: str, models: dict) -> dict[str, dict]:
    """Algorithm id → the parameters a user must choose (everything else stays at its default)."""
    return {
        "buildrasterstack": {"FOLDER": str(ERA5_DAILY)},
        "describespacetime": PM10,
        "fitstvariogram": PM10,
        "stkriging": PM10,
        "stkrigingcv": PM10,
        "detectpointanomalies": PM10,
        "timeseriesdiagnostics": PM10,
        "timeseriesclustering": PM10,
        "emerginghotspots": PM10,
        "forecastbylocation": PM10,
        "localoutliers": PM10,
        "evaluateforecasts": {**PM10, "FORECASTS": models.get("forecasts")},
        "detectrasteranomalies": {"INPUT": stack},
        "baselineforecast": {"INPUT": stack},
        "trainrasterforecaster": {"INPUT": stack, **SHORT_TRAINING},
        "forecastraster": {"INPUT": stack, "MODEL": models.get("raster")},
        "trainnetworkforecaster": {**METR, **SHORT_TRAINING, "BATCHES_PER_EPOCH": 5},
        "forecastnetwork": {**METR, "MODEL": models.get("network")},
    }


def with_outputs(alg, params: dict, folder) -> dict:
    """Required outputs as temporary outputs (folders inside ``folder``), as the toolbox fills them."""
    out = dict(params)
    for definition in alg.destinationParameterDefinitions():
        if definition.name() in out or definition.flags() & definition.FlagOptional:
            continue
        is_folder = isinstance(definition, QgsProcessingParameterFolderDestination)
        out[definition.name()] = str(folder / definition.name().lower()) if is_folder else "TEMPORARY_OUTPUT"
    return out


@pytest.fixture(scope="module")
def trained_models(provider, small_stack, tmp_path_factory):
    """Model folders for the forecast algorithms (without torch: none) and two station forecasts of PM10's last
    week from the weeks before (for evaluateforecasts)."""
    import geopandas as gpd
    import processing

    folder = tmp_path_factory.mktemp("models")
    sample = gpd.read_file(PM10_Q1)
    history = folder / "pm10_until_0324.gpkg"
    sample[sample["date"].astype(str) <= "2005-03-24"].to_file(history)
    forecasts = []
    for method in (2, 5) if STATSFORECAST else ():  # ETS and seasonal naive: quick
        forecasts.append(str(folder / f"forecast_{method}.gpkg"))
        processing.run(
            "stanalyzer:forecastbylocation",
            {**PM10, "INPUT": str(history), "METHOD": method, "VALIDATION_STEPS": 0, "OUTPUT": forecasts[-1]},
        )
    if importlib.util.find_spec("torch") is None:
        return {"forecasts": forecasts}
    raster = processing.run(
        "stanalyzer:trainrasterforecaster",
        {"INPUT": small_stack, **SHORT_TRAINING, "OUTPUT_MODEL": str(folder / "raster")},
    )
    network = processing.run(
        "stanalyzer:trainnetworkforecaster",
        {**METR, **SHORT_TRAINING, "BATCHES_PER_EPOCH": 5, "OUTPUT_MODEL": str(folder / "network")},
    )
    return {"raster": raster["OUTPUT_MODEL"], "network": network["OUTPUT_MODEL"], "forecasts": forecasts}


def test_the_loop_covers_every_algorithm(provider):
    covered = {f"stanalyzer:{name}" for name in user_choices("", {})} | NOT_IN_LOOP
    algorithms = {alg.id() for alg in provider.algorithms() if not alg.id().split(":")[1].count("_")}
    assert algorithms <= covered, f"add the new algorithms to the defaults loop: {sorted(algorithms - covered)}"


@pytest.mark.parametrize("name", sorted(user_choices("", {})))
def test_algorithm_runs_with_its_defaults_on_sample_data(
    name, provider, run_alg, small_stack, trained_models, tmp_path
):
    if name in TORCH and importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed in this environment (the host run covers the torch algorithms)")
    if name in NEEDS_STATSFORECAST and not STATSFORECAST:
        pytest.skip("statsforecast has no wheel for this Python here (the host run covers forecasting by location)")
    if name in SLOW_DEFAULTS and os.environ.get("ST_ANALYZER_TEST_MATRIX"):
        pytest.skip("the host run covers this slow default; the QGIS version matrix runs it in the README examples")
    alg = provider.algorithm(name)
    params = with_outputs(alg, user_choices(small_stack, trained_models)[name], tmp_path)
    results = run_alg(f"stanalyzer:{name}", params)
    assert results and all(
        value
        for key, value in results.items()
        if key in params and key.startswith("OUTPUT") and params[key] == "TEMPORARY_OUTPUT"
    )
