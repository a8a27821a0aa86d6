"""stanalyzer:timeseriesdiagnostics, timeseriesclustering and emerginghotspots (raster stacks or point layers)."""

from qgis.core import QgsProcessingParameterFileDestination, QgsProcessingParameterNumber, QgsProcessingParameterString

from st_analyzer.layers import load_result
from st_analyzer.processing.common import (
    StAlgorithm,
    add_choice,
    add_html_output,
    add_scheduler_parameter,
    choice_of,
    file_output,
    text_of,
)
from st_analyzer.processing.inputs import RESAMPLE_HELP, add_series_input, series_source
from st_analyzer.styles import CLUSTER_COLOURS, HOT_SPOT_COLOURS, style_categories, style_diverging

RESULT_FILTER = "GeoTIFF for raster input (*.tif);;GeoPackage for point input (*.gpkg);;CSV (*.csv)"
INPUT_HELP = (
    "INPUT: a raster time stack with band times (from 'Build raster time stack') or a point layer of "
    "station series, long (ID_FIELD, TIME_FIELD, VALUE_FIELD) or wide (VALUE_FIELDS). Steps may be fixed "
    "(hours, days) or calendar months, quarters or years (monthly data on the first or last day of each "
    "month). " + RESAMPLE_HELP
)


def add_time_step(alg, description: str) -> None:
    alg.addParameter(QgsProcessingParameterString("TIME_STEP", description, optional=True))


def add_result_output(alg, name: str, description: str) -> None:
    alg.addParameter(QgsProcessingParameterFileDestination(name, description, fileFilter=RESULT_FILTER))


def time_step_of(alg, parameters, context) -> str | None:
    return text_of(alg, parameters, "TIME_STEP", context)


NEIGHBOURHOODS = [
    ("auto", "Automatic (distance band for points, queen for rasters)"),
    ("distance_band", "Distance band (DISTANCE)"),
    ("knn", "k nearest (points)"),
    ("queen", "Queen contiguity (rasters)"),
    ("rook", "Rook contiguity (rasters)"),
]


def add_neighbourhood_parameters(alg) -> None:
    """NEIGHBOURHOOD, DISTANCE, K_NEIGHBOURS, TIME_STEP and ALPHA of the hot spot and local outlier analyses."""
    add_choice(alg, "NEIGHBOURHOOD", "Neighbourhood", NEIGHBOURHOODS, 0)
    alg.addParameter(
        QgsProcessingParameterNumber(
            "DISTANCE",
            "Distance band (m for points, map units for rasters; 0 = automatic)",
            QgsProcessingParameterNumber.Double,
            0.0,
            minValue=0.0,
        )
    )
    alg.addParameter(
        QgsProcessingParameterNumber(
            "K_NEIGHBOURS", "Neighbours (k nearest)", QgsProcessingParameterNumber.Integer, 8, minValue=1
        )
    )
    add_time_step(alg, "Time step aggregation (e.g. 1D, 7D, 1M, 3M, 1Y; empty = the data's own step)")
    alg.addParameter(
        QgsProcessingParameterNumber(
            "ALPHA",
            "Significance level (FDR)",
            QgsProcessingParameterNumber.Double,
            0.05,
            minValue=0.001,
            maxValue=0.49,
        )
    )


def neighbourhood_request(alg, parameters, context) -> dict:
    return {
        "neighbourhood": choice_of(alg, parameters, "NEIGHBOURHOOD", context, NEIGHBOURHOODS),
        "distance": alg.parameterAsDouble(parameters, "DISTANCE", context),
        "k": alg.parameterAsInt(parameters, "K_NEIGHBOURS", context),
        "alpha": alg.parameterAsDouble(parameters, "ALPHA", context),
    }


