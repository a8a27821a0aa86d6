"""stanalyzer:trainnetworkforecaster and forecastnetwork — forecasts at many located sensors at once."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from st_analyzer.layers import GraduatedPointsPostProcessor
from st_analyzer.processing.common import (
    BLEND_HELP,
    TIME_BUDGET_HELP,
    StAlgorithm,
    add_choice,
    add_device_parameter,
    add_html_output,
    add_training_parameters,
    choice_of,
    device_of,
    file_output,
    text_of,
    training_config,
)
from st_analyzer.processing.inputs import SENSOR_INPUT_HELP, TABLE_FILTER, add_sensor_inputs, sensor_request
from st_analyzer.temporal import time_span_text

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
        "road distances). Time of day, day of week and day of year are model inputs, and so is each sensor's "
        "historical average by time of week (of the training period): the network learns the departure from it. "
        "The mean forecast is trained on the absolute error (the MAE it is scored by).\n\n"
        "The series are split in time order: training, VALIDATION_FRACTION for early stopping, TEST_FRACTION held "
        "out. OUTPUT_REPORT gives the held-out masked MAE, RMSE and MAPE per horizon step of the model and of "
        "persistence, historical average by time of week, seasonal naive, exponential smoothing and an AR model "
        "per sensor, a map of the error per sensor and example series. OUTPUT_MODEL is a folder (config.json + "
        "weights.pt, with the sensor ids, coordinates and graph) for 'Forecast sensor network'.\n\n"
        + BLEND_HELP
        + TIME_BUDGET_HELP
        + "Example: 5-min speeds of 200 loop detectors (wide CSV, MISSING_VALUE 0), LOOKBACK 12, HORIZON 12 "
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
