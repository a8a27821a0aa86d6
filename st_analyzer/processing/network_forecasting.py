"""stanalyzer:trainnetworkforecaster and forecastnetwork — forecasts at many located sensors at once."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
)

from st_analyzer.layers import GraduatedPointsPostProcessor, time_span_text
from st_analyzer.processing.common import (
    StAlgorithm,
    add_choice,
    add_device_parameter,
    add_duplicates_parameter,
    add_html_output,
    add_resample_parameters,
    add_time_format_parameter,
    add_training_parameters,
    add_units_parameter,
    choice_of,
    device_of,
    duplicates_of,
    file_output,
    ogr_path_of,
    resample_of,
    text_of,
    time_format_of,
    training_config,
    units_of,
)

NETWORK_MODEL_TYPES = [
    ("graph_gru", "Graph GRU (diffusion convolution + GRU, DCRNN-style)"),
    ("st_transformer", "Spatio-temporal Transformer (attention over time and sensors)"),
    ("fc_lstm", "LSTM per sensor, no graph (FC-LSTM)"),
]
GRAPHS = [
    ("gaussian", "Gaussian kernel of distance (DCRNN weights, threshold)"),
    ("knn", "k nearest sensors"),
    ("edges", "Edge table (EDGES: from, to, weight or distance)"),
]
TABLE_FILTER = "Tables (*.csv *.parquet *.gpkg *.txt);;All files (*.*)"

SENSOR_INPUT_HELP = (
    "Input, either: SENSORS, a point layer with one feature per sensor and its ID_FIELD, plus OBSERVATIONS, a "
    "CSV/Parquet/GeoPackage table that is long (ID_FIELD, TIME_FIELD, VALUE_FIELD columns) or wide (a TIME_FIELD "
    "column and one column per sensor id, as traffic data usually come); or, for small data, INPUT, one long point "
    "layer with ID_FIELD, TIME_FIELD and VALUE_FIELD. Field names are typed (they may name columns of the table). "
    "MISSING_VALUE marks readings that mean 'no data' (e.g. 0 for loop-detector speeds). Readings must be on a "
    "regular step; set RESAMPLE (e.g. 5min, 1h, 1D, 1M) to aggregate irregular readings onto one with "
    "RESAMPLE_STATISTIC (mean by default)."
)


def add_sensor_inputs(alg) -> None:
    """SENSORS, ID_FIELD, OBSERVATIONS, INPUT, TIME_FIELD, VALUE_FIELD, TIME_FORMAT, MISSING_VALUE, RESAMPLE."""
    alg.addParameter(
        QgsProcessingParameterVectorLayer(
            "SENSORS",
            "Sensors (point layer, one feature per sensor)",
            types=[QgsProcessing.TypeVectorPoint],
            optional=True,
        )
    )
    alg.addParameter(QgsProcessingParameterString("ID_FIELD", "Sensor id field"))
    alg.addParameter(
        QgsProcessingParameterFile(
            "OBSERVATIONS",
            "Observation table (long or wide; CSV, Parquet, GeoPackage)",
            fileFilter=TABLE_FILTER,
            optional=True,
        )
    )
    alg.addParameter(
        QgsProcessingParameterVectorLayer(
            "INPUT", "Or: observations as one long point layer", types=[QgsProcessing.TypeVectorPoint], optional=True
        )
    )
    alg.addParameter(
        QgsProcessingParameterString("TIME_FIELD", "Time field (empty = a column named time/date)", optional=True)
    )
    alg.addParameter(QgsProcessingParameterString("VALUE_FIELD", "Value field (long format)", optional=True))
    add_time_format_parameter(alg)
    add_duplicates_parameter(alg)
    alg.addParameter(
        QgsProcessingParameterNumber(
            "MISSING_VALUE",
            "Value that means missing (e.g. 0; empty = none)",
            QgsProcessingParameterNumber.Double,
            optional=True,
        )
    )
    alg.addParameter(
        QgsProcessingParameterString(
            "RESAMPLE", "Resample to a regular step first (e.g. 5min, 1h, 1D, 1M; empty = no)", optional=True
        )
    )
    add_resample_parameters(alg, with_step=False)
    add_units_parameter(alg, "Units of the readings (e.g. mph; for legends and reports)")


def sensor_request(alg, parameters, context, feedback) -> tuple[dict, str | None]:
    """The backend ``SensorInput`` and the RESAMPLE rule."""
    id_field = alg.parameterAsString(parameters, "ID_FIELD", context).strip()
    time_field = (alg.parameterAsString(parameters, "TIME_FIELD", context) or "").strip()
    value_field = (alg.parameterAsString(parameters, "VALUE_FIELD", context) or "").strip()
    time_format = time_format_of(alg, parameters, context)
    duplicates = duplicates_of(alg, parameters, context)
    resample = resample_of(alg, parameters, context)
    request = {
        "id_field": id_field,
        "time_field": time_field,
        "value_field": value_field,
        "time_format": time_format,
        "duplicates": duplicates,
        "resample_statistic": resample["resample_statistic"],
        "units": units_of(alg, parameters, context),
    }
    if parameters.get("MISSING_VALUE") not in (None, ""):
        request["missing_value"] = alg.parameterAsDouble(parameters, "MISSING_VALUE", context)
    sensors = alg.parameterAsVectorLayer(parameters, "SENSORS", context)
    observations = alg.parameterAsFile(parameters, "OBSERVATIONS", context)
    points = alg.parameterAsVectorLayer(parameters, "INPUT", context)
    if sensors is not None and observations:
        if sensors.featureCount() == 0:
            raise QgsProcessingException(f"The sensor layer {sensors.name()} has no features.")
        path, layer_name = ogr_path_of(sensors, feedback)
        request |= {"sensors": path, "sensors_layer": layer_name, "observations": observations}
    elif points is not None:
        if points.featureCount() == 0:
            raise QgsProcessingException(f"The layer {points.name()} has no features.")
        if not time_field or not value_field:
            raise QgsProcessingException("A long point layer (INPUT) needs TIME_FIELD and VALUE_FIELD.")
        path, layer_name = ogr_path_of(points, feedback)
        request["points"] = {
            "path": path,
            "layer": layer_name,
            "format": "long",
            "id_field": id_field,
            "time_field": time_field,
            "value_field": value_field,
            "time_format": time_format,
            "duplicates": duplicates,
        }
    else:
        raise QgsProcessingException(
            "Give SENSORS (point layer) with an OBSERVATIONS table, or INPUT (one long point layer)."
        )
    return request, resample["resample"]


class TrainNetworkForecasterAlgorithm(StAlgorithm):
    ALG_ID = "trainnetworkforecaster"
    TITLE = "Train network forecaster"
    GROUP_ID, GROUP = "forecasting", "Forecasting"
    HELP = (
        "Trains a deep-learning forecaster for a network of located sensors (traffic detectors, air-quality or "
        "weather stations) that predicts the next HORIZON steps at every sensor from the last LOOKBACK steps of "
        "all sensors, using both each sensor's history and its neighbours (PyTorch; GPU when present).\n\n"
        + SENSOR_INPUT_HELP
        + "\n\n"
        "MODEL_TYPE: a graph GRU (diffusion convolution over the sensor graph, as DCRNN), a spatio-temporal "
        "Transformer, or an LSTM per sensor without the graph (for comparison). GRAPH links sensors by a Gaussian "
        "kernel of their distance (ellipsoidal distances for geographic layers; weights below GRAPH_THRESHOLD "
        "dropped), by the K_NEIGHBOURS nearest, or by an EDGES table (from, to and weight or distance columns, e.g. "
        "road distances). Time of day, day of week and day of year are model inputs.\n\n"
        "The series are split in time order: training, VALIDATION_FRACTION for early stopping, TEST_FRACTION held "
        "out. OUTPUT_REPORT gives the held-out masked MAE, RMSE and MAPE per horizon step of the model and of "
        "persistence, historical average by time of week, seasonal naive, exponential smoothing and an AR model "
        "per sensor, a map of the error per sensor and example series. OUTPUT_MODEL is a folder (config.json + "
        "weights.pt, with the sensor ids, coordinates and graph) for 'Forecast sensor network'.\n\n"
        "Example: 5-min speeds of 200 loop detectors (wide CSV, MISSING_VALUE 0), LOOKBACK 12, HORIZON 12 "
        "(one hour)."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_sensor_inputs(self)
        add_choice(self, "GRAPH", "Sensor graph", GRAPHS, 0)
        self.addParameter(
            QgsProcessingParameterFile(
                "EDGES", "Edge table (from, to, weight or distance)", fileFilter=TABLE_FILTER, optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "GRAPH_THRESHOLD",
                "Smallest kernel weight kept (Gaussian graph)",
                QgsProcessingParameterNumber.Double,
                0.1,
                minValue=0.0,
                maxValue=1.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "K_NEIGHBOURS",
                "Neighbours per sensor (k-nearest graph)",
                QgsProcessingParameterNumber.Integer,
                8,
                minValue=1,
            )
        )
        add_choice(self, "MODEL_TYPE", "Model type", NETWORK_MODEL_TYPES, 0)
        add_training_parameters(self, horizon=12, test_fraction=0.2)
        add_device_parameter(self)
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_MODEL", "Trained model folder"))
        add_html_output(self, "OUTPUT_REPORT", "Training report")

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        sensors, resample = sensor_request(self, parameters, context, feedback)
        model_folder = self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)
        report = file_output(self, parameters, "OUTPUT_REPORT", context)
        request = {
            "sensors": sensors,
            "resample": resample,
            "output_model": model_folder,
            "output_report": report,
            "device": device_of(self, parameters, context),
            "graph": {
                "kind": choice_of(self, parameters, "GRAPH", context, GRAPHS),
                "edges": self.parameterAsFile(parameters, "EDGES", context) or None,
                "threshold": self.parameterAsDouble(parameters, "GRAPH_THRESHOLD", context),
                "k": self.parameterAsInt(parameters, "K_NEIGHBOURS", context),
            },
            "config": {
                "architecture": choice_of(self, parameters, "MODEL_TYPE", context, NETWORK_MODEL_TYPES),
                **training_config(self, parameters, context),
            },
        }
        self.run_backend(request, [p for p in (model_folder, report) if p], feedback)  # logs test MAE and skill
        return {"OUTPUT_MODEL": model_folder, "OUTPUT_REPORT": report}


class ForecastNetworkAlgorithm(StAlgorithm):
    ALG_ID = "forecastnetwork"
    TITLE = "Forecast sensor network"
    GROUP_ID, GROUP = "forecasting", "Forecasting"
    HELP = (
        "Forecasts the next steps at every sensor with a model from 'Train network forecaster'.\n\n"
        + SENSOR_INPUT_HELP
        + " The readings up to the forecast ORIGIN (default: the last time in the data) are the "
        "history; at least the model's lookback is needed. Sensors are matched to the model's by id (missing ones "
        "are named and enter as missing; new ones are not forecast). MISSING_VALUE defaults to the model's.\n\n"
        "Output: OUTPUT, one point per sensor and future step with station_id, time, step, forecast, lower and "
        "upper (calibrated 80 % interval) and origin, styled by forecast and with feature times so the temporal "
        "controller animates it.\n\n"
        "Example: the last hour of loop-detector speeds → the next hour, 5 min by 5 min."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_sensor_inputs(self)
        self.addParameter(
            QgsProcessingParameterFile("MODEL", "Trained model folder", behavior=QgsProcessingParameterFile.Folder)
        )
        self.addParameter(
            QgsProcessingParameterString("ORIGIN", "Forecast origin (ISO time; empty = last time)", optional=True)
        )
        add_device_parameter(self)
        self.addParameter(
            QgsProcessingParameterVectorDestination("OUTPUT", "Sensor forecasts", QgsProcessing.TypeVectorPoint)
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        sensors, resample = sensor_request(self, parameters, context, feedback)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        request = {
            "sensors": sensors,
            "resample": resample,
            "output": output,
            "model": self.parameterAsFile(parameters, "MODEL", context),
            "origin": text_of(self, parameters, "ORIGIN", context),
            "device": device_of(self, parameters, context),
        }
        result = self.run_backend(request, [output], feedback)
        summary = result.summary
        feedback.pushInfo(
            f"{summary['features']} forecasts for {summary['sensors']} sensors from "
            f"{summary['origin']}: {summary['first_time']} … {summary['last_time']}."
        )
        span = time_span_text([summary["first_time"], summary["last_time"]])
        self.present(
            context,
            output,
            GraduatedPointsPostProcessor,
            f"{self.input_label()} forecast {span}",
            f"Forecasts of {self.input_label()} at {summary['sensors']} sensors for {summary['horizon']} "
            f"steps from {summary['origin']} (forecast, 80 % interval lower–upper)",
            field="forecast",
            ramp="Viridis",
            units=summary.get("units"),
        )
        return {"OUTPUT": output}