class SeriesResultAlgorithm(StAlgorithm):
    """Raster-or-points algorithms: INPUT, TIME_STEP, OUTPUT (type follows the input) and OUTPUT_REPORT."""

    GROUP_ID, GROUP = "diagnostics", "Diagnostics"
    LAYER_NAME = ""  # the result's name after the input's: "pm10 trends"
    LAYER_ABSTRACT = ""

    def request(self, parameters, context) -> dict:
        """This algorithm's own request fields."""
        raise NotImplementedError

    def style(self, result) -> tuple:
        """(style function, keyword arguments) for the loaded OUTPUT."""
        raise NotImplementedError

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        source, is_raster = series_source(self, parameters, context, feedback)
        outputs = {
            "OUTPUT": self.parameterAsFileOutput(parameters, "OUTPUT", context),
            "OUTPUT_REPORT": file_output(self, parameters, "OUTPUT_REPORT", context),
        }
        for definition in self.destinationParameterDefinitions():  # the algorithm's further outputs
            outputs.setdefault(definition.name(), file_output(self, parameters, definition.name(), context))
        request = {
            "source": source,
            "time_step": time_step_of(self, parameters, context),
            **{name.lower(): path for name, path in outputs.items()},
            **self.request(parameters, context),
        }
        result = self.run_backend(request, [p for p in outputs.values() if p], feedback)
        outputs["OUTPUT"] = result.outputs["OUTPUT"]  # a point result given a raster name is written as .gpkg
        function, kwargs = self.style(result)
        load_result(
            context,
            outputs["OUTPUT"],
            f"{self.input_label()} {self.LAYER_NAME}",
            is_raster,
            function,
            abstract=self.abstract(f"{self.LAYER_ABSTRACT} of {self.input_label()}"),
            **kwargs,
        )
        return outputs


