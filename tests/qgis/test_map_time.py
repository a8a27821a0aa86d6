"""Raster outputs opened by hand from disk keep their style and band times, and show the band of the map's time
(QGIS ≥ 3.38 by itself, older QGIS through the plugin's band follower)."""

import pytest
from qgis.core import QgsDateTimeRange, QgsRasterLayer
from qgis.PyQt.QtCore import QDateTime, Qt

from st_analyzer.temporal import (
    StackTimeKeeper,
    band_for_time,
    band_start_times,
    has_per_band_mode,
    make_temporal,
    show_band_for_range,
)
from tests.qgis.data import ERA5_DAILY


def utc(text: str) -> QDateTime:
    value = QDateTime.fromString(text, Qt.DateFormat.ISODate)
    value.setTimeSpec(Qt.TimeSpec.UTC)
    return value


@pytest.fixture
def outputs(run_alg, small_stack, tmp_path):
    """Raster outputs of three algorithms, written without loading them into a project (as qgis_process)."""
    stack = str(tmp_path / "stack.tif")
    run_alg("stanalyzer:buildrasterstack", {"FOLDER": str(ERA5_DAILY), "UNITS": "K", "OUTPUT": stack})
    forecast = str(tmp_path / "baseline.tif")
    run_alg("stanalyzer:baselineforecast", {"INPUT": small_stack, "HORIZON": 6, "OUTPUT": forecast})
    scores = str(tmp_path / "scores.tif")
    run_alg("stanalyzer:detectrasteranomalies", {"INPUT": small_stack, "OUTPUT_SCORES": scores})
    return {"stack": (stack, 27), "baseline": (forecast, 6), "scores": (scores, 200)}


def test_outputs_opened_from_disk_have_their_style_and_band_times(outputs):
    from qgis.core import QgsProject

    keeper = StackTimeKeeper()
    for name, (path, bands) in outputs.items():
        layer = QgsRasterLayer(path, name)  # as 'Add Raster Layer' opens it: the sidecar .qml is its default style
        QgsProject.instance().addMapLayer(layer)
        assert layer.isValid() and layer.bandCount() == bands
        assert layer.renderer().type() == "singlebandpseudocolor", f"{name}: {layer.renderer().type()}"
        properties = layer.temporalProperties()
        assert properties.isActive(), name
        if has_per_band_mode():
            assert len(properties.fixedRangePerBand()) == bands
        else:
            span = properties.fixedTemporalRange()
            assert span.begin() == band_start_times(layer)[0] and span.end() > band_start_times(layer)[-1]
        QgsProject.instance().removeMapLayer(layer.id())
    keeper.stop()


def test_the_band_of_the_third_time_step_renders(outputs):
    layer = QgsRasterLayer(outputs["stack"][0], "stack")
    third = utc("2019-03-03T00:00:00")
    window = QgsDateTimeRange(third, third.addSecs(86400), True, False)
    if has_per_band_mode():
        make_temporal(layer)  # what the plugin does when a stack is added to the project
        assert layer.temporalProperties().bandForTemporalRange(layer, window) == 3
    else:
        assert show_band_for_range(layer, window) and layer.renderer().band() == 3
    assert band_for_time(band_start_times(layer), third.addSecs(3600)) == 3


def test_the_follower_moves_every_stack_of_the_project(outputs):
    from qgis.core import QgsProject, QgsTemporalController

    layer = QgsRasterLayer(outputs["stack"][0], "stack")
    QgsProject.instance().addMapLayer(layer)
    controller = QgsTemporalController()
    follower = StackTimeKeeper(controller)
    try:
        fifth = utc("2019-03-05T12:00:00")
        controller.updateTemporalRange.emit(QgsDateTimeRange(fifth, fifth.addSecs(3600)))
        if not has_per_band_mode():
            assert layer.renderer().band() == 5
    finally:
        follower.stop()
        QgsProject.instance().removeMapLayer(layer.id())


def test_point_outputs_opened_from_disk_keep_style_and_feature_times(run_alg, tmp_path):
    from qgis.core import QgsVectorLayer

    from tests.qgis.data import PM10_Q1

    output = str(tmp_path / "anomalies.gpkg")
    run_alg(
        "stanalyzer:detectpointanomalies",
        {
            "INPUT": str(PM10_Q1),
            "ID_FIELD": "station_id",
            "TIME_FIELD": "date",
            "VALUE_FIELD": "pm10",
            "OUTPUT": output,
        },
    )
    layer = QgsVectorLayer(output, "anomalies")
    assert layer.isValid() and layer.renderer().type() == "RuleRenderer"
    labels = [rule.label() for rule in layer.renderer().rootRule().children()]
    assert labels[0] == "not flagged" and all(label.startswith("flagged, score") for label in labels[1:])
    make_temporal(layer)  # what the plugin does when a layer is added to the project
    assert layer.temporalProperties().isActive() and layer.temporalProperties().startField() == "time"
    _message, found = layer.loadDefaultMetadata()
    assert found and layer.metadata().abstract().startswith("Scored pm10 observations: expected value by auto")


def test_legend_labels_are_rounded(outputs):
    layer = QgsRasterLayer(outputs["stack"][0], "stack")
    labels = [item.label for item in layer.renderer().shader().rasterShaderFunction().colorRampItemList()]
    assert labels and all(label.endswith(" K") for label in labels), labels  # UNITS
    legend = layer.renderer().shader().rasterShaderFunction().legendSettings()  # the continuous ramp legend
    numbers = [label.removesuffix(" K") for label in labels]
    decimals = len(numbers[0].split(".")[-1]) if "." in numbers[0] else 0
    assert legend.suffix() == " K" and legend.numericFormat().numberDecimalPlaces() == decimals  # as the labels
    assert all(len(number.split(".")[-1]) <= 2 for number in numbers if "." in number), labels


def test_outputs_opened_from_disk_say_what_they_are_and_which_run_made_them(outputs):
    for name, what, algorithm in (
        ("stack", "Raster time stack of era5_t2m_daily: 27 bands", "buildrasterstack"),
        ("baseline", "Forecast of small by persistence, 6 steps (2019-03-09 08:00…13:00)", "baselineforecast"),
        ("scores", "Anomaly scores", "detectrasteranomalies"),
    ):
        layer = QgsRasterLayer(outputs[name][0], name)
        _message, found = layer.loadDefaultMetadata()  # as QGIS does for a file added by hand (sidecar .qmd)
        abstract = layer.metadata().abstract()
        assert found and abstract.startswith(what), abstract
        assert f"(stanalyzer:{algorithm})" in abstract and ("Settings: INPUT=" in abstract or "FOLDER=" in abstract)
