"""Write the example graphical-modeler models of resources/models/ with the PyQGIS model API.

Run with the plugin importable (scripts/qgis_env.sh sourced):  .venv/bin/python scripts/make_models.py
"""

from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsProcessing,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterDateTime,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)
from qgis.PyQt.QtCore import QPointF

MODELS = Path(__file__).resolve().parents[1] / "st_analyzer" / "resources" / "models"


def child(model, alg_id, child_id, description, x, y, sources, outputs):
    step = QgsProcessingModelChildAlgorithm(alg_id)
    step.setChildId(child_id)
    step.setDescription(description)
    step.setPosition(QPointF(x, y))
    for name, source in sources.items():
        step.addParameterSources(name, [source])
    model_outputs = {}
    for name, label in outputs.items():
        output = QgsProcessingModelOutput(label)
        output.setDescription(label)
        output.setChildId(child_id)
        output.setChildOutputName(name)
        model_outputs[label] = output
    step.setModelOutputs(model_outputs)
    model.addChildAlgorithm(step)


def inputs(model, parameters) -> None:
    """Model inputs laid out in a row, shown in the dialog in this order."""
    for i, parameter in enumerate(parameters):
        component = QgsProcessingModelParameter(parameter.name())
        component.setPosition(QPointF(120 + 220 * i, 60))
        model.addModelParameter(parameter, component)
    model.setParameterOrder([parameter.name() for parameter in parameters])


Source = QgsProcessingModelChildParameterSource


def field_inputs(id_label: str, value_default: str) -> list:
    """The id, time and value field inputs of a long point layer (defaults: station_id, date, ``value_default``)."""
    return [
        QgsProcessingParameterString("id_field", id_label, "station_id"),
        QgsProcessingParameterString("time_field", "Time field", "date"),
        QgsProcessingParameterString("value_field", "Value field", value_default),
    ]


def point_layer_source(layer_input: str) -> dict:
    """The INPUT and field parameters of an st_analyzer algorithm, taken from the model's inputs."""
    return {
        "INPUT": Source.fromModelParameter(layer_input),
        **{name: Source.fromModelParameter(name.lower()) for name in ("ID_FIELD", "TIME_FIELD", "VALUE_FIELD")},
    }


def kriging_to_clipped_grid() -> QgsProcessingModelAlgorithm:
    model = QgsProcessingModelAlgorithm("Space-time kriging clipped to the stations' area", "Space-time analyzer")
    model.setHelpContent(
        {
            "ALG_DESC": "Fits a separable space-time variogram to station observations, kriges "
            "daily grids (10 km pixels) and clips them to "
            "the convex hull of the stations (no extrapolation beyond the network)."
        }
    )
    inputs(
        model,
        [
            QgsProcessingParameterVectorLayer(
                "stations", "Station observations (long point layer)", [QgsProcessing.TypeVectorPoint]
            ),
            *field_inputs("Station id field", "pm10"),
            QgsProcessingParameterDateTime(
                "start", "First day", QgsProcessingParameterDateTime.DateTime, "2005-03-01T00:00:00"
            ),
            QgsProcessingParameterDateTime(
                "end", "Last day", QgsProcessingParameterDateTime.DateTime, "2005-03-03T00:00:00"
            ),
        ],
    )
    points = point_layer_source("stations")
    child(
        model,
        "stanalyzer:fitstvariogram",
        "variogram",
        "Fit space-time variogram",
        220,
        200,
        {**points, "MODEL": Source.fromStaticValue(1)},
        {"OUTPUT_MODEL": "Variogram model"},
    )
    temporary = Source.fromStaticValue("TEMPORARY_OUTPUT")
    child(
        model,
        "stanalyzer:stkriging",
        "kriging",
        "Space-time kriging",
        220,
        330,
        {
            **points,
            "MODEL_FILE": Source.fromChildOutput("variogram", "OUTPUT_MODEL"),
            "START": Source.fromModelParameter("start"),
            "END": Source.fromModelParameter("end"),
            "STEP": Source.fromStaticValue("1 day"),
            "PIXEL_SIZE": Source.fromStaticValue(10000),
            "OUTPUT": temporary,
        },
        {},
    )
    child(
        model,
        "qgis:minimumboundinggeometry",
        "area",
        "Convex hull of all stations",
        520,
        265,
        {"INPUT": Source.fromModelParameter("stations"), "TYPE": Source.fromStaticValue(3), "OUTPUT": temporary},
        {},
    )
    child(
        model,
        "gdal:cliprasterbymasklayer",
        "clip",
        "Clip predictions to the area",
        370,
        460,
        {
            "INPUT": Source.fromChildOutput("kriging", "OUTPUT"),
            "MASK": Source.fromChildOutput("area", "OUTPUT"),
            "NODATA": Source.fromStaticValue(-9999),
            "CROP_TO_CUTLINE": Source.fromStaticValue(True),
        },
        {"OUTPUT": "Clipped predictions"},
    )
    return model