class TimeSeriesDiagnosticsAlgorithm(SeriesResultAlgorithm):
    ALG_ID = "timeseriesdiagnostics"
    TITLE = "Time-series diagnostics"
    LAYER_NAME = "trends and diagnostics"
    LAYER_ABSTRACT = "Trend (Mann-Kendall, Sen's slope), seasonality, stationarity and change points per location"
    HELP = (
        "Tests every station or raster cell for trend, seasonality, stationarity and change points.\n\n"
        + INPUT_HELP
        + "\n\n"
        "Per location: Mann-Kendall trend test with Sen's slope (units per time step; slope_per_year per year) and "
        "the Hamed–Rao correction for serial correlation (trend_z, trend_p), the original test without correction "
        "(mk_z, mk_p, as pymannkendall's original_test), and for monthly or quarterly data the seasonal "
        "Mann-Kendall test (seasonal_mk_z, seasonal_mk_p, seasonal_slope_per_year, as pymannkendall's "
        "seasonal_test with period 12 or 4); STL seasonality strength 0–1 for PERIOD steps (0 = a day for "
        "sub-daily data, a year or a week for daily data, 12 for monthly, 4 for quarterly data) and the "
        "dominant period of the periodogram; ADF and KPSS "
        "p-values with a verdict (0 stationary, 1 trend-stationary, 2 difference-stationary, 3 non-stationary); "
        "the number of change points in the mean (binary segmentation, at most MAX_CHANGE_POINTS, segments of at "
        "least MIN_SEGMENT steps) and the first one; missing share. Series with fewer than 4 values get empty "
        "results; constant series get no trend.\n\n"
        "OUTPUT: for a raster, one multiband GeoTIFF (bands named trend_slope, trend_z, trend_p, seasonality, "
        "period, adf_p, kpss_p, stationarity, change_points, first_change, missing_share, n_values, mk_z, mk_p, "
        "slope_per_year, seasonal_mk_z, seasonal_mk_p, seasonal_slope_per_year; shown on "
        "trend_z); for points, a layer with those fields. OUTPUT_REPORT: summary and example series.\n\n"
        "Example: 10 years of daily PM10 per station → where concentrations fall significantly."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_series_input(self)
        add_time_step(self, "Average points to this step first (e.g. 1D, 7D, 1M, 3M, 1Y; empty = as is)")
        for name, label, default in (
            ("PERIOD", "Seasonal period in steps (0 = from the calendar)", 0),
            ("MAX_CHANGE_POINTS", "Most change points per series", 5),
            ("MIN_SEGMENT", "Shortest segment between change points (steps)", 5),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(name, label, QgsProcessingParameterNumber.Integer, default, minValue=0)
            )
        self.addParameter(
            QgsProcessingParameterNumber(
                "ALPHA", "Significance level", QgsProcessingParameterNumber.Double, 0.05, minValue=0.001, maxValue=0.49
            )
        )
        add_result_output(self, "OUTPUT", "Diagnostics")
        add_html_output(self, "OUTPUT_REPORT", "Diagnostics report")
        add_scheduler_parameter(self)

    def request(self, parameters, context) -> dict:
        return {
            "settings": {
                "period": self.parameterAsInt(parameters, "PERIOD", context),
                "alpha": self.parameterAsDouble(parameters, "ALPHA", context),
                "max_changes": max(1, self.parameterAsInt(parameters, "MAX_CHANGE_POINTS", context)),
                "min_size": max(2, self.parameterAsInt(parameters, "MIN_SEGMENT", context)),
            }
        }

    def style(self, result) -> tuple:
        return style_diverging, {"field": "trend_z", "band": 2}


class EmergingHotSpotsAlgorithm(SeriesResultAlgorithm):
    ALG_ID = "emerginghotspots"
    TITLE = "Emerging hot spots"
    LAYER_NAME = "emerging hot spots"
    LAYER_ABSTRACT = "Emerging hot and cold spot categories (Gi* per time step, Mann-Kendall of the z-scores)"
    HELP = (
        "Finds where hot and cold spots appear, grow, persist, fade or come and go over time (as ArcGIS Pro's "
        "Emerging Hot Spot Analysis).\n\n"
        + INPUT_HELP
        + " TIME_STEP averages the series to coarser steps first (e.g. 7D weekly, 1M monthly, 3M quarterly, 1Y "
        "yearly; calendar steps start on the first of the month).\n\n"
        "For each step, Getis-Ord Gi* z-scores compare each location's neighbourhood (itself included) with all "
        "locations; p-values are FDR-corrected (Benjamini–Hochberg) per step and compared with ALPHA. "
        "NEIGHBOURHOOD: points use a distance band (DISTANCE in metres; 0 = the smallest band that gives every "
        "location a neighbour; ellipsoidal distances for geographic layers) or the K nearest; rasters use queen "
        "or rook contiguity or a distance band in map units. A Mann-Kendall test of each location's Gi* z series "
        "gives the trend. Categories: new, consecutive, intensifying, persistent, diminishing, sporadic, "
        "oscillating, historical hot or cold spot, or no pattern (rules in the README).\n\n"
        "OUTPUT: a layer (points) or raster (bands category_code, trend_z, trend_p, hot_steps, cold_steps) with a "
        "categorised style; OUTPUT_REPORT with the counts per category.\n\n"
        "Example: weekly PM10 means at 68 stations → stations in growing clusters of high values."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_series_input(self)
        add_neighbourhood_parameters(self)
        add_result_output(self, "OUTPUT", "Emerging hot spots")
        add_html_output(self, "OUTPUT_REPORT", "Hot spot report")
        add_scheduler_parameter(self)

    def request(self, parameters, context) -> dict:
        return neighbourhood_request(self, parameters, context)

    def style(self, result) -> tuple:
        names = result.summary["category_names"]
        return style_categories, {
            "style": "emerging_hot_spots",
            "field": "category_code",
            "band": 1,
            "classes": [(code, name, HOT_SPOT_COLOURS[code]) for code, name in enumerate(names)],
        }


class TimeSeriesClusteringAlgorithm(SeriesResultAlgorithm):
    ALG_ID = "timeseriesclustering"
    TITLE = "Time-series clustering"
    LAYER_NAME = "clusters"
    LAYER_ABSTRACT = "Time-series clusters (k-means) per location"
    FEATURES = [
        ("value", "Value (level and shape: series scaled together)"),
        ("shape", "Shape (each series standardised: correlation-like)"),
    ]
    HELP = (
        "Groups stations or raster cells whose time series behave alike (k-means, scikit-learn).\n\n"
        + INPUT_HELP
        + " TIME_STEP averages the series first.\n\n"
        "FEATURES: value clusters by level and pattern (all series scaled with one mean and standard deviation); "
        "shape clusters by pattern only (each series standardised on its own). N_CLUSTERS 0 picks 2–8 clusters by "
        "the silhouette score. Gaps count as the series mean.\n\n"
        "OUTPUT: cluster ids (1…k; 0/no data for empty series) as a layer or one-band raster with a categorised "
        "style; OUTPUT_PROFILES: per cluster and time the mean and the 10/90 % band of its members; OUTPUT_REPORT "
        "with the profiles plotted and the silhouette scores.\n\n"
        "Example: hourly temperature cells → coastal vs. inland daily cycles."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_series_input(self)
        self.addParameter(
            QgsProcessingParameterNumber(
                "N_CLUSTERS", "Number of clusters (0 = automatic)", QgsProcessingParameterNumber.Integer, 0, minValue=0
            )
        )
        add_choice(self, "FEATURES", "Features", self.FEATURES, 0)
        add_time_step(self, "Average to this step first (e.g. 1D, 1M; empty = as is)")
        self.addParameter(QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer, 0))
        add_result_output(self, "OUTPUT", "Clusters")
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT_PROFILES",
                "Cluster profiles",
                fileFilter="CSV (*.csv);;GeoPackage (*.gpkg)",
                optional=True,
                createByDefault=False,
            )
        )
        add_html_output(self, "OUTPUT_REPORT", "Clustering report")
        add_scheduler_parameter(self)

    def request(self, parameters, context) -> dict:
        return {
            "n_clusters": self.parameterAsInt(parameters, "N_CLUSTERS", context),
            "features": choice_of(self, parameters, "FEATURES", context, self.FEATURES),
            "seed": self.parameterAsInt(parameters, "SEED", context),
        }

    def style(self, result) -> tuple:
        k = result.summary["clusters"]
        return style_categories, {
            "field": "cluster",
            "band": 1,
            "classes": [(c, f"cluster {c}", CLUSTER_COLOURS[(c - 1) % len(CLUSTER_COLOURS)]) for c in range(1, k + 1)],
        }


