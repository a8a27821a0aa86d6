"""stanalyzer:stkrigingcv — leave-one-station-out cross-validation of space-time kriging."""

from qgis.core import QgsProcessing, QgsProcessingParameterBoolean, QgsProcessingParameterVectorDestination

from st_analyzer.processing.common import StAlgorithm, add_html_output, file_output
from st_analyzer.processing.inputs import add_station_input, station_input
from st_analyzer.processing.kriging_parameters import add_kriging_parameters, kriging_request


class StKrigingCvAlgorithm(StAlgorithm):
    ALG_ID = "stkrigingcv"
    TITLE = "Space-time kriging cross-validation"
    GROUP_ID, GROUP = "interpolation", "Interpolation"
    HELP = (
        "Checks a space-time kriging model honestly: every station is left out in turn and all its observations "
        "are predicted from the other stations only (leave-one-station-out).\n\n"
        "Input: station observations (long format) and a model JSON (empty = fitted automatically: the report then "
        "shows the cross-validation table of every candidate model and neighbourhood size, pure spatial kriging per "
        "time step included, and why the winner won), with the same neighbourhood options as 'Space-time "
        "kriging'.\n\n"
        "Outputs: OUTPUT, one point per station with n, rmse, mae, bias, cor and mean_z2 (mean squared "
        "standardised error, near 1 when kriging variances are realistic); OUTPUT_RESIDUALS, one row per "
        "observation; OUTPUT_REPORT, an HTML report. With COMPARE_SPATIAL the same errors are given for pure "
        "spatial kriging of each time step, the baseline space-time kriging should beat.\n\n"
        "Example: PM10, 68 stations, NMAX 50 → RMSE per station and overall in µg/m³."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_station_input(self)
        add_kriging_parameters(self)
        self.addParameter(
            QgsProcessingParameterBoolean("COMPARE_SPATIAL", "Compare with pure spatial kriging", defaultValue=True)
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination("OUTPUT", "Errors per station", QgsProcessing.TypeVectorPoint)
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "OUTPUT_RESIDUALS",
                "Residuals per observation",
                QgsProcessing.TypeVector,
                optional=True,
                createByDefault=False,
            )
        )
        add_html_output(self, "OUTPUT_REPORT", "Cross-validation report")

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        _layer, points = station_input(self, parameters, context, feedback)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        residuals = self.parameterAsOutputLayer(parameters, "OUTPUT_RESIDUALS", context) or None
        report = file_output(self, parameters, "OUTPUT_REPORT", context)
        request = {
            "points": points,
            "output_table": output,
            "output_residuals": residuals,
            "output_report": report,
            "compare_spatial": self.parameterAsBoolean(parameters, "COMPARE_SPATIAL", context),
            **kriging_request(self, parameters, context),
        }
        result = self.run_backend(request, [p for p in (output, residuals, report) if p], feedback)
        metrics = result.summary["space_time"]
        feedback.pushInfo(
            f"Space-time kriging: RMSE {metrics['rmse']:.4g}, MAE {metrics['mae']:.4g}, "
            f"bias {metrics['bias']:.4g}, correlation {metrics['cor']:.3f}."
        )
        if "spatial_only" in result.summary:
            feedback.pushInfo(f"Pure spatial kriging per time step: RMSE {result.summary['spatial_only']['rmse']:.4g}.")
        return {"OUTPUT": output, "OUTPUT_RESIDUALS": residuals, "OUTPUT_REPORT": report}
