"""QGIS hooks: register the Processing provider; nothing else happens at load time."""

from qgis.core import QgsApplication

from st_analyzer.processing.provider import StAnalyzerProvider


class StAnalyzerPlugin:
    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: StAnalyzerProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 (QGIS API name)
        self.provider = StAnalyzerProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
