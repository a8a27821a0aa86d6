"""Sensor-network forecasting through processing.run and a real qgis_process run."""

import geopandas as gpd
import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProject, QgsVectorLayerTemporalProperties

from tests.qgis.data import SAMPLE_COPY

pytest.importorskip("torch")
METR = SAMPLE_COPY / "metr_la_subset"
SENSOR_INPUT = {
    "SENSORS": str(METR / "sensors.gpkg"),
    "ID_FIELD": "sensor_id",
    "OBSERVATIONS": str(METR / "speed_wide.csv"),
    "MISSING_VALUE": 0,
}


def train(run_alg, folder):
    run_alg(
        "stanalyzer:trainnetworkforecaster",
        {
            **SENSOR_INPUT,
            "GRAPH": 2,
            "EDGES": str(METR / "edges.csv"),
            "MODEL_TYPE": 0,
            "LOOKBACK": 6,
            "HORIZON": 3,
            "EPOCHS": 1,
            "HIDDEN": 8,
            "BATCHES_PER_EPOCH": 4,
            "DEVICE": 1,
            "OUTPUT_MODEL": str(folder / "model"),
            "OUTPUT_REPORT": str(folder / "report.html"),
        },
    )
    assert (folder / "report.html").exists()
    return folder / "model"


def test_train_then_forecast_layer_loads_with_feature_times(run_alg, tmp_path):
    model = train(run_alg, tmp_path)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    output = str(tmp_path / "forecast.gpkg")
    context.addLayerToLoadOnCompletion(output, QgsProcessingContext.LayerDetails("forecast", QgsProject.instance()))
    result = run_alg(
        "stanalyzer:forecastnetwork", {**SENSOR_INPUT, "MODEL": str(model), "OUTPUT": output}, context=context
    )
    frame = gpd.read_file(result["OUTPUT"])
    assert len(frame) == 90 and set(frame["step"]) == {1, 2, 3}
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(output, "forecast")
    details = context.layerToLoadOnCompletionDetails(output)
    details.postProcessor().postProcessLayer(layer, context, None)
    temporal = layer.temporalProperties()
    assert temporal.isActive() and temporal.startField() == "time"
    assert temporal.mode() == QgsVectorLayerTemporalProperties.ModeFeatureDateTimeInstantFromField
    assert layer.renderer().classAttribute() == "forecast"


def test_missing_inputs_are_clear(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="Give SENSORS"):
        run_alg(
            "stanalyzer:forecastnetwork",
            {"ID_FIELD": "sensor_id", "MODEL": str(tmp_path), "OUTPUT": str(tmp_path / "f.gpkg")},
        )


@pytest.mark.qgis_process
def test_network_forecast_with_qgis_process(qgis_process, tmp_path):
    wind = SAMPLE_COPY / "ireland_wind_1976_1978.gpkg"
    done = qgis_process(
        "run",
        "stanalyzer:trainnetworkforecaster",
        "--",
        f"INPUT={wind}",
        "ID_FIELD=station_id",
        "TIME_FIELD=date",
        "VALUE_FIELD=wind_speed_knots",
        "GRAPH=1",
        "K_NEIGHBOURS=3",
        "MODEL_TYPE=2",
        "LOOKBACK=7",
        "HORIZON=2",
        "EPOCHS=1",
        "HIDDEN=8",
        f"OUTPUT_MODEL={tmp_path / 'wind'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    done = qgis_process(
        "run",
        "stanalyzer:forecastnetwork",
        "--",
        f"INPUT={wind}",
        "ID_FIELD=station_id",
        "TIME_FIELD=date",
        "VALUE_FIELD=wind_speed_knots",
        f"MODEL={tmp_path / 'wind'}",
        "ORIGIN=1978-06-30",
        f"OUTPUT={tmp_path / 'wind.gpkg'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    frame = gpd.read_file(tmp_path / "wind.gpkg")
    assert len(frame) == 24 and str(frame["time"].min())[:10] == "1978-07-01"


def test_training_keeps_to_its_time_budget(run_alg, tmp_path):
    """TIME_BUDGET (minutes; 15 by default) plans the 30 epochs over every window down to what fits."""
    import json

    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById("stanalyzer:trainnetworkforecaster")
    assert algorithm.parameterDefinition("TIME_BUDGET").defaultValue() == 15.0
    run_alg(
        "stanalyzer:trainnetworkforecaster",
        {
            **SENSOR_INPUT,
            "GRAPH": 2,
            "EDGES": str(METR / "edges.csv"),
            "LOOKBACK": 6,
            "HORIZON": 3,
            "EPOCHS": 30,
            "HIDDEN": 8,
            "TIME_BUDGET": 0.1,
            "DEVICE": 1,
            "OUTPUT_MODEL": str(tmp_path / "model"),
        },
    )
    training = json.loads((tmp_path / "model" / "config.json").read_text())["training"]
    assert training["config"]["time_budget_minutes"] == 0.1
    assert 1 <= len(training["history"]["train_loss"]) <= 4  # 4 shorter epochs at most instead of 30
    assert sum(training["history"]["epoch_seconds"]) < 0.1 * 60 + 5
