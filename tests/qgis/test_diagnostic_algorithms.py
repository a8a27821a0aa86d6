"""Diagnostics, clustering and emerging hot spots through processing.run (points and rasters) and qgis_process."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from qgis.core import QgsProcessingContext, QgsProject, QgsRasterLayer, QgsVectorLayer

from tests.qgis.data import PM10_Q1

POINTS = {"INPUT": str(PM10_Q1), "FORMAT": 0, "ID_FIELD": "station_id", "TIME_FIELD": "date", "VALUE_FIELD": "pm10"}


def loaded(run_alg, alg_id, params):
    """Run with a project, then apply the load-on-completion style to the output; (result, layer)."""
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = run_alg(alg_id, params, context=context)
    path = result["OUTPUT"]
    details = context.layerToLoadOnCompletionDetails(path)
    layer = QgsRasterLayer(path, "r") if path.endswith(".tif") else QgsVectorLayer(path, "v")
    assert layer.isValid()
    details.postProcessor().postProcessLayer(layer, context, None)
    return result, layer


def test_point_diagnostics_load_as_a_styled_layer(run_alg, tmp_path):
    result, layer = loaded(
        run_alg,
        "stanalyzer:timeseriesdiagnostics",
        {**POINTS, "OUTPUT": str(tmp_path / "d.gpkg"), "OUTPUT_REPORT": str(tmp_path / "d.html")},
    )
    assert layer.featureCount() == 68 and "trend_p" in layer.fields().names()
    assert layer.renderer().classAttribute() == "trend_z"


def test_raster_hot_spots_load_with_categories(run_alg, tmp_path, small_stack):
    result, layer = loaded(
        run_alg,
        "stanalyzer:emerginghotspots",
        {"INPUT": small_stack, "TIME_STEP": "1D", "OUTPUT": str(tmp_path / "h.tif")},
    )
    assert layer.renderer().type() == "paletted"
    labels = {c.label for c in layer.renderer().classes()}
    assert "intensifying hot spot" in labels and "no pattern" in labels


def test_point_clusters(run_alg, tmp_path):
    result, layer = loaded(
        run_alg,
        "stanalyzer:timeseriesclustering",
        {**POINTS, "N_CLUSTERS": 3, "OUTPUT": str(tmp_path / "c.gpkg"), "OUTPUT_PROFILES": str(tmp_path / "p.csv")},
    )
    assert layer.renderer().type() == "categorizedSymbol" and len(layer.renderer().categories()) == 3
    assert (tmp_path / "p.csv").exists()


@pytest.mark.qgis_process
def test_diagnostics_with_qgis_process(qgis_process, tmp_path, small_stack):
    done = qgis_process(
        "run", "stanalyzer:timeseriesdiagnostics", "--", f"INPUT={small_stack}", f"OUTPUT={tmp_path / 'd.tif'}"
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(tmp_path / "d.tif") as src:
        assert src.count == 18 and src.descriptions[2].startswith("trend_p")
        assert src.descriptions[13].startswith("mk_p") and src.descriptions[15].startswith("seasonal_mk_z")
    done = qgis_process(
        "run",
        "stanalyzer:emerginghotspots",
        "--",
        f"INPUT={PM10_Q1}",
        "ID_FIELD=station_id",
        "TIME_FIELD=date",
        "VALUE_FIELD=pm10",
        "TIME_STEP=7D",
        f"OUTPUT={tmp_path / 'h.gpkg'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(gpd.read_file(tmp_path / "h.gpkg")) == 68


@pytest.mark.qgis_process
def test_localoutliers_on_weekly_points_and_on_a_stack(qgis_process, tmp_path, small_stack):
    done = qgis_process(
        "run",
        "stanalyzer:localoutliers",
        "--",
        f"INPUT={PM10_Q1}",
        "ID_FIELD=station_id",
        "TIME_FIELD=date",
        "VALUE_FIELD=pm10",
        "TIME_STEP=7D",
        "NEIGHBOURHOOD=2",
        "K_NEIGHBOURS=6",
        f"OUTPUT={tmp_path / 'outliers.gpkg'}",
        f"OUTPUT_STEPS={tmp_path / 'steps.csv'}",
        f"OUTPUT_REPORT={tmp_path / 'report.html'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = gpd.read_file(tmp_path / "outliers.gpkg")
    assert len(summary) == 68 and {"summary", "high_high", "low_low", "high_low", "low_high"} <= set(summary.columns)
    steps = pd.read_csv(tmp_path / "steps.csv")
    assert steps["time"].nunique() == 13 and {"local_i", "p_fdr", "category"} <= set(steps.columns)
    done = qgis_process(
        "run",
        "stanalyzer:localoutliers",
        "--",
        f"INPUT={small_stack}",
        "TIME_STEPS=0",
        f"OUTPUT={tmp_path / 'outliers.tif'}",
        f"OUTPUT_STEPS={tmp_path / 'types.tif'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(tmp_path / "types.tif") as types:
        assert types.count == 200 and set(np.unique(types.read())) <= {0, 1, 2, 3, 4}


def test_local_outliers_load_with_their_summary_categories(run_alg, tmp_path):
    result, layer = loaded(
        run_alg, "stanalyzer:localoutliers", {**POINTS, "TIME_STEP": "1M", "OUTPUT": str(tmp_path / "o.gpkg")}
    )
    renderer = layer.renderer()
    assert renderer.type() == "categorizedSymbol" and renderer.classAttribute() == "summary_code"
    assert [c.label() for c in renderer.categories()][:2] == ["never significant", "only high-high cluster"]