def forecast_raster_and_flag() -> QgsProcessingModelAlgorithm:
    model = QgsProcessingModelAlgorithm("Raster forecast and anomalies", "Space-time analyzer")
    model.setHelpContent(
        {
            "ALG_DESC": "Builds a time stack from a folder of rasters, trains a ConvLSTM forecaster on "
            "it, forecasts the next steps, and scores every cell and step of the stack for "
            "anomalies."
        }
    )
    inputs(
        model,
        [
            QgsProcessingParameterFile("folder", "Folder of rasters", behavior=QgsProcessingParameterFile.Folder),
            QgsProcessingParameterString("pattern", "File name time pattern", "%Y%m%d"),
            QgsProcessingParameterNumber(
                "epochs", "Training epochs", QgsProcessingParameterNumber.Integer, 5, minValue=1
            ),
        ],
    )
    child(
        model,
        "stanalyzer:buildrasterstack",
        "build",
        "Build raster time stack",
        220,
        190,
        {
            "FOLDER": Source.fromModelParameter("folder"),
            "FILENAME_PATTERN": Source.fromModelParameter("pattern"),
            "FILE_FILTER": Source.fromStaticValue("*.tif"),
            "TIME_SOURCE": Source.fromStaticValue(0),
        },
        {"OUTPUT": "Raster time stack"},
    )
    child(
        model,
        "stanalyzer:trainrasterforecaster",
        "train",
        "Train raster forecaster",
        120,
        320,
        {
            "INPUT": Source.fromChildOutput("build", "OUTPUT"),
            "LOOKBACK": Source.fromStaticValue(5),
            "HORIZON": Source.fromStaticValue(3),
            "EPOCHS": Source.fromModelParameter("epochs"),
            "TEST_FRACTION": Source.fromStaticValue(0.15),
        },
        {"OUTPUT_REPORT": "Training report"},
    )
    child(
        model,
        "stanalyzer:forecastraster",
        "forecast",
        "Forecast raster",
        120,
        450,
        {"INPUT": Source.fromChildOutput("build", "OUTPUT"), "MODEL": Source.fromChildOutput("train", "OUTPUT_MODEL")},
        {"OUTPUT": "Forecast"},
    )
    child(
        model,
        "stanalyzer:detectrasteranomalies",
        "anomalies",
        "Detect raster anomalies",
        420,
        320,
        {
            "INPUT": Source.fromChildOutput("build", "OUTPUT"),
            "METHOD": Source.fromStaticValue(1),
            "WINDOW_STEPS": Source.fromStaticValue(7),
        },
        {"OUTPUT_SCORES": "Anomaly scores", "OUTPUT_SUMMARY": "Flagged steps per cell"},
    )
    return model


