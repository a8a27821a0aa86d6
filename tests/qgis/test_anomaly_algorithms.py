"""The anomaly algorithms through processing.run (styled output) and a real qgis_process run."""

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException, QgsProject, QgsVectorLayer

from tests.qgis.data import PM10_Q1, SAMPLE_COPY

FIELDS = {"INPUT": str(PM10_Q1), "ID_FIELD": "station_id", "TIME_FIELD": "date", "VALUE_FIELD": "pm10"}


def test_point_anomalies_loaded_with_flags_first_style(tmp_path, provider):
    import processing

    project = QgsProject.instance()
    project.removeAllMapLayers()
    result = processing.runAndLoadResults(
        "stanalyzer:detectpointanomalies",
        {
            **FIELDS,
            "METHOD": 1,
            "WINDOW": "7 days",
            "OUTPUT": str(tmp_path / "a.gpkg"),
            "OUTPUT_EVENTS": str(tmp_path / "e.csv"),
        },
    )
    layer = next(
        candidate
        for candidate in project.mapLayers().values()
        if isinstance(candidate, QgsVectorLayer) and "score" in candidate.fields().names()
    )
    assert layer.renderer().type() == "RuleRenderer" and layer.temporalProperties().isActive()
    assert layer.featureCount() == 5840
    project.removeAllMapLayers()
    assert (tmp_path / "e.csv").exists() and result["OUTPUT_EVENTS"]


def test_bad_threshold_is_a_clear_error(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="between 0 and 1"):
        run_alg(
            "stanalyzer:detectpointanomalies",
            {**FIELDS, "METHOD": 1, "THRESHOLD_MODE": 1, "THRESHOLD": 3, "OUTPUT": str(tmp_path / "a.gpkg")},
        )
    assert not (tmp_path / "a.gpkg").exists()


@pytest.mark.qgis_process
def test_raster_anomalies_with_qgis_process(qgis_process, tmp_path):
    done = qgis_process(
        "run",
        "stanalyzer:detectrasteranomalies",
        "--",
        f"INPUT={SAMPLE_COPY / 'era5_t2m_uk_2019_03_hourly.tif'}",
        "METHOD=1",
        "WINDOW_STEPS=24",
        f"OUTPUT_SCORES={tmp_path / 's.tif'}",
        f"OUTPUT_FLAGS={tmp_path / 'f.tif'}",
        f"OUTPUT_SUMMARY={tmp_path / 'n.tif'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(tmp_path / "f.tif") as flags, rasterio.open(tmp_path / "n.tif") as count:
        assert flags.count == 744 and set(np.unique(flags.read(400))) <= {0.0, 1.0}
        assert count.count == 1 and np.nanmax(count.read(1)) > 0
