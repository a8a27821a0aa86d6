"""Loading results into the project: colour ramps, QML styles and band/feature times."""

from __future__ import annotations

from qgis.core import (Qgis, QgsColorRampShader, QgsDateTimeRange, QgsMapLayer, QgsProcessingContext,
                       QgsProcessingLayerPostProcessorInterface, QgsRasterLayer, QgsRasterShader,
                       QgsSingleBandPseudoColorRenderer, QgsStyle)
from qgis.PyQt.QtCore import QDateTime, Qt

from st_analyzer.__about__ import DIR_PLUGIN_ROOT

STYLES_DIR = DIR_PLUGIN_ROOT / "resources" / "styles"


def _qdatetime(iso: str) -> QDateTime:
    value = QDateTime.fromString(iso.rstrip("Z"), Qt.DateFormat.ISODate)
    value.setTimeSpec(Qt.TimeSpec.UTC)
    return value


def style_continuous(layer: QgsRasterLayer, minimum: float, maximum: float, ramp_name: str = "Viridis",
                     band: int = 1, invert: bool = False) -> None:
    """One colour ramp from ``minimum`` to ``maximum`` (the same for every band, so animations compare)."""
    if maximum <= minimum:
        maximum = minimum + 1.0
    ramp = QgsStyle.defaultStyle().colorRamp(ramp_name)
    if invert:
        ramp.invert()
    function = QgsColorRampShader(minimum, maximum, ramp, QgsColorRampShader.Interpolated)
    function.classifyColorRamp(7, band)
    shader = QgsRasterShader(minimum, maximum)
    shader.setRasterShaderFunction(function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), band, shader)
    renderer.setClassificationMin(minimum)
    renderer.setClassificationMax(maximum)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def apply_named_style(layer: QgsMapLayer, style: str) -> bool:
    """Load ``resources/styles/<style>.qml`` onto a layer; False when there is no such file."""
    path = STYLES_DIR / f"{style}.qml"
    if not path.exists():
        return False
    _message, ok = layer.loadNamedStyle(str(path))
    layer.triggerRepaint()
    return bool(ok)


def band_times(summary: dict) -> dict:
    """The band-time keywords of :class:`RasterResultPostProcessor` from a backend summary (``times`` with
    ``step_seconds``/``step_months`` at the top or under ``time_axis``)."""
    axis = summary.get("time_axis") or summary
    return {"times_iso": summary.get("times") or [], "step_seconds": axis.get("step_seconds"),
            "step_months": axis.get("step_months")}


def set_band_times(layer: QgsRasterLayer, times_iso: list[str], step_seconds: float | None,
                   step_months: int | None = None) -> str:
    """Give the layer its times: one range per band on QGIS ≥ 3.38, else the whole time span. The last band
    lasts one step (calendar months for monthly, quarterly or yearly stacks).

    Returns which mode was used ("per band", "fixed range" or "none").
    """
    if not times_iso:
        return "none"
    starts = [_qdatetime(t) for t in times_iso]
    if step_months:
        last_end = starts[-1].addMonths(int(step_months))
    else:
        last_end = starts[-1].addSecs(int(step_seconds or 0)) if step_seconds else starts[-1]
    ends = starts[1:] + [last_end]
    properties = layer.temporalProperties()
    per_band_mode = getattr(getattr(Qgis, "RasterTemporalMode", None), "FixedRangePerBand", None)
    if per_band_mode is not None and hasattr(properties, "setFixedRangePerBand"):
        properties.setFixedRangePerBand({band: QgsDateTimeRange(start, end, True, False)
                                         for band, (start, end) in enumerate(zip(starts, ends), start=1)})
        properties.setMode(per_band_mode)
        properties.setIsActive(True)
        return "per band"
    properties.setFixedTemporalRange(QgsDateTimeRange(starts[0], last_end))
    properties.setMode(properties.ModeFixedTemporalRange)
    properties.setIsActive(True)
    return "fixed range"


