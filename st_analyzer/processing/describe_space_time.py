"""stanalyzer:describespacetime — HTML summary and table of a raster stack or a point layer."""

from qgis.core import QgsProcessing, QgsProcessingParameterRasterDestination, QgsProcessingParameterVectorDestination

from st_analyzer.layers import RasterResultPostProcessor
from st_analyzer.processing.common import StAlgorithm, add_html_output
from st_analyzer.processing.inputs import add_series_input, series_source


class DescribeSpaceTimeAlgorithm(StAlgorithm):
    ALG_ID = "describespacetime"
    TITLE = "Describe space-time data"
    HELP = (
        "Summarises a raster time stack or a point layer of station time series before analysis: "
        "time range, detected time step, whether it is regular, gaps (with the number of missing "
        "steps), missing share per station or cell, CRS and value statistics.\n\n"
        "Input: a raster stack with band times (as made by 'Build raster time stack'), or a point "
        "layer in long format (station id, time and value fields; one feature per station and "
        "time) or wide format (one feature per station, one value field per time).\n\n"
        "Outputs: an HTML report with plots; a table — one row per time step for rasters, one "
        "point per station for point layers (n_obs, missing_share, first/last time, longest gap, "
        "mean, std, min, max); optionally a raster of the missing share per cell.\n\n"
        "Example: daily PM10 stations (station_id, date, pm10) → 68 stations, 90 daily steps, "
        "4.6 % of station-days missing."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_series_input(self, memory_limit=False)
        add_html_output(self, "OUTPUT_HTML", "Summary report", optional=False)
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "OUTPUT_TABLE",
                "Summary table (per time step for rasters, per station for points)",
                type=QgsProcessing.TypeVectorAnyGeometry,
                optional=True,
                createByDefault=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                "OUTPUT_MISSING", "Missing share per cell (rasters only)", optional=True, createByDefault=False
            )
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        source, is_raster = series_source(self, parameters, context, feedback)
        html = self.parameterAsFileOutput(parameters, "OUTPUT_HTML", context)
        table = self.parameterAsOutputLayer(parameters, "OUTPUT_TABLE", context) or None
        missing = self.parameterAsOutputLayer(parameters, "OUTPUT_MISSING", context) or None
        request = {"output_html": html, "output_table": table, **source}
        if is_raster:
            request["output_missing"] = missing
        result = self.run_backend(request, [p for p in (html, table, missing) if p], feedback)
        axis = result.summary["time_axis"]
        feedback.pushInfo(
            f"{axis['count']} time steps from {axis['start']} to {axis['end']}, step {axis['step']}, "
            f"{axis['missing_steps']} missing step(s); missing share "
            f"{result.summary['missing_share']:.2%}."
        )
        self.present(
            context,
            missing,
            RasterResultPostProcessor,
            f"{self.input_label()} missing share",
            "Share of time steps with no data per cell (0–1)",
            value_range=(0.0, 1.0),
            ramp="Magma",
        )
        return {"OUTPUT_HTML": html, "OUTPUT_TABLE": table, "OUTPUT_MISSING": missing}
