"""Screenshots of the sample workflows in a real QGIS window (run by scripts/screenshots.sh under Xvfb).

Runs inside QGIS desktop (``qgis --code``): each scene runs st_analyzer algorithms with
processing.runAndLoadResults, exactly as the toolbox does (results load with the plugin's styles and
times), zooms to the result and saves the main window as docs/images/<scene>.png.
"""

import os
import shutil
import tempfile
import traceback
from collections import Counter
from pathlib import Path

import processing
from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
from qgis.PyQt.QtCore import QEventLoop, QTimer
from qgis.utils import iface

REPO = Path(os.environ["ST_ANALYZER_REPO"])
IMAGES = REPO / "docs" / "images"
WORK = Path(tempfile.mkdtemp(prefix="st_analyzer_shots_"))
shutil.copytree(REPO / "sample_data", WORK / "sample_data")
SAMPLE = WORK / "sample_data"
LOG = IMAGES / "screenshots.log"
PM10_FIELDS = {
    "INPUT": str(SAMPLE / "de_pm10_2005q1.gpkg"),
    "ID_FIELD": "station_id",
    "TIME_FIELD": "date",
    "VALUE_FIELD": "pm10",
}


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec_()


def log(message: str) -> None:
    with LOG.open("a", encoding="utf-8") as out:
        out.write(message + "\n")


def shoot(name: str, zoom_layer=None) -> None:
    canvas = iface.mapCanvas()
    for node in QgsProject.instance().layerTreeRoot().findLayers():
        node.setExpanded(True)
    if zoom_layer is not None:
        QgsProject.instance().setCrs(zoom_layer.crs())  # the map in the layer's CRS before zooming to it
        canvas.setDestinationCrs(zoom_layer.crs())
        wait(500)
        if hasattr(zoom_layer, "updateExtents"):
            zoom_layer.updateExtents()
        extent = zoom_layer.extent()
        extent.scale(1.1)
        canvas.setExtent(extent)
    canvas.refresh()
    wait(1500)
    canvas.waitWhileRendering()
    wait(500)
    iface.mainWindow().grab().save(str(IMAGES / f"{name}.png"))
    log(f"{name}: saved, layers: {[layer.name() for layer in QgsProject.instance().mapLayers().values()]}")


def layer_named(part: str):
    """The project's first layer whose name contains ``part`` (results are named after their input)."""
    return next((layer for layer in QgsProject.instance().mapLayers().values() if part in layer.name()), None)


def show_time(when: str) -> None:
    """Set the map's temporal controller to the day of ``when`` (ISO), as a user moving the time slider."""
    from qgis.core import QgsDateTimeRange, QgsInterval, QgsTemporalNavigationObject
    from qgis.PyQt.QtCore import QDateTime, Qt

    start = QDateTime.fromString(when, Qt.DateFormat.ISODate)
    start.setTimeSpec(Qt.TimeSpec.UTC)
    controller = iface.mapCanvas().temporalController()
    controller.setNavigationMode(QgsTemporalNavigationObject.Animated)
    controller.setTemporalExtents(QgsDateTimeRange(start, start.addDays(1)))
    controller.setFrameDuration(QgsInterval(86400))  # one day (seconds)
    controller.setCurrentFrameNumber(0)
    wait(500)


def clear() -> None:
    QgsProject.instance().clear()
    wait(300)


def kriging_scene() -> None:
    clear()
    points, fields = PM10_FIELDS["INPUT"], PM10_FIELDS
    model = processing.run(
        "stanalyzer:fitstvariogram", {**fields, "MODEL": 1, "OUTPUT_MODEL": str(WORK / "pm10.json")}
    )["OUTPUT_MODEL"]
    result = processing.runAndLoadResults(
        "stanalyzer:stkriging",
        {
            **fields,
            "MODEL_FILE": model,
            "PIXEL_SIZE": 10000,
            "START": "2005-03-01T00:00:00",
            "END": "2005-03-05T00:00:00",
            "STEP": "1 day",
            "UNITS": "µg/m³",
            "OUTPUT": str(WORK / "pm10_kriged.tif"),
            "OUTPUT_VARIANCE": str(WORK / "pm10_variance.tif"),
        },
    )
    stations = QgsVectorLayer(points, "PM10 stations")
    QgsProject.instance().addMapLayer(stations)
    layer = layer_named("kriged")
    show_time("2005-03-03T00:00:00")  # the third day: the map draws band 3
    log(f"kriging: {result}; band drawn at 3 March: {layer.renderer().band() if layer else None}")
    shoot("kriging_pm10", layer or stations)