def style_graduated_points(layer, field: str = "score", time_field: str = "time", ramp: str = "Reds") -> None:
    """Points coloured and sized by a field (graduated, 5 classes), with feature times for the temporal controller."""
    from qgis.core import QgsGraduatedSymbolRenderer, QgsSymbol, QgsVectorLayerTemporalProperties

    symbol = QgsSymbol.defaultSymbol(layer.geometryType())
    renderer = QgsGraduatedSymbolRenderer(field)
    renderer.setSourceSymbol(symbol)
    renderer.setSourceColorRamp(QgsStyle.defaultStyle().colorRamp(ramp))
    renderer.updateClasses(layer, QgsGraduatedSymbolRenderer.Jenks, 5)
    renderer.setSymbolSizes(1.5, 5.0)
    layer.setRenderer(renderer)
    if time_field in layer.fields().names():
        temporal = layer.temporalProperties()
        temporal.setMode(QgsVectorLayerTemporalProperties.ModeFeatureDateTimeInstantFromField)
        temporal.setStartField(time_field)
        temporal.setIsActive(True)
    layer.triggerRepaint()


class ResultPostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Base of the plugin's post-processors: kept alive here (Processing does not own Python post-processors) and
    attached to a result that Processing will load."""

    _alive: list["ResultPostProcessor"] = []

    def set_on(self, context: QgsProcessingContext, path: str) -> None:
        ResultPostProcessor._alive.append(self)
        context.layerToLoadOnCompletionDetails(path).setPostProcessor(self)

    @classmethod
    def attach(cls, context: QgsProcessingContext, path: str, **kwargs) -> None:
        """Run a new post-processor on ``path`` if Processing will load it into the project."""
        if path and context.willLoadLayerOnCompletion(path):
            cls(**kwargs).set_on(context, path)


class GraduatedPointsPostProcessor(ResultPostProcessor):
    """Graduated style on one field and feature times for point results (anomaly scores, forecasts) when
    Processing loads them."""

    def __init__(self, field: str = "score", ramp: str = "Reds") -> None:
        super().__init__()
        self.field, self.ramp = field, ramp

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        if layer.type() == QgsMapLayer.VectorLayer and self.field in layer.fields().names():
            style_graduated_points(layer, self.field, ramp=self.ramp)


class RasterResultPostProcessor(ResultPostProcessor):
    """Styles a raster result and sets its band times, in a sidecar ``.qml`` next to the file (which QGIS applies
    whenever the file is opened, by hand too) and on the layer Processing loads."""

    def __init__(self, value_range: tuple[float, float] | None, times_iso: list[str] | None = None,
                 step_seconds: float | None = None, style: str | None = None, ramp: str = "Viridis",
                 step_months: int | None = None) -> None:
        super().__init__()
        self.value_range, self.times_iso, self.step_seconds = value_range, times_iso or [], step_seconds
        self.step_months = step_months
        self.style, self.ramp = style, ramp

    @classmethod
    def attach(cls, context: QgsProcessingContext, path: str, **kwargs) -> None:
        """Write the sidecar style of ``path`` (also for headless runs) and style the layer Processing loads."""
        if not path:
            return
        processor = cls(**kwargs)
        processor.write_sidecar(path)
        if context.willLoadLayerOnCompletion(path):
            processor.set_on(context, path)

    def apply(self, layer: QgsRasterLayer) -> str:
        """Style and band times on ``layer``; returns the band-time mode used."""
        if not (self.style and apply_named_style(layer, self.style)) and self.value_range:
            style_continuous(layer, *self.value_range, ramp_name=self.ramp)
        return set_band_times(layer, self.times_iso, self.step_seconds, self.step_months)

    def write_sidecar(self, path: str) -> None:
        """``<file>.qml`` with the style and band times (QGIS loads it as the file's default style)."""
        layer = QgsRasterLayer(path, "result", "gdal", QgsRasterLayer.LayerOptions(loadDefaultStyle=False))
        if layer.isValid():
            self.apply(layer)
            layer.saveNamedStyle(layer.styleURI())

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        if not isinstance(layer, QgsRasterLayer):
            return
        mode = self.apply(layer)
        if self.times_iso and feedback is not None:
            feedback.pushInfo(f"Band times set on {layer.name()} ({mode}).")


# --- results whose layer type depends on the input (rasters or points) ----------------------------

HOT_SPOT_COLOURS = {  # category code → colour (hot: reds, cold: blues), codes as in backend.diagnostics.hotspots
    0: "#e8e8e8", 1: "#f4a582", 2: "#f08060", 3: "#b2182b", 4: "#d6604d", 5: "#e7998a", 6: "#fddbc7", 7: "#c51b7d",
    8: "#7f3b08", 9: "#92c5de", 10: "#6fa8d6", 11: "#2166ac", 12: "#4393c3", 13: "#8fb8de", 14: "#d1e5f0",
    15: "#4d9221", 16: "#2d004b"}
CLUSTER_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf"]


def style_categories(layer: QgsMapLayer, field: str, band: int, classes: list[tuple[int, str, str]]) -> None:
    """Categorised style: (value, label, colour) per class, on a vector field or a raster band."""
    from qgis.core import (QgsCategorizedSymbolRenderer, QgsPalettedRasterRenderer, QgsRendererCategory, QgsSymbol,
                           QgsVectorLayer)
    from qgis.PyQt.QtGui import QColor

    if isinstance(layer, QgsVectorLayer):
        categories = []
        for value, label, colour in classes:
            symbol = QgsSymbol.defaultSymbol(layer.geometryType())
            symbol.setColor(QColor(colour))
            categories.append(QgsRendererCategory(value, symbol, label))
        layer.setRenderer(QgsCategorizedSymbolRenderer(field, categories))
    elif isinstance(layer, QgsRasterLayer):
        entries = [QgsPalettedRasterRenderer.Class(value, QColor(colour), label) for value, label, colour in classes]
        layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), band, entries))
    layer.triggerRepaint()


