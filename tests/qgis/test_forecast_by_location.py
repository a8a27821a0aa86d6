"""stanalyzer:forecastbylocation through the real qgis_process, as analysts' scripts call it."""

import importlib.util

import pandas as pd
import pytest
import rasterio

from tests.qgis.data import PM10_Q1

pytestmark = [
    pytest.mark.qgis_process,
    pytest.mark.skipif(
        importlib.util.find_spec("statsforecast") is None, reason="the backend environment lacks statsforecast"
    ),
]
PM10 = [f"INPUT={PM10_Q1}", "ID_FIELD=station_id", "TIME_FIELD=date", "VALUE_FIELD=pm10"]


def test_best_per_station_on_points_with_evaluation_and_report(qgis_process, tmp_path):
    done = qgis_process(
        "run",
        "stanalyzer:forecastbylocation",
        "--",
        *PM10,
        "HORIZON=3",
        "VALIDATION_STEPS=7",
        f"OUTPUT={tmp_path / 'forecast.gpkg'}",
        f"OUTPUT_EVALUATION={tmp_path / 'evaluation.csv'}",
        f"OUTPUT_REPORT={tmp_path / 'report.html'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    import geopandas as gpd

    forecasts = gpd.read_file(tmp_path / "forecast.gpkg")
    assert len(forecasts) == 68 * 3
    assert {"station_id", "time", "step", "forecast", "lower", "upper", "method"} <= set(forecasts.columns)
    assert set(forecasts["time"].str[:10]) == {"2005-04-01", "2005-04-02", "2005-04-03"}
    assert (forecasts["lower"] <= forecasts["forecast"]).all() and (forecasts["forecast"] <= forecasts["upper"]).all()
    evaluation = pd.read_csv(tmp_path / "evaluation.csv")
    assert len(evaluation) == 68 and set(evaluation["method"]) <= {
        "arima",
        "ets",
        "curve",
        "forest",
        "seasonal_naive",
        "combination",
    }
    assert "Methods used:" in done.stdout and (tmp_path / "report.html").stat().st_size > 10_000


def test_ets_per_cell_of_a_raster_stack_with_bounds_and_evaluation_bands(qgis_process, tmp_path, small_stack):
    done = qgis_process(
        "run",
        "stanalyzer:forecastbylocation",
        "--",
        f"INPUT={small_stack}",
        "METHOD=2",
        "HORIZON=4",
        "VALIDATION_STEPS=0",
        "SEASON_LENGTH=24",
        f"OUTPUT={tmp_path / 'f.tif'}",
        f"OUTPUT_LOWER={tmp_path / 'lo.tif'}",
        f"OUTPUT_EVALUATION={tmp_path / 'e.tif'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(tmp_path / "f.tif") as out, rasterio.open(tmp_path / "lo.tif") as lower:
        assert out.count == 4 and out.descriptions[0] == "2019-03-09T08:00:00Z"
        assert (lower.read() <= out.read() + 1e-4).all()
    with rasterio.open(tmp_path / "e.tif") as evaluation:
        assert "method" in evaluation.descriptions and "season_length" in evaluation.descriptions
        assert (evaluation.read(evaluation.descriptions.index("method") + 1) == 2).all()  # ETS everywhere


def test_too_many_validation_steps_are_refused_with_what_to_do_and_no_output(qgis_process, tmp_path):
    done = qgis_process(
        "run",
        "stanalyzer:forecastbylocation",
        "--",
        *PM10,
        "VALIDATION_STEPS=85",
        f"OUTPUT={tmp_path / 'forecast.gpkg'}",
    )
    assert done.returncode != 0
    assert "Use fewer VALIDATION_STEPS" in done.stdout + done.stderr
    assert not (tmp_path / "forecast.gpkg").exists()
