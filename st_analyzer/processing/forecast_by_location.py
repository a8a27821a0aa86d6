"""stanalyzer:forecastbylocation (one classical model per station or raster cell) and evaluateforecasts."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsRasterLayer,
)

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
from st_analyzer.processing.inputs import add_series_input, ogr_path_of, raster_path_of, series_source
from st_analyzer.styles import style_categories
from st_analyzer.temporal import band_times, time_span_text

METHODS = [
    ("best", "Best per location by validation error"),
    ("arima", "ARIMA (order chosen automatically, seasonal when a season is found)"),
    ("ets", "Exponential smoothing (ETS, model chosen automatically)"),
    ("curve", "Curve fit (linear, parabolic, exponential or Gompertz per location)"),
    ("forest", "Forest-based (random forest on lags, season and calendar)"),
    ("seasonal_naive", "Seasonal naive"),
    ("combination", "Combination (the mean of the five methods' forecasts)"),
]
METHOD_COLOURS = ["#9e9e9e", "#1f77b4", "#2ca02c", "#ff7f0e", "#8c564b", "#7f7f7f", "#9467bd"]


class ForecastByLocationAlgorithm(StAlgorithm):
    ALG_ID = "forecastbylocation"
    TITLE = "Forecast by location"
    GROUP_ID, GROUP = "forecasting", "Forecasting"
    HELP = (
        "Forecasts every station or raster cell with its own classical time-series model (as ArcGIS Pro's Curve "
        "Fit, Exponential Smoothing and Forest-based Forecast), with prediction intervals.\n\n" + INPUT_HELP + "\n\n"
        "METHOD: best per location (default: every method below is fitted on all but the last VALIDATION_STEPS and "
        "scored there by RMSE; the method with the smallest RMSE over all locations is used, except where a "
        "location's own best beats it by more than two standard errors there, and refitted on the whole series), "
        "ARIMA (statsforecast AutoARIMA), exponential smoothing (statsforecast AutoETS, trends damped), curve fit "
        "(linear, parabolic, exponential or Gompertz, the one that predicts the series' own last steps best), "
        "forest-based (a random forest per location on the series' lags, the position in the season and the "
        "calendar cycles its history covers twice, forecast step by step), seasonal naive, or the combination (the "
        "mean of those five forecasts). SEASON_LENGTH 0 detects each location's season from its periodogram "
        "(calendar "
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


class EvaluateForecastsAlgorithm(StAlgorithm):
    ALG_ID = "evaluateforecasts"
    TITLE = "Evaluate forecasts by location"
    GROUP_ID, GROUP = "forecasting", "Forecasting"
    HELP = (
        "Compares several forecasts of the same stations or raster cells with what was then observed and keeps, per "
        "location, the forecast that was closest (as ArcGIS Pro's Evaluate Forecasts by Location).\n\n"
        "FORECASTS: two or more point forecasts (the OUTPUT of 'Forecast by location' or 'Forecast sensor network': "
        "station_id, time, forecast, and lower, upper when present) or two or more raster forecasts on one grid "
        "with band times ('Forecast by location', 'Forecast raster', 'Baseline forecast'). INPUT: the observed "
        "values of the forecast period — a point layer (ID_FIELD, TIME_FIELD, VALUE_FIELD as elsewhere) or a "
        "raster stack with band times on the same grid.\n\n"
        "Each forecast is scored per location by its RMSE over the times where it and an observation exist; the "
        "best is the one of smallest RMSE among those scored on the most times there (ties: the earlier in "
        "FORECASTS). OUTPUT: the best forecast per location merged into one layer (with its source and "
        "validation_rmse) or one stack. OUTPUT_EVALUATION: per location the RMSE of every forecast (rmse_<name>), "
        "the times scored and the best (a raster with one band per forecast and a band of the best's number). "
        "OUTPUT_REPORT: how often each forecast won and its median RMSE.\n\n"
        "Example: 'Forecast by location' with ARIMA and with the forest from data until 24 March, the "
        "observations until 31 March → the better model per station for the last week."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self.addParameter(
            QgsProcessingParameterMultipleLayers("FORECASTS", "Forecasts to compare", QgsProcessing.TypeMapLayer)
        )
        add_series_input(self, memory_limit=False)
        self.parameterDefinition("INPUT").setDescription("Observed values of the forecast period")
        add_result_output(self, "OUTPUT", "Best forecast per location")
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT_EVALUATION", "Evaluation per location", fileFilter=RESULT_FILTER, optional=True
            )
        )
        add_html_output(self, "OUTPUT_REPORT", "Evaluation report")

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        observed, is_raster = series_source(self, parameters, context, feedback)
        layers = self.parameterAsLayerList(parameters, "FORECASTS", context)
        if len(layers) < 2:
            raise QgsProcessingException("Choose at least two forecasts of the same locations to compare.")
        forecasts = []
        for layer in layers:
            if isinstance(layer, QgsRasterLayer) != is_raster:
                kind = "raster stacks" if is_raster else "point forecasts"
                raise QgsProcessingException(f"{layer.name()}: with this INPUT the forecasts must be {kind}.")
            forecasts.append(raster_path_of(layer) if is_raster else ogr_path_of(layer, feedback)[0])
        outputs = {
            "OUTPUT": self.parameterAsFileOutput(parameters, "OUTPUT", context),
            "OUTPUT_EVALUATION": file_output(self, parameters, "OUTPUT_EVALUATION", context),
            "OUTPUT_REPORT": file_output(self, parameters, "OUTPUT_REPORT", context),
        }
        request = {
            "forecasts": forecasts,
            "names": [layer.name() for layer in layers],
            "observed": observed,
            **{name.lower(): path for name, path in outputs.items()},
        }
        result = self.run_backend(request, [p for p in outputs.values() if p], feedback)
        outputs.update({k: v for k, v in result.outputs.items() if k in outputs})
        wins = ", ".join(f"{k} {v}" for k, v in result.summary["best_counts"].items())
        feedback.pushInfo(f"Best forecast per location: {wins}.")
        load_result(
            context,
            outputs["OUTPUT"],
            f"{self.input_label()} best forecast",
            is_raster,
            abstract=self.abstract(f"The best of {len(layers)} forecasts per location of {self.input_label()}"),
        )
        load_result(
            context,
            outputs["OUTPUT_EVALUATION"],
            f"{self.input_label()} forecast comparison",
            is_raster,
            abstract=self.abstract(f"RMSE of each forecast per location of {self.input_label()}"),
        )
        return outputs
