"""The example models of resources/models: exposed by the provider and run headless with qgis_process."""

import geopandas as gpd
import pytest
import rasterio

from tests.qgis.data import ERA5_DAILY, PM10_Q1, SAMPLE_COPY

pytest.importorskip("torch")


def test_provider_exposes_the_models(provider):
    ids = {a.id() for a in provider.algorithms()}
    assert {
        "stanalyzer:build_and_describe_stack",
        "stanalyzer:kriging_clipped_grid",
        "stanalyzer:raster_forecast_and_anomalies",
        "stanalyzer:sensor_network_anomalies",
    } <= ids
    model = provider.algorithm("kriging_clipped_grid")
    assert model.displayName() == "Space-time kriging clipped to the stations' area"
    assert model.group() == "Example models" and model.createInstance().name() == "kriging_clipped_grid"


@pytest.mark.qgis_process
def test_kriging_model_clips_the_grid(qgis_process, tmp_path):
    done = qgis_process(
        "run",
        "stanalyzer:kriging_clipped_grid",
        "--",
        f"stations={PM10_Q1}",
        "id_field=station_id",
        "time_field=date",
        "value_field=pm10",
        "start=2005-03-01T00:00:00",
        "end=2005-03-02T00:00:00",
        f"clip:Clipped predictions={tmp_path / 'c.tif'}",
        f"variogram:Variogram model={tmp_path / 'v.json'}",
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(tmp_path / "c.tif") as src:
        values = src.read(1, masked=True)
        assert src.count == 2 and 0 < values.count() < values.size  # cells outside the hull are no data
        assert 5 < float(values.mean()) < 80  # PM10 µg/m³


@pytest.mark.qgis_process
def test_raster_forecast_model(qgis_process, tmp_path):
    done = qgis_process(
        "run",
        "stanalyzer:raster_forecast_and_anomalies",
        "--",
        f"folder={ERA5_DAILY}",
        "pattern=t2m_%Y%m%d",
        "epochs=1",
        f"build:Raster time stack={tmp_path / 's.tif'}",
        f"train:Training report={tmp_path / 'r.html'}",
        f"forecast:Forecast={tmp_path / 'f.tif'}",
        f"anomalies:Anomaly scores={tmp_path / 'a.tif'}",
        f"anomalies:Flagged steps per cell={tmp_path / 'n.tif'}",
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(tmp_path / "f.tif") as forecast, rasterio.open(tmp_path / "a.tif") as scores:
        assert forecast.count == 3 and forecast.descriptions[0] == "2019-03-28T00:00:00Z"
        assert scores.count == 27


@pytest.mark.qgis_process
def test_sensor_network_model(qgis_process, tmp_path):
    wind = SAMPLE_COPY / "ireland_wind_1976_1978.gpkg"
    done = qgis_process(
        "run",
        "stanalyzer:sensor_network_anomalies",
        "--",
        f"readings={wind}",
        "id_field=station_id",
        "time_field=date",
        "value_field=wind_speed_knots",
        "epochs=1",
        f"forecast:Sensor forecasts={tmp_path / 'f.gpkg'}",
        f"anomalies:Flagged readings={tmp_path / 'a.gpkg'}",
        f"anomalies:Anomaly events={tmp_path / 'e.gpkg'}",
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    forecasts = gpd.read_file(tmp_path / "f.gpkg")
    assert len(forecasts) == 12 * 3 and str(forecasts["time"].min())[:10] == "1979-01-01"
    flagged = gpd.read_file(tmp_path / "a.gpkg")
    assert len(flagged) and (flagged["is_anomaly"] == 1).all()


@pytest.mark.qgis_process
def test_a_failing_step_is_named(qgis_process, tmp_path):
    done = qgis_process(
        "run",
        "stanalyzer:sensor_network_anomalies",
        "--",
        f"readings={PM10_Q1}",
        "id_field=station_id",
        "time_field=nope",
        "value_field=pm10",
        "epochs=1",
        f"forecast:Sensor forecasts={tmp_path / 'f.gpkg'}",
        f"anomalies:Flagged readings={tmp_path / 'a.gpkg'}",
        f"anomalies:Anomaly events={tmp_path / 'e.gpkg'}",
    )
    assert done.returncode != 0
    assert "Train network forecaster" in done.stdout + done.stderr and "nope" in done.stdout + done.stderr