def anomaly_scene() -> None:
    clear()
    processing.runAndLoadResults(
        "stanalyzer:detectpointanomalies",
        {**PM10_FIELDS, "UNITS": "µg/m³", "OUTPUT": str(WORK / "pm10_anomalies.gpkg")},
    )
    layer = layer_named("anomalies")
    flagged_days = Counter(
        feature["time"].toString("yyyy-MM-dd") for feature in layer.getFeatures() if feature["is_anomaly"] == 1
    )
    day = flagged_days.most_common(1)[0][0]
    log(f"anomalies: showing {day}, the day with most flagged readings ({flagged_days[day]})")
    show_time(f"{day}T00:00:00")  # one day of readings: the flagged stations stand out
    shoot("anomalies_pm10", layer)


def network_scene() -> None:
    clear()
    inputs = {
        "SENSORS": str(SAMPLE / "metr_la_subset" / "sensors.gpkg"),
        "ID_FIELD": "sensor_id",
        "OBSERVATIONS": str(SAMPLE / "metr_la_subset" / "speed_wide.csv"),
        "MISSING_VALUE": 0,
    }
    processing.run(
        "stanalyzer:trainnetworkforecaster",
        {
            **inputs,
            "GRAPH": 2,
            "EDGES": str(SAMPLE / "metr_la_subset" / "edges.csv"),
            "LOOKBACK": 12,
            "HORIZON": 12,
            "EPOCHS": 3,
            "BATCHES_PER_EPOCH": 30,
            "DEVICE": 1,
            "OUTPUT_MODEL": str(WORK / "la_model"),
        },
    )
    processing.runAndLoadResults(
        "stanalyzer:forecastnetwork",
        {
            **inputs,
            "MODEL": str(WORK / "la_model"),
            "ORIGIN": "2012-03-09T07:30:00",
            "UNITS": "mph",
            "OUTPUT": str(WORK / "la_forecast.gpkg"),
        },
    )
    layer = layer_named("forecast")
    layer.setSubsetString('"step" = 6')  # the 30-min-ahead forecasts (08:00) only
    shoot("network_forecast_la", layer)


def hot_spot_scene() -> None:
    clear()
    processing.runAndLoadResults(
        "stanalyzer:emerginghotspots", {**PM10_FIELDS, "TIME_STEP": "7D", "OUTPUT": str(WORK / "pm10_hotspots.gpkg")}
    )
    layer = layer_named("emerging hot spots")
    shoot("emerging_hot_spots_pm10", layer)


def diagnostics_scene() -> None:
    clear()
    processing.runAndLoadResults(
        "stanalyzer:timeseriesdiagnostics",
        {"INPUT": str(SAMPLE / "era5_t2m_uk_2019_03_hourly.tif"), "OUTPUT": str(WORK / "t2m_diagnostics.tif")},
    )
    layer = layer_named("trends")
    shoot("diagnostics_t2m_trend", layer)


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    LOG.write_text("", encoding="utf-8")
    iface.mainWindow().resize(1500, 950)
    wait(2000)
    chosen = os.environ.get("ST_ANALYZER_SCENES", "")
    for scene in (kriging_scene, anomaly_scene, network_scene, hot_spot_scene, diagnostics_scene):
        if chosen and scene.__name__ not in chosen.split(","):
            continue
        try:
            scene()
        except Exception:  # keep going: the log says which scene failed and why
            log(f"{scene.__name__} failed:\n{traceback.format_exc()}")
    QgsProject.instance().clear()
    QTimer.singleShot(500, QgsApplication.instance().quit)


QTimer.singleShot(3000, main)
