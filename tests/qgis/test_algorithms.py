"""Both foundation algorithms through processing.run, as the toolbox and the modeler call them."""

import threading
import time

import numpy as np
import pytest
import rasterio
from affine import Affine
from qgis.core import (
    QgsFeatureRequest,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)

from st_analyzer.runner import BackendCancelled, BackendRunner
from tests.qgis.data import ERA5_DAILY, PM10_Q1


def test_provider_exposes_the_public_algorithm_ids(provider):
    assert provider.id() == "stanalyzer" and provider.name() == "Space-time analyzer"
    ids = {alg.id() for alg in provider.algorithms()}
    assert {
        "stanalyzer:buildrasterstack",
        "stanalyzer:describespacetime",
        "stanalyzer:fitstvariogram",
        "stanalyzer:stkriging",
        "stanalyzer:stkrigingcv",
        "stanalyzer:trainrasterforecaster",
        "stanalyzer:forecastraster",
        "stanalyzer:baselineforecast",
        "stanalyzer:detectpointanomalies",
        "stanalyzer:detectrasteranomalies",
        "stanalyzer:trainnetworkforecaster",
        "stanalyzer:forecastnetwork",
        "stanalyzer:timeseriesdiagnostics",
        "stanalyzer:timeseriesclustering",
        "stanalyzer:emerginghotspots",
        "stanalyzer:forecastbylocation",
        "stanalyzer:evaluateforecasts",
        "stanalyzer:localoutliers",
    } <= ids
    for alg in provider.algorithms():
        assert len(alg.shortHelpString()) > 200, f"{alg.id()} needs a real help text"


def test_help_texts_name_parameters_by_their_labels_with_the_id(provider):
    kriging = provider.algorithm("stkriging").shortHelpString()
    assert "“Grid extent” [EXTENT]" in kriging and "“Neighbours per prediction” [NMAX]" in kriging
    assert "“Kriging variance” [OUTPUT_VARIANCE]" in kriging
    for alg in provider.algorithms():
        if alg.groupId() == "models":
            continue
        names = {d.name() for d in alg.parameterDefinitions()}
        help_text = alg.shortHelpString()
        bare = [
            n for n in names if f" {n} " in help_text.replace(",", " ").replace(".", " ") and f"[{n}]" not in help_text
        ]
        assert not bare, f"{alg.id()}: {bare}"


def test_buildrasterstack_from_folder(run_alg, tmp_path):
    out = str(tmp_path / "stack.tif")
    result = run_alg(
        "stanalyzer:buildrasterstack",
        {
            "FOLDER": str(ERA5_DAILY),
            "FILE_FILTER": "t2m_*.tif",
            "TIME_SOURCE": 0,
            "FILENAME_PATTERN": "%Y%m%d",
            "OUTPUT": out,
        },
    )
    layer = QgsRasterLayer(result["OUTPUT"], "stack")
    assert layer.isValid() and layer.bandCount() == 27
    assert "2019-03-01T00:00:00Z" in layer.bandName(1) and "2019-03-27T00:00:00Z" in layer.bandName(27)


def test_buildrasterstack_from_layers_with_time_list(run_alg, tmp_path):
    layers = [QgsRasterLayer(str(p), p.stem) for p in sorted(ERA5_DAILY.glob("*.tif"))[:3]]
    out = str(tmp_path / "listed.tif")
    run_alg(
        "stanalyzer:buildrasterstack",
        {"INPUT_LAYERS": layers, "TIME_SOURCE": 1, "TIME_LIST": "2021-01-03\n2021-01-01, 2021-01-02", "OUTPUT": out},
    )
    with rasterio.open(out) as src:
        assert src.descriptions == ("2021-01-01T00:00:00Z", "2021-01-02T00:00:00Z", "2021-01-03T00:00:00Z")


def test_loaded_stack_gets_ramp_and_times(run_alg, tmp_path):
    import processing

    project = QgsProject.instance()
    project.removeAllMapLayers()
    processing.runAndLoadResults(
        "stanalyzer:buildrasterstack", {"FOLDER": str(ERA5_DAILY), "OUTPUT": str(tmp_path / "loaded.tif")}
    )
    [layer] = project.mapLayers().values()
    assert layer.renderer().type() == "singlebandpseudocolor"
    assert layer.renderer().classificationMin() > 265 and layer.renderer().classificationMax() < 292
    temporal = layer.temporalProperties()
    assert temporal.isActive()
    project.removeAllMapLayers()


def test_mismatched_grids_name_the_file(run_alg, tmp_path):
    odd = tmp_path / "t2m_20190401.tif"
    with rasterio.open(
        odd,
        "w",
        driver="GTiff",
        width=5,
        height=5,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=Affine(1, 0, 0, 0, -1, 5),
    ) as dst:
        dst.write(np.ones((1, 5, 5), np.float32))
    layers = [str(sorted(ERA5_DAILY.glob("*.tif"))[0]), str(odd)]
    with pytest.raises(QgsProcessingException, match="t2m_20190401.tif has size 5×5 px"):
        run_alg("stanalyzer:buildrasterstack", {"INPUT_LAYERS": layers, "OUTPUT": str(tmp_path / "x.tif")})
    assert not (tmp_path / "x.tif").exists()


