"""Loading results into the project: colour ramps, QML styles and band/feature times."""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsDateTimeRange,
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsStyle,
)
from qgis.PyQt.QtCore import QDateTime, Qt
from qgis.PyQt.QtGui import QColor

from st_analyzer.__about__ import DIR_PLUGIN_ROOT

STYLES_DIR = DIR_PLUGIN_ROOT / "resources" / "styles"


def _qdatetime(iso: str) -> QDateTime:
    value = QDateTime.fromString(iso.rstrip("Z"), Qt.DateFormat.ISODate)
    value.setTimeSpec(Qt.TimeSpec.UTC)
    return value


def style_continuous(
    layer: QgsRasterLayer,
    minimum: float,
    maximum: float,
    ramp_name: str = "Viridis",
    band: int = 1,
    invert: bool = False,
    units: str | None = None,
) -> None:
    """One colour ramp from ``minimum`` to ``maximum`` (the same for every band, so animations compare); legend
    labels rounded, with ``units`` when known."""
    if maximum <= minimum:
        maximum = minimum + 1.0
    ramp = QgsStyle.defaultStyle().colorRamp(ramp_name)
    if invert:
        ramp.invert()
    function = QgsColorRampShader(minimum, maximum, ramp, QgsColorRampShader.Interpolated)
    function.classifyColorRamp(7, band)
    items = function.colorRampItemList()
    for item in items:  # legend labels with 3 significant digits (285.546906 → 286 K)
        item.label = with_units(legend_number(item.value, maximum - minimum), units)
    function.setColorRampItemList(items)
    set_continuous_legend(function, maximum - minimum, units)
    shader = QgsRasterShader(minimum, maximum)
    shader.setRasterShaderFunction(function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), band, shader)
    renderer.setClassificationMin(minimum)
    renderer.setClassificationMax(maximum)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def legend_decimals(span: float) -> int:
    """Decimals that give a value range 3 significant digits (span 72 → 0, 0.5 → 3)."""
    import math

    return max(0, 2 - int(math.floor(math.log10(abs(span))))) if span > 0 else 2


def legend_number(value: float, span: float) -> str:
    """A legend label: rounded to the precision the value range needs (3 significant digits of the span)."""
    return f"{value:,.{legend_decimals(span)}f}"


def set_continuous_legend(function: QgsColorRampShader, span: float, units: str | None) -> None:
    """The continuous ramp legend (QGIS ≥ 3.18 draws it instead of the item labels) with the same rounding and
    the unit as a suffix."""
    try:
        from qgis.core import QgsBasicNumericFormat, QgsColorRampLegendNodeSettings
    except ImportError:
        return
    number_format = QgsBasicNumericFormat()
    number_format.setNumberDecimalPlaces(legend_decimals(span))
    number_format.setShowThousandsSeparator(True)
    settings = QgsColorRampLegendNodeSettings()
    settings.setNumericFormat(number_format)
    if units:
        settings.setSuffix(f" {units}")
    function.setLegendSettings(settings)


def with_units(text: str, units: str | None) -> str:
    """A legend label with its unit: "286 K"; the text alone when the unit is unknown."""
    return f"{text} {units}" if units else text


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
    return {
        "times_iso": summary.get("times") or [],
        "step_seconds": axis.get("step_seconds"),
        "step_months": axis.get("step_months"),
    }


def set_band_times(
    layer: QgsRasterLayer, times_iso: list[str], step_seconds: float | None, step_months: int | None = None
) -> str:
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
        properties.setFixedRangePerBand(
            {
                band: QgsDateTimeRange(start, end, True, False)
                for band, (start, end) in enumerate(zip(starts, ends), start=1)
            }
        )
        properties.setMode(per_band_mode)
        properties.setIsActive(True)
        return "per band"
    properties.setFixedTemporalRange(QgsDateTimeRange(starts[0], last_end))
    properties.setMode(properties.ModeFixedTemporalRange)
    properties.setIsActive(True)
    return "fixed range"


