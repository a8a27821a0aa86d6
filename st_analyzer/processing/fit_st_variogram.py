"""stanalyzer:fitstvariogram — sample space-time variogram and fitted model (JSON) with a report."""

from qgis.core import (
    QgsProcessingParameterDistance,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)

from st_analyzer.processing.common import StAlgorithm, add_choice, add_html_output, choice_of, file_output
from st_analyzer.processing.inputs import add_station_input, station_input

MODELS = [
    ("best", "Best by fit error (tries all)"),
    ("separable", "Separable"),
    ("productSum", "Product-sum"),
    ("metric", "Metric"),
    ("sumMetric", "Sum-metric"),
    ("simpleSumMetric", "Simple sum-metric"),
    ("best_cv", "Best by cross-validation (tries all; slower)"),
]
BASIC_MODELS = [(m, m) for m in ("Exp", "Sph", "Gau", "Mat")]
FIT_METHODS = [
    (6, "6: no weights (gstat default)"),
    (7, "7: N / (h² + (stAni·u)²)"),
    (1, "1: N (pairs)"),
    (2, "2: N / γ² (Cressie)"),
    (8, "8: N / h²"),
    (9, "9: N / u²"),
]


class FitStVariogramAlgorithm(StAlgorithm):
    ALG_ID = "fitstvariogram"
    TITLE = "Fit space-time variogram"
    GROUP_ID, GROUP = "interpolation", "Interpolation"
    HELP = (
        "Computes the sample space-time variogram of station observations (semivariance by distance bin and "
        "time lag) and fits a space-time variogram model by weighted least squares, as R gstat's variogramST "
        "and fit.StVariogram do.\n\n"
        "Input: a point layer with one feature per station and time (station id, time and value fields) in a "
        "projected CRS (geographic coordinates are projected to the stations' UTM zone). Times must be "
        "regular (gaps allowed).\n\n"
        "Models: separable, product-sum, metric, sum-metric, simple sum-metric, each built from Exp, Sph, Gau or "
        "Mat components with nuggets; 'Best by fit error' fits all and keeps the smallest mean squared error, "
        "'Best by cross-validation' the smallest leave-one-station-out RMSE (better predictions, slower). "
        "Spatial bins: CUTOFF and WIDTH in metres (0 = a third of the largest station distance, and cutoff/15); "
        "TLAGS time lags of one step each.\n\n"
        "Outputs: the model as JSON (gstat's StVariogramModel terms, distances in m, time lags in the data's "
        "unit), usable by 'Space-time kriging'; an HTML report with the sample variogram and the fitted curves.\n\n"
        "Example: daily PM10 at 68 stations, TLAGS 6 → a sum-metric model with a 52 km spatial range."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_station_input(self)
        add_choice(self, "MODEL", "Space-time model", MODELS, 0)
        add_choice(self, "BASIC_MODEL", "Basic variogram shape", BASIC_MODELS)
        add_choice(self, "FIT_METHOD", "Fit weights (gstat fit.method)", FIT_METHODS)
        self.addParameter(
            QgsProcessingParameterDistance(
                "CUTOFF", "Largest distance (0 = automatic)", 0.0, parentParameterName="INPUT", minValue=0.0
            )
        )
        self.addParameter(
            QgsProcessingParameterDistance(
                "WIDTH", "Distance bin width (0 = cutoff / 15)", 0.0, parentParameterName="INPUT", minValue=0.0
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "TLAGS", "Number of time lags", QgsProcessingParameterNumber.Integer, 6, minValue=1
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination("OUTPUT_MODEL", "Variogram model", fileFilter="JSON files (*.json)")
        )
        add_html_output(self, "OUTPUT_REPORT", "Variogram report")

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        _layer, points = station_input(self, parameters, context, feedback)
        model_path = self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)
        report = file_output(self, parameters, "OUTPUT_REPORT", context)
        request = {
            "points": points,
            "output_model": model_path,
            "output_report": report,
            "variogram": {
                "model": choice_of(self, parameters, "MODEL", context, MODELS),
                "basic_model": choice_of(self, parameters, "BASIC_MODEL", context, BASIC_MODELS),
                "fit_method": choice_of(self, parameters, "FIT_METHOD", context, FIT_METHODS),
                "cutoff": self.parameterAsDouble(parameters, "CUTOFF", context) or None,
                "width": self.parameterAsDouble(parameters, "WIDTH", context) or None,
                "tlags": self.parameterAsInt(parameters, "TLAGS", context),
            },
        }
        result = self.run_backend(request, [p for p in (model_path, report) if p], feedback)
        feedback.pushInfo(f"Fitted {result.summary['model']['stModel']} model, fit MSE {result.summary['mse']:.4g}.")
        return {"OUTPUT_MODEL": model_path, "OUTPUT_REPORT": report}