OUTLIER_SUMMARY_COLOURS = ["#bdbdbd", "#d7191c", "#2c7bb6", "#fdae61", "#abd9e9", "#7b3294"]


class LocalOutliersAlgorithm(SeriesResultAlgorithm):
    ALG_ID = "localoutliers"
    TITLE = "Local outliers (space-time Local Moran's I)"
    LAYER_NAME = "local outliers"
    LAYER_ABSTRACT = "Space-time Local Moran's I: cluster and outlier types over time"
    HELP = (
        "Finds clusters of high or low values and locations that stand out from their neighbours, per time step "
        "and over time (as ArcGIS Pro's Local Outlier Analysis).\n\n"
        + INPUT_HELP
        + " TIME_STEP averages the series to coarser steps first (e.g. 7D weekly, 1M monthly).\n\n"
        "For each step, Anselin's Local Moran's I compares each location's standardised value with the mean of its "
        "neighbours: the spatial neighbours of NEIGHBOURHOOD (as in 'Emerging hot spots') at that step and, with "
        "TIME_STEPS > 0, the location itself and its spatial neighbours at the TIME_STEPS previous steps. With "
        "TIME_STEPS 0 it equals PySAL esda's Moran_Local of each step. Pseudo p-values come from PERMUTATIONS "
        "random neighbourhoods (conditional randomisation, fixed seed: reruns give the same result; raised where "
        "too few to pass the FDR), corrected for the false discovery rate within each step at ALPHA. Types: "
        "high-high cluster, low-low cluster, high-low outlier, low-high outlier, not significant.\n\n"
        "OUTPUT: per location its summary over time (never significant, only high-high cluster, only low-low "
        "cluster, only high-low outlier, only low-high outlier, multiple types), the number of steps of each type "
        "and the last type — a point layer, or a raster with bands summary_code, high_high, low_low, high_low, "
        "low_high. OUTPUT_STEPS: every location and step with I, z, lag, p, p_fdr and the type (a raster stack of "
        "type codes 0–4 with band times for raster input). OUTPUT_REPORT: counts per type and step.\n\n"
        "Example: monthly PM10 at 68 stations → stations that are persistently higher than their surroundings."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_series_input(self)
        add_neighbourhood_parameters(self)
        for name, label, default, minimum in (
            ("TIME_STEPS", "Previous time steps in the neighbourhood", 1, 0),
            ("PERMUTATIONS", "Permutations for the pseudo p-values", 999, 99),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    name, label, QgsProcessingParameterNumber.Integer, default, minValue=minimum
                )
            )
        add_result_output(self, "OUTPUT", "Local outliers")
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT_STEPS",
                "Local Moran's I per step",
                fileFilter=RESULT_FILTER,
                optional=True,
                createByDefault=False,
            )
        )
        add_html_output(self, "OUTPUT_REPORT", "Local outlier report")

    def request(self, parameters, context) -> dict:
        return {
            **neighbourhood_request(self, parameters, context),
            "time_steps": self.parameterAsInt(parameters, "TIME_STEPS", context),
            "permutations": self.parameterAsInt(parameters, "PERMUTATIONS", context),
        }

    def style(self, result) -> tuple:
        names = result.summary["summary_names"]
        return style_categories, {
            "field": "summary_code",
            "band": 1,
            "classes": [(code, name, OUTLIER_SUMMARY_COLOURS[code]) for code, name in enumerate(names)],
        }