def style_graduated_points(
    layer, field: str = "score", time_field: str = "time", ramp: str = "Reds", units: str | None = None
) -> None:
    """Points coloured and sized by a field (graduated, 5 classes; rounded labels with ``units``), with feature
    times for the temporal controller."""
    from qgis.core import QgsGraduatedSymbolRenderer, QgsSymbol

    symbol = QgsSymbol.defaultSymbol(layer.geometryType())
    renderer = QgsGraduatedSymbolRenderer(field)
    renderer.setSourceSymbol(symbol)
    renderer.setSourceColorRamp(QgsStyle.defaultStyle().colorRamp(ramp))
    renderer.updateClasses(layer, QgsGraduatedSymbolRenderer.Jenks, 5)
    renderer.setSymbolSizes(1.5, 5.0)
    ranges = renderer.ranges()
    if ranges:
        span = ranges[-1].upperValue() - ranges[0].lowerValue()
        for index, item in enumerate(ranges):
            renderer.updateRangeLabel(
                index,
                with_units(
                    f"{legend_number(item.lowerValue(), span)} – {legend_number(item.upperValue(), span)}", units
                ),
            )
    layer.setRenderer(renderer)
    set_feature_times(layer, time_field)
    layer.triggerRepaint()


TIME_FIELD_PROPERTY = "st_analyzer/time_field"  # kept in the sidecar style: the field that holds feature times


def set_feature_times(layer, time_field: str) -> bool:
    """Feature times from ``time_field`` (instants), remembered in the layer's style; False without that field."""
    from qgis.core import QgsVectorLayerTemporalProperties

    if time_field not in layer.fields().names():
        return False
    temporal = layer.temporalProperties()
    temporal.setMode(QgsVectorLayerTemporalProperties.ModeFeatureDateTimeInstantFromField)
    temporal.setStartField(time_field)
    temporal.setIsActive(True)
    layer.setCustomProperty(TIME_FIELD_PROPERTY, time_field)
    return True


def time_span_text(times_iso: list[str]) -> str:
    """Short text of a time span for layer names: 2005-01-10…16, 2005-01-10…03-31, 2005-01-10…2006-01-09, and
    with hours when the times are not all midnight: 2019-03-09 00:00…05:00."""
    if not times_iso:
        return ""
    first, last = times_iso[0][:10], times_iso[-1][:10]
    clock = [t[11:16] for t in (times_iso[0], times_iso[-1])] if len(times_iso[0]) > 11 else ["00:00", "00:00"]
    if clock != ["00:00", "00:00"]:
        return f"{first} {clock[0]}…{'' if first == last else last + ' '}{clock[1]}"
    if first == last:
        return first
    common = 8 if first[:8] == last[:8] else 5 if first[:5] == last[:5] else 0
    return f"{first}…{last[common:]}"


def name_result(context: QgsProcessingContext, path: str | None, name: str) -> None:
    """The name Processing gives ``path``'s layer when it loads it (e.g. "pm10 kriged 2005-01-10…16")."""
    if path and context.willLoadLayerOnCompletion(path):
        context.layerToLoadOnCompletionDetails(path).name = name


def lower_and_hide(layer: QgsMapLayer, project) -> None:
    """Move ``layer`` to the bottom of its group in the layer tree, unchecked (e.g. a kriging variance)."""
    if project is None:
        return
    node = project.layerTreeRoot().findLayer(layer.id())
    if node is None:
        return
    parent = node.parent()
    clone = node.clone()
    clone.setItemVisibilityChecked(False)
    parent.insertChildNode(len(parent.children()), clone)
    parent.removeChildNode(node)


class ResultPostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Base of the plugin's result styles: :meth:`style` is written to a sidecar ``.qml`` next to the file (QGIS
    applies it whenever the file is opened, by hand too) and run on the layer Processing loads. Instances are kept
    alive here (Processing does not own Python post-processors)."""

    _alive: list[ResultPostProcessor] = []
    title = ""  # the layer's title in its metadata (the name it is loaded with)
    abstract = ""  # what the layer is and which run made it (Layer Properties ▸ Information / Metadata)

    def style(self, layer: QgsMapLayer) -> str:
        """Style ``layer``; returns a line for the log (or "")."""
        raise NotImplementedError

    def set_on(self, context: QgsProcessingContext, path: str) -> None:
        ResultPostProcessor._alive.append(self)
        context.layerToLoadOnCompletionDetails(path).setPostProcessor(self)

    @classmethod
    def attach(cls, context: QgsProcessingContext, path: str, title: str = "", abstract: str = "", **kwargs) -> None:
        """Write the sidecar style (and metadata) of ``path`` (headless runs too) and style the layer if Processing
        loads it."""
        if not path:
            return
        processor = cls(**kwargs)
        processor.title, processor.abstract = title, abstract
        processor.write_sidecar(path)
        if context.willLoadLayerOnCompletion(path):
            processor.set_on(context, path)

    def describe(self, layer: QgsMapLayer) -> None:
        """Title and abstract in the layer's metadata (nothing without an abstract)."""
        if self.abstract:
            metadata = layer.metadata()
            metadata.setTitle(self.title or layer.name())
            metadata.setAbstract(self.abstract)
            layer.setMetadata(metadata)

    def write_sidecar(self, path: str) -> None:
        """``<file>.qml`` with this style and ``<file>.qmd`` with its metadata (QGIS reads both when the file is
        added by hand); nothing when the file is not a layer QGIS can open."""
        from qgis.core import QgsVectorLayer

        if path.lower().endswith((".tif", ".tiff")):
            layer = QgsRasterLayer(path, "result", "gdal", QgsRasterLayer.LayerOptions(loadDefaultStyle=False))
        else:
            layer = QgsVectorLayer(path, "result", "ogr", QgsVectorLayer.LayerOptions(loadDefaultStyle=False))
        if layer.isValid():
            self.style(layer)
            layer.saveNamedStyle(layer.styleURI())
            if self.abstract:
                self.describe(layer)
                layer.saveNamedMetadata(layer.metadataUri())

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        self.describe(layer)
        message = self.style(layer)
        if message and feedback is not None:
            feedback.pushInfo(message)


class GraduatedPointsPostProcessor(ResultPostProcessor):
    """Graduated style on one field and feature times for point results (anomaly scores, forecasts)."""

    def __init__(self, field: str = "score", ramp: str = "Reds", units: str | None = None) -> None:
        super().__init__()
        self.field, self.ramp, self.units = field, ramp, units

    def style(self, layer: QgsMapLayer) -> str:
        if layer.type() == QgsMapLayer.VectorLayer and self.field in layer.fields().names():
            style_graduated_points(layer, self.field, ramp=self.ramp, units=self.units)
        return ""


def style_anomaly_points(layer, time_field: str = "time") -> None:
    """Flagged readings first: unflagged ones as small grey dots, flagged ones larger and coloured by score in
    three equal classes from the flag threshold to the highest score; feature times from ``time_field``."""
    from qgis.core import QgsRuleBasedRenderer, QgsSymbol

    def rule(expression: str, label: str, colour: str, size: float):
        symbol = QgsSymbol.defaultSymbol(layer.geometryType())
        symbol.setColor(QColor(colour))
        symbol.setSize(size)
        return QgsRuleBasedRenderer.Rule(symbol, 0, 0, expression, label)

    scores = [f["score"] for f in layer.getFeatures() if f["is_anomaly"] == 1 and f["score"] is not None]
    root = QgsRuleBasedRenderer.Rule(None)
    root.appendChild(rule('"is_anomaly" = 0', "not flagged", "#bdbdbd", 1.2))
    if scores:
        low, high = min(scores), max(scores)
        edges = [low + (high - low) * k / 3 for k in range(4)]
        for k, colour in enumerate(("#fc9272", "#ef3b2c", "#99000d")):
            upper = "<=" if k == 2 else "<"
            root.appendChild(
                rule(
                    f'"is_anomaly" = 1 AND "score" >= {edges[k]!r} AND "score" {upper} {edges[k + 1]!r}',
                    f"flagged, score {edges[k]:.2f}–{edges[k + 1]:.2f}",
                    colour,
                    2.6 + 0.8 * k,
                )
            )
    layer.setRenderer(QgsRuleBasedRenderer(root))
    set_feature_times(layer, time_field)
    layer.triggerRepaint()


