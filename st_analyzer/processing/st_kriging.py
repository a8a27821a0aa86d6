"""stanalyzer:stkriging — space-time kriging to a raster time stack or to target points."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingParameterDateTime,
    QgsProcessingParameterDistance,
    QgsProcessingParameterExtent,
    QgsProcessingParameterField,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
    QgsProcessingUtils,
)

from st_analyzer.layers import RasterResultPostProcessor
from st_analyzer.processing.common import StAlgorithm, add_scheduler_parameter
from st_analyzer.processing.inputs import add_station_input, ogr_path_of, station_input
from st_analyzer.processing.kriging_parameters import add_kriging_parameters, kriging_request
from st_analyzer.temporal import band_times, time_span_text


class StKrigingAlgorithm(StAlgorithm):
    ALG_ID = "stkriging"
    TITLE = "Space-time kriging"
    GROUP_ID, GROUP = "interpolation", "Interpolation"
    HELP = (
        "Interpolates station observations in space and time by ordinary space-time kriging (the same "
        "predictions and kriging variances as R gstat's krigeST for the same model and neighbourhood).\n\n"
        "Input: station observations (point layer, long format, projected CRS in metres) and a variogram model "
        "JSON from 'Fit space-time variogram' (empty = fitted automatically: every space-time model and pure "
        "spatial kriging per time step are ranked by leave-one-station-out cross-validation and the best is used). "
        "NMAX nearest observations in scaled space-time distance (0, the default = the size with the smallest "
        "cross-validation error among 10, 20, 50, 100 and all data, or the one the model file records; −1 = all "
        "data, small data only).\n\n"
        "Targets, either: (a) a grid — EXTENT (default: the layer's), PIXEL_SIZE (m), START, END (default: the "
        "data's first and last time) and STEP ('1 day', '6h', '30min', or calendar '1M', '3M', '1Y') → "
        "OUTPUT, a raster with one band per time "
        "step, and OUTPUT_VARIANCE, the kriging variance; or (b) TARGET_POINTS with a TARGET_TIME_FIELD → "
        "OUTPUT_POINTS, the same features with fields pred and var.\n\n"
        "Example: daily PM10 stations → 10 km grid over Germany for 10–16 January, 7 bands of µg/m³."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_station_input(self)
        add_kriging_parameters(self)
        self.addParameter(
            QgsProcessingParameterExtent("EXTENT", "Grid extent (default: the input layer's)", optional=True)
        )
        self.addParameter(
            QgsProcessingParameterDistance(
                "PIXEL_SIZE", "Pixel size (0 = extent / 100)", 0.0, parentParameterName="INPUT", minValue=0.0
            )
        )
        self.addParameter(
            QgsProcessingParameterDateTime("START", "First time (default: first observation)", optional=True)
        )
        self.addParameter(QgsProcessingParameterDateTime("END", "Last time (default: last observation)", optional=True))
        self.addParameter(
            QgsProcessingParameterString("STEP", "Time step (e.g. 1 day, 6h, 30min, 1M)", defaultValue="1 day")
        )
        self.addParameter(
            QgsProcessingParameterVectorLayer(
                "TARGET_POINTS", "Or target points", types=[QgsProcessing.TypeVectorPoint], optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                "TARGET_TIME_FIELD",
                "Time field of the target points",
                parentLayerParameterName="TARGET_POINTS",
                optional=True,
            )
        )
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Predictions", optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_VARIANCE", "Kriging variance", optional=True))
        add_scheduler_parameter(self)
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "OUTPUT_POINTS", "Predicted points", QgsProcessing.TypeVectorPoint, optional=True, createByDefault=False
            )
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        layer, points = station_input(self, parameters, context, feedback)
        request = {"points": points, **kriging_request(self, parameters, context)}
        targets = self.parameterAsVectorLayer(parameters, "TARGET_POINTS", context)
        if targets is not None:
            output = self.parameterAsOutputLayer(parameters, "OUTPUT_POINTS", context)
            time_field = self.parameterAsString(parameters, "TARGET_TIME_FIELD", context)
            if not output or not time_field:
                raise QgsProcessingException("Target points need TARGET_TIME_FIELD and an OUTPUT_POINTS layer.")
            path, layer_name = ogr_path_of(targets, feedback)
            request.update(
                target_points={"path": path, "layer": layer_name, "time_field": time_field}, output_points=output
            )
            self.run_backend(request, [output], feedback)
            return {"OUTPUT_POINTS": output}
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        variance = self.parameterAsOutputLayer(parameters, "OUTPUT_VARIANCE", context)
        if not output:  # nothing chosen (qgis_process, scripts): the grid goes to a temporary file, loaded
            output = QgsProcessingUtils.generateTempFilename("kriging_predictions.tif")
            feedback.pushInfo(f"No OUTPUT or TARGET_POINTS chosen: the predictions grid is written to {output}.")
            context.addLayerToLoadOnCompletion(
                output, QgsProcessingContext.LayerDetails("Predictions", context.project(), "OUTPUT")
            )
        extent = self.parameterAsExtent(parameters, "EXTENT", context, layer.crs())
        if extent.isNull() or extent.isEmpty():
            extent = layer.extent()
        pixel = self.parameterAsDouble(parameters, "PIXEL_SIZE", context) or max(extent.width(), extent.height()) / 100
        start = self.parameterAsDateTime(parameters, "START", context)
        end = self.parameterAsDateTime(parameters, "END", context)
        request.update(
            output=output,
            output_variance=variance or None,
            grid={
                "xmin": extent.xMinimum(),
                "ymin": extent.yMinimum(),
                "xmax": extent.xMaximum(),
                "ymax": extent.yMaximum(),
                "pixel_size": pixel,
                "step": self.parameterAsString(parameters, "STEP", context),
                "start": start.toString("yyyy-MM-ddTHH:mm:ss") if start.isValid() else None,
                "end": end.toString("yyyy-MM-ddTHH:mm:ss") if end.isValid() else None,
            },
        )
        result = self.run_backend(request, [p for p in (output, variance) if p], feedback)
        summary = result.summary
        value = self.input_label()
        span = time_span_text(summary["times"])
        bands = f"{len(summary['times'])} time steps ({span}), one band each"
        for path, key, ramp, name, what in (
            (
                output,
                "value",
                "Viridis",
                f"{value} kriged {span}",
                f"Space-time kriging predictions of {value}, {bands}",
            ),
            (
                result.outputs.get("OUTPUT_VARIANCE"),
                "variance",
                "Magma",
                f"{value} kriging variance {span}",
                f"Kriging variance of the {value} predictions (squared units), {bands}",
            ),
        ):
            self.present(
                context,
                path,
                RasterResultPostProcessor,
                name,
                what,
                value_range=(summary[f"{key}_min"], summary[f"{key}_max"]),
                ramp=ramp,
                secondary=key == "variance",
                units=summary.get("units" if key == "value" else "variance_units"),
                **band_times(summary),
            )
        return {"OUTPUT": output, "OUTPUT_VARIANCE": result.outputs.get("OUTPUT_VARIANCE")}
