"""QGIS entry point of the st_analyzer plugin."""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    from st_analyzer.plugin import StAnalyzerPlugin

    return StAnalyzerPlugin(iface)