def test_no_input_is_a_clear_error(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="Choose input rasters or a folder"):
        run_alg("stanalyzer:buildrasterstack", {"OUTPUT": str(tmp_path / "x.tif")})


def test_describe_points(run_alg, tmp_path):
    result = run_alg(
        "stanalyzer:describespacetime",
        {
            "INPUT": str(PM10_Q1),
            "ID_FIELD": "station_id",
            "TIME_FIELD": "date",
            "VALUE_FIELD": "pm10",
            "OUTPUT_HTML": str(tmp_path / "p.html"),
            "OUTPUT_TABLE": str(tmp_path / "p.gpkg"),
        },
    )
    table = QgsVectorLayer(result["OUTPUT_TABLE"], "t", "ogr")
    assert table.featureCount() == 68 and "missing_share" in table.fields().names()
    assert "Per station" in (tmp_path / "p.html").read_text()


def test_describe_memory_layer_is_copied_for_the_backend(run_alg, tmp_path):
    source = QgsVectorLayer(str(PM10_Q1), "pm10", "ogr")
    memory = source.materialize(QgsFeatureRequest())
    assert memory.providerType() == "memory"
    result = run_alg(
        "stanalyzer:describespacetime",
        {
            "INPUT": memory,
            "ID_FIELD": "station_id",
            "TIME_FIELD": "date",
            "VALUE_FIELD": "pm10",
            "OUTPUT_HTML": str(tmp_path / "m.html"),
            "OUTPUT_TABLE": str(tmp_path / "m.csv"),
        },
    )
    assert len((tmp_path / "m.csv").read_text().splitlines()) == 69
    assert result["OUTPUT_HTML"] == str(tmp_path / "m.html")


def test_describe_raster_with_missing_share(run_alg, tmp_path):
    stack = str(tmp_path / "s.tif")
    run_alg("stanalyzer:buildrasterstack", {"FOLDER": str(ERA5_DAILY), "OUTPUT": stack})
    result = run_alg(
        "stanalyzer:describespacetime",
        {
            "INPUT": stack,
            "OUTPUT_HTML": str(tmp_path / "r.html"),
            "OUTPUT_TABLE": str(tmp_path / "r.csv"),
            "OUTPUT_MISSING": str(tmp_path / "m.tif"),
        },
    )
    assert QgsRasterLayer(result["OUTPUT_MISSING"], "m").isValid()
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 28


def test_unknown_field_is_a_clear_error(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="Unknown field 'no2'"):
        run_alg(
            "stanalyzer:describespacetime",
            {
                "INPUT": str(PM10_Q1),
                "ID_FIELD": "station_id",
                "TIME_FIELD": "date",
                "VALUE_FIELD": "no2",
                "OUTPUT_HTML": str(tmp_path / "p.html"),
            },
        )


def test_empty_layer_is_a_clear_error(run_alg, tmp_path):
    empty = QgsVectorLayer(
        "Point?crs=EPSG:32632&field=station_id:string&field=date:date&field=pm10:double", "empty", "memory"
    )
    with pytest.raises(QgsProcessingException, match="has no features"):
        run_alg(
            "stanalyzer:describespacetime",
            {
                "INPUT": empty,
                "ID_FIELD": "station_id",
                "TIME_FIELD": "date",
                "VALUE_FIELD": "pm10",
                "OUTPUT_HTML": str(tmp_path / "p.html"),
            },
        )
    assert not (tmp_path / "p.html").exists()


def test_missing_interpreter_is_a_clear_error(run_alg, tmp_path, monkeypatch):
    monkeypatch.setenv("ST_ANALYZER_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(QgsProcessingException, match="no-python' was not found.*Set up backend.*ST_ANALYZER_PYTHON"):
        run_alg("stanalyzer:buildrasterstack", {"FOLDER": str(ERA5_DAILY), "OUTPUT": str(tmp_path / "x.tif")})


def test_interpreter_without_backend_says_how_to_install(run_alg, tmp_path, monkeypatch):
    import subprocess

    bare = tmp_path / "bare"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(bare)], check=True)
    monkeypatch.setenv("ST_ANALYZER_PYTHON", str(bare / "bin" / "python"))
    monkeypatch.setenv("PYTHONPATH", "")
    with pytest.raises(QgsProcessingException, match="not usable with .*bare.*Set up backend"):
        run_alg("stanalyzer:buildrasterstack", {"FOLDER": str(ERA5_DAILY), "OUTPUT": str(tmp_path / "x.tif")})


def test_cancel_kills_the_child_within_two_seconds(slow_build_request):
    import os

    request, _path, out_dir = slow_build_request
    feedback = QgsProcessingFeedback()

    def cancel_when_writing():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(out_dir.glob(".big.tif.*.partial*")):
            time.sleep(0.05)
        cancel_when_writing.at = time.monotonic()
        feedback.cancel()

    thread = threading.Thread(target=cancel_when_writing)
    thread.start()
    with pytest.raises(BackendCancelled):
        BackendRunner(os.environ.get("ST_ANALYZER_PYTHON", "python3"), feedback).run("buildrasterstack", request)
    elapsed = time.monotonic() - cancel_when_writing.at
    thread.join()
    assert elapsed < 2.0
    assert os.listdir(out_dir) == []
