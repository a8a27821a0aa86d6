"""stanalyzer:forecastbylocation — one classical model per station or raster cell."""

from qgis.core import QgsProcessingParameterFileDestination, QgsProcessingParameterNumber

from st_analyzer.layers import GraduatedPointsPostProcessor, RasterResultPostProcessor, load_result
from st_analyzer.processing.common import (
    StAlgorithm,
    add_choice,
    add_html_output,
    add_scheduler_parameter,
    choice_of,
    file_output,
)
from st_analyzer.processing.diagnostics import INPUT_HELP, RESULT_FILTER, add_result_output
from st_analyzer.processing.inputs import add_series_input, series_source
from st_analyzer.styles import style_categories
from st_analyzer.temporal import band_times, time_span_text

METHODS = [
    ("best", "Best per location by validation error"),
    ("arima", "ARIMA (order chosen automatically, seasonal when a season is found)"),
    ("ets", "Exponential smoothing (ETS, model chosen automatically)"),
    ("curve", "Curve fit (linear, parabolic, exponential or Gompertz per location)"),
    ("forest", "Forest-based (random forest on lags, season and calendar)"),
    ("seasonal_naive", "Seasonal naive"),
]
METHOD_COLOURS = ["#9e9e9e", "#1f77b4", "#2ca02c", "#ff7f0e", "#8c564b", "#7f7f7f"]


