"""stanalyzer:detectpointanomalies and stanalyzer:detectrasteranomalies."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from st_analyzer.layers import AnomalyPointsPostProcessor, RasterResultPostProcessor, name_result
from st_analyzer.processing.common import (
    StAlgorithm,
    add_choice,
    add_html_output,
    add_memory_limit_parameter,
    add_scheduler_parameter,
    choice_of,
    file_output,
)
from st_analyzer.processing.inputs import RESAMPLE_HELP, add_stack_input, add_station_input, stack_input, station_input
from st_analyzer.temporal import band_times, time_span_text

SEASONAL = ("seasonal", "Seasonal profile (robust, by hour of day / day of year / calendar month)")
ROLLING_MEDIAN = ("rolling_median", "Rolling median of the preceding window")
POINT_METHODS = [
    ("auto", "Auto: seasonal profile and rolling median together, multi-scale score"),
    ROLLING_MEDIAN,
    ("kriging", "Space-time kriging from the other stations"),
    ("forecaster", "One-step forecast of a trained network forecaster (MODEL)"),
    SEASONAL,
]
RASTER_METHODS = [
    ("auto", "Auto: seasonal profile where every season occurs twice, else a rolling median"),
    ROLLING_MEDIAN,
    SEASONAL,
]
THRESHOLD_MODES = [
    ("score", "Score (|robust z|) above"),
    ("quantile", "Quantile of all scores (0–1)"),
    ("false_alarm_rate", "False-alarm rate for normal residuals (0–1)"),
]


def add_threshold_parameters(alg, modes=THRESHOLD_MODES) -> None:
    add_choice(alg, "THRESHOLD_MODE", "Threshold type", modes)
    alg.addParameter(
        QgsProcessingParameterNumber(
            "THRESHOLD", "Threshold value", QgsProcessingParameterNumber.Double, 3.5, minValue=0.0
        )
    )


def threshold_request(alg, parameters, context, modes=THRESHOLD_MODES) -> dict:
    return {
        "threshold_mode": choice_of(alg, parameters, "THRESHOLD_MODE", context, modes),
        "threshold": alg.parameterAsDouble(parameters, "THRESHOLD", context),
    }


class DetectPointAnomaliesAlgorithm(StAlgorithm):
    ALG_ID = "detectpointanomalies"
    TITLE = "Detect point anomalies"
    GROUP_ID, GROUP = "anomalies", "Anomalies"
    HELP = (
        "Flags unusual values in station time series (sensors, gauges, monitoring stations).\n\n"
        "Input: a point layer, long format (station id, time, value fields) or wide. Irregular times are fine; "
        + RESAMPLE_HELP
        + "\n\n"
        "METHOD gives each observation an expected value: auto (default) scores each observation against both the "
        "seasonal profile (for stations whose series cover two cycles: two days of sub-daily, two years of daily "
        "or monthly data; not with CAUSAL) and a rolling median over at least a day and 7 time steps (or WINDOW "
        "when longer), each residual's z against the preceding week's residuals, the score their mean |z| "
        "smoothed over 1, 2 and 4 × SMOOTH_STEPS (chosen by leave-one-series-out evaluation on labelled traffic "
        "series); the log says which and why; "
        "a robust seasonal profile (4; median by hour of day, weekday/weekend over two weeks or more, by day of "
        "year for daily data, by calendar month for monthly data); the rolling median of the "
        "preceding WINDOW (1; e.g. 6h); or space-time kriging from the other stations (catches a sensor that "
        "disagrees with its neighbours); or, with MODEL (a folder from 'Train network forecaster'), the model's "
        "one-step-ahead forecast from the sensors' preceding readings and their neighbours' (readings must be on the "
        "model's time step). The residual's robust z (median/MAD; CAUSAL = against past residuals "
        "only, as online) averaged over SMOOTH_STEPS time steps is the score. A point is flagged when its score "
        "exceeds the threshold: a score (3.5), a quantile of all scores, or a false-alarm rate for normal "
        "residuals. Flagged points closer than three time steps form one event.\n\n"
        "Outputs: OUTPUT, one point per observation (or only the flagged ones with FLAGGED_ONLY) with station_id, "
        "time, observed, expected, z, score, is_anomaly, event_id, styled by score and with feature times; "
        "OUTPUT_EVENTS (start, end, peak score); OUTPUT_REPORT with series plots.\n\n"
        "Example: 5-min traffic speeds → flagged drops with their events."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_station_input(self)
        add_choice(self, "METHOD", "Expected value", POINT_METHODS, 0)
        self.addParameter(
            QgsProcessingParameterFile(
                "MODEL",
                "Trained network forecaster folder (sets the method to forecaster)",
                behavior=QgsProcessingParameterFile.Folder,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterString("WINDOW", "Rolling median window (e.g. 6h, 2 days)", defaultValue="6h")
        )
        self.addParameter(QgsProcessingParameterBoolean("CAUSAL", "Causal scores (past residuals only)", False))
        self.addParameter(
            QgsProcessingParameterNumber(
                "SMOOTH_STEPS",
                "Score smoothing (time steps; 1 = none)",
                QgsProcessingParameterNumber.Integer,
                12,
                minValue=1,
            )
        )
        add_threshold_parameters(self)
        self.addParameter(QgsProcessingParameterBoolean("FLAGGED_ONLY", "Write only flagged observations", False))
        self.addParameter(
            QgsProcessingParameterVectorDestination("OUTPUT", "Scored observations", QgsProcessing.TypeVectorPoint)
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "OUTPUT_EVENTS", "Anomaly events", QgsProcessing.TypeVector, optional=True
            )
        )
        add_html_output(self, "OUTPUT_REPORT", "Anomaly report")

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        _layer, points = station_input(self, parameters, context, feedback)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        events = self.parameterAsOutputLayer(parameters, "OUTPUT_EVENTS", context) or None
        report = file_output(self, parameters, "OUTPUT_REPORT", context)
        request = {
            "points": points,
            "output": output,
            "output_events": events,
            "output_report": report,
            "flagged_only": self.parameterAsBoolean(parameters, "FLAGGED_ONLY", context),
            "detection": {
                "method": choice_of(self, parameters, "METHOD", context, POINT_METHODS),
                "window": self.parameterAsString(parameters, "WINDOW", context),
                "causal": self.parameterAsBoolean(parameters, "CAUSAL", context),
                "smooth_steps": self.parameterAsInt(parameters, "SMOOTH_STEPS", context),
                "model": self.parameterAsFile(parameters, "MODEL", context) or None,
                **threshold_request(self, parameters, context),
            },
        }
        result = self.run_backend(request, [p for p in (output, events, report) if p], feedback)
        feedback.pushInfo(
            f"{result.summary['flagged']} of {result.summary['observations']} observations flagged, "
            f"{result.summary['events']} event(s)."
        )
        label = self.input_label()
        self.present(
            context,
            output,
            AnomalyPointsPostProcessor,
            f"{label} anomalies",
            f"Scored {label} observations: expected value by {result.summary['method']}, robust score, "
            f"is_anomaly = score above {result.summary['threshold']:.3g}",
        )
        name_result(context, events, f"{label} anomaly events")
        return {"OUTPUT": output, "OUTPUT_EVENTS": events, "OUTPUT_REPORT": report}


class DetectRasterAnomaliesAlgorithm(StAlgorithm):
    ALG_ID = "detectrasteranomalies"
    TITLE = "Detect raster anomalies"
    GROUP_ID, GROUP = "anomalies", "Anomalies"
    HELP = (
        "Scores every cell and time step of a raster time stack, chunk by chunk (bounded memory, all cores).\n\n"
        "METHOD gives the expected value per cell: auto (default) takes the seasonal profile when the stack covers "
        "every season twice, else the rolling median, and says which; the median of the cell's values in the same "
        "season (2; hour of day for sub-daily stacks, day of year for daily, calendar month otherwise) or the median "
        "of its preceding WINDOW_STEPS values (1). The score is the absolute robust z of the residual "
        "along time (median/MAD per "
        "cell; constant cells score 0).\n\n"
        "Outputs: OUTPUT_SCORES (one band per time), OUTPUT_FLAGS (1 = score above the threshold, 0 = not, no data "
        "kept) and OUTPUT_SUMMARY (number of flagged steps per cell). Thresholds: a score, or a false-alarm rate "
        "for normal residuals.\n\n"
        "Example: hourly temperature → cells and hours far from their usual value for that hour."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_stack_input(self)
        add_choice(self, "METHOD", "Expected value", RASTER_METHODS, 0)
        self.addParameter(
            QgsProcessingParameterNumber(
                "WINDOW_STEPS", "Rolling median window (steps)", QgsProcessingParameterNumber.Integer, 24, minValue=2
            )
        )
        modes = [THRESHOLD_MODES[0], THRESHOLD_MODES[2]]
        add_threshold_parameters(self, modes)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_SCORES", "Anomaly scores"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_FLAGS", "Anomaly flags (0/1)", optional=True))
        self.addParameter(
            QgsProcessingParameterRasterDestination("OUTPUT_SUMMARY", "Flagged steps per cell", optional=True)
        )
        add_memory_limit_parameter(self)
        add_scheduler_parameter(self)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        outputs = {
            name: self.parameterAsOutputLayer(parameters, name, context) or None
            for name in ("OUTPUT_SCORES", "OUTPUT_FLAGS", "OUTPUT_SUMMARY")
        }
        request = {
            "input": stack_input(self, parameters, context),
            "output_scores": outputs["OUTPUT_SCORES"],
            "output_flags": outputs["OUTPUT_FLAGS"],
            "output_summary": outputs["OUTPUT_SUMMARY"],
            "method": choice_of(self, parameters, "METHOD", context, RASTER_METHODS),
            "window_steps": self.parameterAsInt(parameters, "WINDOW_STEPS", context),
            **threshold_request(self, parameters, context, [THRESHOLD_MODES[0], THRESHOLD_MODES[2]]),
        }
        result = self.run_backend(request, [p for p in outputs.values() if p], feedback)
        summary = result.summary
        feedback.pushInfo(f"Threshold {summary['threshold']:.3g}: {summary['flagged']} flagged cell-steps.")
        times, label = band_times(summary), self.input_label()
        span = time_span_text(summary.get("times") or [])
        threshold = f"score above {summary['threshold']:.3g}"
        self.present(
            context,
            outputs["OUTPUT_SCORES"],
            RasterResultPostProcessor,
            f"{label} anomaly scores {span}",
            f"Anomaly scores (|robust z| of the residual) of {label} per cell and time step; flagged: {threshold}",
            value_range=(0.0, 2 * summary["threshold"]),
            ramp="Reds",
            **times,
        )
        self.present(
            context,
            outputs["OUTPUT_FLAGS"],
            RasterResultPostProcessor,
            f"{label} anomaly flags {span}",
            f"1 where the anomaly score of {label} is a {threshold}, else 0",
            value_range=(0.0, 1.0),
            style="anomaly_flags_raster",
            **times,
        )
        self.present(
            context,
            outputs["OUTPUT_SUMMARY"],
            RasterResultPostProcessor,
            f"{label} flagged steps",
            f"Number of time steps per cell whose {label} anomaly {threshold}",
            value_range=(0.0, max(1.0, summary["max_count"])),
            ramp="Magma",
        )
        return outputs