def style_diverging(layer: QgsMapLayer, field: str, band: int, limit: float = 3.0) -> None:
    """Blue–white–red from −limit to +limit (z-scores) on a vector field or a raster band."""
    from qgis.core import QgsVectorLayer

    if isinstance(layer, QgsRasterLayer):
        style_continuous(layer, -limit, limit, ramp_name="RdBu", band=band, invert=True)
    elif isinstance(layer, QgsVectorLayer):
        style_graduated_points(layer, field, ramp="Spectral")


class StyledResultPostProcessor(ResultPostProcessor):
    """Runs a style function on a result layer when Processing loads it."""

    def __init__(self, function, **kwargs) -> None:
        super().__init__()
        self.function, self.kwargs = function, kwargs

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        style = self.kwargs.get("style")
        suffix = "raster" if isinstance(layer, QgsRasterLayer) else "points"
        if style and apply_named_style(layer, f"{style}_{suffix}"):
            return
        self.function(layer, **{k: v for k, v in self.kwargs.items() if k != "style"})


def load_result(context: QgsProcessingContext, path: str, name: str, is_raster: bool, function=None, **kwargs) -> None:
    """Load a result whose type (raster or vector) depends on the input, styled with resources/styles/<style>_raster
    or _points.qml when ``style`` names one, else with ``function(layer, **kwargs)``."""
    from qgis.core import QgsProcessingUtils

    if not path or context.project() is None:
        return
    details = QgsProcessingContext.LayerDetails(name, context.project(), name)
    details.layerTypeHint = QgsProcessingUtils.LayerHint.Raster if is_raster else QgsProcessingUtils.LayerHint.Vector
    context.addLayerToLoadOnCompletion(path, details)
    if function is not None:
        StyledResultPostProcessor(function, **kwargs).set_on(context, path)