class ForecastByLocationAlgorithm(StAlgorithm):
    ALG_ID = "forecastbylocation"
    TITLE = "Forecast by location"
    GROUP_ID, GROUP = "forecasting", "Forecasting"
    HELP = (
        "Forecasts every station or raster cell with its own classical time-series model (as ArcGIS Pro's Curve "
        "Fit, Exponential Smoothing and Forest-based Forecast), with prediction intervals.\n\n" + INPUT_HELP + "\n\n"
        "METHOD: best per location (default: every method below is fitted on all but the last VALIDATION_STEPS, "
        "scored there by RMSE, and each location's best is refitted on the whole series), ARIMA (statsforecast "
        "AutoARIMA), exponential smoothing (statsforecast AutoETS), curve fit (linear, parabolic, exponential or "
        "Gompertz, the one that predicts the series' own last steps best), forest-based (a random forest per "
        "location on the detrended series' lags, the position in the season and calendar features, forecast step "
        "by step) or seasonal naive. SEASON_LENGTH 0 detects each location's season from its periodogram (calendar "
        "periods such as 7 days, 24 hours or 12 months first; 1 = no season). Missing values inside a series are "
        "interpolated for fitting; scores use observed values only. A method that fails at a location is replaced "
        "there by the next best (the log counts them).\n\n"
        "OUTPUT: for points, one feature per station and future step (station_id, time, step, forecast, lower, "
        "upper, method) with feature times; for a raster, one band per future step with its time (OUTPUT_LOWER "
        "and OUTPUT_UPPER hold the bounds). INTERVAL is the coverage of lower–upper. OUTPUT_EVALUATION: per "
        "location the validation RMSE of every method tried, the method used (METHOD number), the season length "
        "and the share of validation values inside the interval (a raster with one band per field for stacks). "
        "OUTPUT_REPORT: methods used, validation errors by method and lead, example series.\n\n"
        "Example: daily PM10 at 68 stations, HORIZON 7, VALIDATION_STEPS 14 → next week's forecast per station."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_series_input(self)
        add_choice(self, "METHOD", "Method", METHODS, 0)
        for name, label, default, minimum in (
            ("HORIZON", "Horizon (steps ahead)", 7, 1),
            ("VALIDATION_STEPS", "Validation steps (the last steps held out to score and choose)", 14, 0),
            ("SEASON_LENGTH", "Season length in steps (0 = detect from the periodogram, 1 = none)", 0, 0),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    name, label, QgsProcessingParameterNumber.Integer, default, minValue=minimum
                )
            )
        self.addParameter(
            QgsProcessingParameterNumber(
                "INTERVAL",
                "Interval coverage (0–1)",
                QgsProcessingParameterNumber.Double,
                0.9,
                minValue=0.5,
                maxValue=0.995,
            )
        )
        add_result_output(self, "OUTPUT", "Forecasts")
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT_EVALUATION", "Evaluation per location", fileFilter=RESULT_FILTER, optional=True
            )
        )
        for name, label in (("OUTPUT_LOWER", "Lower bounds (rasters)"), ("OUTPUT_UPPER", "Upper bounds (rasters)")):
            self.addParameter(
                QgsProcessingParameterFileDestination(
                    name, label, fileFilter="GeoTIFF (*.tif)", optional=True, createByDefault=False
                )
            )
        add_html_output(self, "OUTPUT_REPORT", "Forecast report")
        add_scheduler_parameter(self)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        source, is_raster = series_source(self, parameters, context, feedback)
        outputs = {
            "OUTPUT": self.parameterAsFileOutput(parameters, "OUTPUT", context),
            **{
                name: file_output(self, parameters, name, context)
                for name in ("OUTPUT_EVALUATION", "OUTPUT_LOWER", "OUTPUT_UPPER", "OUTPUT_REPORT")
            },
        }
        if not is_raster:
            outputs["OUTPUT_LOWER"] = outputs["OUTPUT_UPPER"] = None  # points carry lower and upper as fields
        method = choice_of(self, parameters, "METHOD", context, METHODS)
        request = {
            "source": source,
            **{name.lower(): path for name, path in outputs.items()},
            "settings": {
                "method": method,
                "horizon": self.parameterAsInt(parameters, "HORIZON", context),
                "validation_steps": self.parameterAsInt(parameters, "VALIDATION_STEPS", context),
                "season_length": self.parameterAsInt(parameters, "SEASON_LENGTH", context),
                "interval": self.parameterAsDouble(parameters, "INTERVAL", context),
            },
        }
        result = self.run_backend(request, [p for p in outputs.values() if p], feedback)
        outputs.update({k: v for k, v in result.outputs.items() if k in outputs})  # .gpkg for point results
        summary = result.summary
        used = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.get("methods_used", {}).items())
        if used:
            feedback.pushInfo(f"Methods used: {used}.")
        span = time_span_text(summary["times"])
        label = method.replace("_", " ")
        coverage = f"{100 * request['settings']['interval']:g} %"
        if is_raster:
            for key, suffix in (("OUTPUT", "forecast"), ("OUTPUT_LOWER", "lower"), ("OUTPUT_UPPER", "upper")):
                self.present(
                    context,
                    outputs[key],
                    RasterResultPostProcessor,
                    f"{self.input_label()} {suffix} {span}",
                    f"{suffix.capitalize()} ({coverage} interval) of the {label} forecast per cell of "
                    f"{self.input_label()}, {len(summary['times'])} steps ({span}), one band each",
                    value_range=(summary["value_min"], summary["value_max"]),
                    units=summary.get("units"),
                    **band_times(summary),
                )
        else:
            self.present(
                context,
                outputs["OUTPUT"],
                GraduatedPointsPostProcessor,
                f"{self.input_label()} forecast {span}",
                f"Forecasts per station of {self.input_label()} by {label} ({coverage} interval lower–upper)",
                field="forecast",
                ramp="Viridis",
                units=summary.get("units"),
            )
        load_result(
            context,
            outputs["OUTPUT_EVALUATION"],
            f"{self.input_label()} forecast evaluation",
            is_raster,
            style_categories,
            abstract=self.abstract(
                f"Validation RMSE per method and the method used per location of {self.input_label()}"
            ),
            field="method",
            band=summary["evaluation_bands"].index("method") + 1 if is_raster else 1,
            classes=[
                (number if is_raster else key, label.split(" (")[0], colour)
                for number, ((key, label), colour) in enumerate(zip(METHODS, METHOD_COLOURS))
                if number
            ],
        )
        return outputs
