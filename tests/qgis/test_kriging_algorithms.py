"""The kriging algorithms through processing.run and a real qgis_process run."""

import json

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException, QgsVectorLayer

from tests.paths import REPO
from tests.qgis.data import PM10_Q1

FIELDS = {"INPUT": str(PM10_Q1), "ID_FIELD": "station_id", "TIME_FIELD": "date", "VALUE_FIELD": "pm10"}
SEPARABLE = json.loads((REPO / "tests" / "fixtures" / "gstat" / "models.json").read_text())["separable"]


def test_fit_then_krige_a_grid(run_alg, tmp_path):
    fitted = run_alg(
        "stanalyzer:fitstvariogram",
        {
            **FIELDS,
            "MODEL": 1,
            "TLAGS": 4,
            "OUTPUT_MODEL": str(tmp_path / "m.json"),
            "OUTPUT_REPORT": str(tmp_path / "v.html"),
        },
    )
    assert json.loads((tmp_path / "m.json").read_text())["stModel"] == "separable"
    result = run_alg(
        "stanalyzer:stkriging",
        {
            **FIELDS,
            "MODEL_FILE": fitted["OUTPUT_MODEL"],
            "NMAX": 30,
            "PIXEL_SIZE": 40000,
            "START": "2005-03-01T00:00:00",
            "END": "2005-03-02T00:00:00",
            "STEP": "1 day",
            "OUTPUT": str(tmp_path / "k.tif"),
            "OUTPUT_VARIANCE": str(tmp_path / "v.tif"),
        },
    )
    with rasterio.open(result["OUTPUT"]) as pred, rasterio.open(result["OUTPUT_VARIANCE"]) as var:
        assert pred.count == 2 and pred.descriptions == ("2005-03-01T00:00:00Z", "2005-03-02T00:00:00Z")
        assert pred.crs.to_epsg() == 32632 and np.isfinite(pred.read()).all() and (var.read() > 0).all()


def test_krige_to_target_points(run_alg, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(SEPARABLE))
    targets = QgsVectorLayer(f"{PM10_Q1}|layername=pm10", "targets", "ogr")
    targets.setSubsetString("station_id = 'DESH001'")
    result = run_alg(
        "stanalyzer:stkriging",
        {
            **FIELDS,
            "MODEL_FILE": str(tmp_path / "m.json"),
            "NMAX": 20,
            "ST_ANI": 60000,
            "TARGET_POINTS": targets,
            "TARGET_TIME_FIELD": "date",
            "OUTPUT_POINTS": str(tmp_path / "p.gpkg"),
        },
    )
    layer = QgsVectorLayer(result["OUTPUT_POINTS"], "p", "ogr")
    assert layer.featureCount() == targets.featureCount() > 0
    assert {"pred", "var"} <= set(layer.fields().names())


def test_cross_validation_table_and_report(run_alg, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(SEPARABLE))
    result = run_alg(
        "stanalyzer:stkrigingcv",
        {
            **FIELDS,
            "MODEL_FILE": str(tmp_path / "m.json"),
            "NMAX": 20,
            "ST_ANI": 60000,
            "OUTPUT": str(tmp_path / "cv.gpkg"),
            "OUTPUT_REPORT": str(tmp_path / "cv.html"),
        },
    )
    layer = QgsVectorLayer(result["OUTPUT"], "cv", "ogr")
    assert layer.featureCount() == 68 and {"rmse", "mae", "bias", "cor"} <= set(layer.fields().names())
    assert "spatial kriging per time step" in (tmp_path / "cv.html").read_text()


def test_broken_model_file_is_a_clear_error(run_alg, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"stModel": "separable", "sill": -3}))
    with pytest.raises(QgsProcessingException, match="needs 'space'"):
        run_alg(
            "stanalyzer:stkriging",
            {**FIELDS, "MODEL_FILE": str(tmp_path / "m.json"), "OUTPUT": str(tmp_path / "k.tif")},
        )
    assert not (tmp_path / "k.tif").exists()


@pytest.mark.qgis_process
def test_stkriging_with_qgis_process(qgis_process, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(SEPARABLE))
    done = qgis_process(
        "run",
        "stanalyzer:stkriging",
        "--",
        *(f"{k}={v}" for k, v in FIELDS.items()),
        f"MODEL_FILE={tmp_path / 'm.json'}",
        "NMAX=25",
        "ST_ANI=60000",
        "PIXEL_SIZE=50000",
        "START=2005-01-05T00:00:00",
        "END=2005-01-07T00:00:00",
        "STEP=1 day",
        f"OUTPUT={tmp_path / 'k.tif'}",
        f"OUTPUT_VARIANCE={tmp_path / 'kv.tif'}",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with rasterio.open(tmp_path / "k.tif") as src:
        assert src.count == 3 and src.descriptions[2] == "2005-01-07T00:00:00Z"


def test_known_mean_switches_to_simple_kriging(run_alg, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(SEPARABLE))
    common = {
        **FIELDS,
        "MODEL_FILE": str(tmp_path / "m.json"),
        "NMAX": 10,
        "ST_ANI": 60000,
        "PIXEL_SIZE": 100000,
        "START": "2005-02-01T00:00:00",
        "END": "2005-02-01T00:00:00",
    }
    ordinary = run_alg("stanalyzer:stkriging", {**common, "OUTPUT": str(tmp_path / "ok.tif")})
    simple = run_alg("stanalyzer:stkriging", {**common, "MEAN": 1000, "OUTPUT": str(tmp_path / "sk.tif")})
    with rasterio.open(ordinary["OUTPUT"]) as a, rasterio.open(simple["OUTPUT"]) as b:
        assert b.read().mean() > a.read().mean() + 10  # an absurd known mean pulls simple kriging towards it


def test_kriged_layers_are_named_and_the_variance_is_below_and_unchecked(provider, tmp_path):
    import processing
    from qgis.core import QgsProject

    project = QgsProject.instance()
    project.removeAllMapLayers()
    processing.runAndLoadResults(
        "stanalyzer:stkriging",
        {
            **FIELDS,
            "NMAX": 20,
            "PIXEL_SIZE": 40000,
            "START": "2005-01-10T00:00:00",
            "END": "2005-01-16T00:00:00",
            "UNITS": "µg/m³",
            "OUTPUT": str(tmp_path / "k.tif"),
            "OUTPUT_VARIANCE": str(tmp_path / "v.tif"),
        },
    )
    nodes = project.layerTreeRoot().findLayers()
    names = [node.layer().name() for node in nodes]
    assert names == ["pm10 kriged 2005-01-10…16", "pm10 kriging variance 2005-01-10…16"], names
    assert nodes[0].isVisible() and not nodes[1].itemVisibilityChecked()
    predictions, variance = (node.layer() for node in nodes)
    legend = [item.label for item in predictions.renderer().shader().rasterShaderFunction().colorRampItemList()]
    assert all(label.endswith(" µg/m³") for label in legend), legend
    legend = [item.label for item in variance.renderer().shader().rasterShaderFunction().colorRampItemList()]
    assert all(label.endswith(" (µg/m³)²") for label in legend), legend
    abstract = predictions.metadata().abstract()
    assert abstract.startswith("Space-time kriging predictions of pm10, 7 time steps") and "UNITS=µg/m³" in abstract
    project.removeAllMapLayers()
