"""Result styles: colour ramps with rounded legends and units, graduated and rule-based points, categories,
named .qml styles from resources/styles."""

from __future__ import annotations

from qgis.core import (
    QgsColorRampShader,
    QgsMapLayer,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsStyle,
)
from qgis.PyQt.QtGui import QColor

from st_analyzer.__about__ import DIR_PLUGIN_ROOT
from st_analyzer.temporal import set_feature_times

STYLES_DIR = DIR_PLUGIN_ROOT / "resources" / "styles"


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
    from qgis.core import QgsBasicNumericFormat, QgsColorRampLegendNodeSettings

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
        if not layer.isSpatial():  # a table (e.g. CSV) has nothing to draw
            return
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