class AnomalyPointsPostProcessor(ResultPostProcessor):
    """Scored observations: flagged readings stand out (:func:`style_anomaly_points`)."""

    def style(self, layer: QgsMapLayer) -> str:
        if layer.type() == QgsMapLayer.VectorLayer and {"is_anomaly", "score"} <= set(layer.fields().names()):
            style_anomaly_points(layer)
        return ""


class RasterResultPostProcessor(ResultPostProcessor):
    """A colour ramp (or a named style) and band times on a raster result."""

    def __init__(
        self,
        value_range: tuple[float, float] | None,
        times_iso: list[str] | None = None,
        step_seconds: float | None = None,
        style: str | None = None,
        ramp: str = "Viridis",
        step_months: int | None = None,
        secondary: bool = False,
        units: str | None = None,
    ) -> None:
        super().__init__()
        self.units = units
        self.value_range, self.times_iso, self.step_seconds = value_range, times_iso or [], step_seconds
        self.step_months = step_months
        self.named_style, self.ramp = style, ramp
        self.secondary = secondary  # loaded unchecked below the other results (e.g. a kriging variance)

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        super().postProcessLayer(layer, context, feedback)
        if self.secondary:
            lower_and_hide(layer, context.project())

    def style(self, layer: QgsMapLayer) -> str:
        if not isinstance(layer, QgsRasterLayer):
            return ""
        if not (self.named_style and apply_named_style(layer, self.named_style)) and self.value_range:
            style_continuous(layer, *self.value_range, ramp_name=self.ramp, units=self.units)
        mode = set_band_times(layer, self.times_iso, self.step_seconds, self.step_months)
        return f"Band times set on {layer.name()} ({mode})." if self.times_iso else ""


# --- results whose layer type depends on the input (rasters or points) ----------------------------

HOT_SPOT_COLOURS = {  # category code → colour (hot: reds, cold: blues), codes as in backend.diagnostics.hotspots
    0: "#e8e8e8",
    1: "#f4a582",
    2: "#f08060",
    3: "#b2182b",
    4: "#d6604d",
    5: "#e7998a",
    6: "#fddbc7",
    7: "#c51b7d",
    8: "#7f3b08",
    9: "#92c5de",
    10: "#6fa8d6",
    11: "#2166ac",
    12: "#4393c3",
    13: "#8fb8de",
    14: "#d1e5f0",
    15: "#4d9221",
    16: "#2d004b",
}
CLUSTER_COLOURS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def style_categories(layer: QgsMapLayer, field: str, band: int, classes: list[tuple[int, str, str]]) -> None:
    """Categorised style: (value, label, colour) per class, on a vector field or a raster band."""
    from qgis.core import (
        QgsCategorizedSymbolRenderer,
        QgsPalettedRasterRenderer,
        QgsRendererCategory,
        QgsSymbol,
        QgsVectorLayer,
    )

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
    """A style function (or resources/styles/<style>_raster|_points.qml) on a result layer."""

    def __init__(self, function, **kwargs) -> None:
        super().__init__()
        self.function, self.kwargs = function, kwargs

    def style(self, layer: QgsMapLayer) -> str:
        named = self.kwargs.get("style")
        suffix = "raster" if isinstance(layer, QgsRasterLayer) else "points"
        if not (named and apply_named_style(layer, f"{named}_{suffix}")):
            self.function(layer, **{k: v for k, v in self.kwargs.items() if k != "style"})
        return ""


def load_result(
    context: QgsProcessingContext, path: str, name: str, is_raster: bool, function=None, abstract: str = "", **kwargs
) -> None:
    """Load a result whose type (raster or vector) depends on the input, styled with resources/styles/<style>_raster
    or _points.qml when ``style`` names one, else with ``function(layer, **kwargs)``."""
    from qgis.core import QgsProcessingUtils

    if not path:
        return
    if context.project() is not None:
        details = QgsProcessingContext.LayerDetails(name, context.project(), name)
        details.layerTypeHint = (
            QgsProcessingUtils.LayerHint.Raster if is_raster else QgsProcessingUtils.LayerHint.Vector
        )
        context.addLayerToLoadOnCompletion(path, details)
    if function is not None:
        StyledResultPostProcessor.attach(context, path, title=name, abstract=abstract, function=function, **kwargs)
