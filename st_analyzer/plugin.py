"""QGIS hooks: register the Processing provider; keep raster stacks on the map's time (st_analyzer.temporal)."""

from qgis.core import QgsApplication

from st_analyzer.processing.provider import StAnalyzerProvider


class StAnalyzerPlugin:
    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: StAnalyzerProvider | None = None
        self.time_keeper = None

    def initProcessing(self) -> None:  # noqa: N802 (QGIS API name)
        self.provider = StAnalyzerProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()
        from st_analyzer.temporal import StackTimeKeeper, has_per_band_mode

        canvas = self.iface.mapCanvas() if self.iface is not None else None
        follow = canvas is not None and not has_per_band_mode()
        self.time_keeper = StackTimeKeeper(canvas.temporalController() if follow else None)

    def unload(self) -> None:
        if self.time_keeper is not None:
            self.time_keeper.stop()
            self.time_keeper = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