def sensor_network_anomalies() -> QgsProcessingModelAlgorithm:
    model = QgsProcessingModelAlgorithm("Sensor network forecast and anomalies", "Space-time analyzer")
    model.setHelpContent(
        {
            "ALG_DESC": "Trains a graph forecaster on a long point layer of sensor readings, forecasts "
            "the next steps at every sensor, and flags readings far from the model's "
            "one-step-ahead forecast."
        }
    )
    inputs(
        model,
        [
            QgsProcessingParameterVectorLayer(
                "readings", "Sensor readings (long point layer)", [QgsProcessing.TypeVectorPoint]
            ),
            *field_inputs("Sensor id field", "wind_speed_knots"),
            QgsProcessingParameterNumber(
                "epochs", "Training epochs", QgsProcessingParameterNumber.Integer, 5, minValue=1
            ),
        ],
    )
    readings = point_layer_source("readings")
    child(
        model,
        "stanalyzer:trainnetworkforecaster",
        "train",
        "Train network forecaster",
        220,
        200,
        {
            **readings,
            "GRAPH": Source.fromStaticValue(1),
            "K_NEIGHBOURS": Source.fromStaticValue(4),
            "LOOKBACK": Source.fromStaticValue(7),
            "HORIZON": Source.fromStaticValue(3),
            "EPOCHS": Source.fromModelParameter("epochs"),
        },
        {"OUTPUT_REPORT": "Training report"},
    )
    child(
        model,
        "stanalyzer:forecastnetwork",
        "forecast",
        "Forecast sensor network",
        100,
        340,
        {**readings, "MODEL": Source.fromChildOutput("train", "OUTPUT_MODEL")},
        {"OUTPUT": "Sensor forecasts"},
    )
    child(
        model,
        "stanalyzer:detectpointanomalies",
        "anomalies",
        "Detect point anomalies",
        360,
        340,
        {
            **readings,
            "FORMAT": Source.fromStaticValue(0),
            "MODEL": Source.fromChildOutput("train", "OUTPUT_MODEL"),
            "SMOOTH_STEPS": Source.fromStaticValue(1),
            "FLAGGED_ONLY": Source.fromStaticValue(True),
        },
        {"OUTPUT": "Flagged readings", "OUTPUT_EVENTS": "Anomaly events"},
    )
    return model


def build_and_describe() -> QgsProcessingModelAlgorithm:
    model = QgsProcessingModelAlgorithm("Build and describe a raster time stack", "Space-time analyzer")
    model.setHelpContent(
        {
            "ALG_DESC": "Stacks a folder of rasters into a time stack (times from the file "
            "names) and writes its space-time summary report."
        }
    )
    inputs(
        model,
        [
            QgsProcessingParameterFile("folder", "Folder of rasters", behavior=QgsProcessingParameterFile.Folder),
            QgsProcessingParameterString("pattern", "File name time pattern", defaultValue="%Y%m%d"),
        ],
    )
    child(
        model,
        "stanalyzer:buildrasterstack",
        "build",
        "Build raster time stack",
        220,
        180,
        {
            "FOLDER": Source.fromModelParameter("folder"),
            "FILENAME_PATTERN": Source.fromModelParameter("pattern"),
            "FILE_FILTER": Source.fromStaticValue("*.tif"),
            "TIME_SOURCE": Source.fromStaticValue(0),
        },
        {"OUTPUT": "Raster time stack"},
    )
    child(
        model,
        "stanalyzer:describespacetime",
        "describe",
        "Describe space-time data",
        220,
        320,
        {"INPUT": Source.fromChildOutput("build", "OUTPUT")},
        {"OUTPUT_HTML": "Summary report", "OUTPUT_TABLE": "Per time step table"},
    )
    return model


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    MODELS.mkdir(parents=True, exist_ok=True)
    for name, build in (
        ("build_and_describe_stack", build_and_describe),
        ("kriging_clipped_grid", kriging_to_clipped_grid),
        ("raster_forecast_and_anomalies", forecast_raster_and_flag),
        ("sensor_network_anomalies", sensor_network_anomalies),
    ):
        path = MODELS / f"{name}.model3"
        assert build().toFile(str(path))
        print(f"written {path}")
    app.exitQgis()
