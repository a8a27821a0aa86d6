"""Loading results into the project: names, sidecar styles (.qml) and metadata (.qmd), the post-processors
that style a result (see :mod:`st_analyzer.styles`) and give it its times (see :mod:`st_analyzer.temporal`)."""

from __future__ import annotations

from qgis.core import QgsMapLayer, QgsProcessingContext, QgsProcessingLayerPostProcessorInterface, QgsRasterLayer

from st_analyzer.styles import apply_named_style, style_anomaly_points, style_continuous, style_graduated_points
from st_analyzer.temporal import set_band_times


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
