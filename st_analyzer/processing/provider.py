"""The "Space-time analyzer" Processing provider (id ``stanalyzer``) and its settings."""

from pathlib import Path

from qgis.core import QgsApplication, QgsProcessingModelAlgorithm, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from st_analyzer.__about__ import DIR_PLUGIN_ROOT, __version__
from st_analyzer.processing.anomalies import DetectPointAnomaliesAlgorithm, DetectRasterAnomaliesAlgorithm
from st_analyzer.processing.build_raster_stack import BuildRasterStackAlgorithm
from st_analyzer.processing.describe_space_time import DescribeSpaceTimeAlgorithm
from st_analyzer.processing.diagnostics import (
    EmergingHotSpotsAlgorithm,
    LocalOutliersAlgorithm,
    TimeSeriesClusteringAlgorithm,
    TimeSeriesDiagnosticsAlgorithm,
)
from st_analyzer.processing.fit_st_variogram import FitStVariogramAlgorithm
from st_analyzer.processing.forecast_by_location import EvaluateForecastsAlgorithm, ForecastByLocationAlgorithm
from st_analyzer.processing.forecasting import (
    BaselineForecastAlgorithm,
    ForecastRasterAlgorithm,
    TrainRasterForecasterAlgorithm,
)
from st_analyzer.processing.network_forecasting import ForecastNetworkAlgorithm, TrainNetworkForecasterAlgorithm
from st_analyzer.processing.setup_backend import SetupBackendAlgorithm
from st_analyzer.processing.st_kriging import StKrigingAlgorithm
from st_analyzer.processing.st_kriging_cv import StKrigingCvAlgorithm
from st_analyzer.settings import SETTING_PYTHON

MODELS_DIR = DIR_PLUGIN_ROOT / "resources" / "models"


class ShippedModel(QgsProcessingModelAlgorithm):
    """A model file of resources/models with a stable id (its file name), its own title, in "Example models"."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.loaded = self.fromFile(path)
        self.title = super().name()

    def name(self) -> str:
        return Path(self.path).stem

    def displayName(self) -> str:  # noqa: N802 (QGIS API name)
        return self.title

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API name)
        """The model's description, then its inputs and outputs (the modeler's own help is the bare description)."""
        inputs = "\n".join(
            f"- {p.name()}: {p.description()}" for p in self.parameterDefinitions() if not p.isDestination()
        )
        outputs = "\n".join(
            f"- {child.childId()}:{name}" for child in self.childAlgorithms().values() for name in child.modelOutputs()
        )
        return (
            f"{self.helpContent().get('ALG_DESC', '')}\n\nInputs (all needed when run with qgis_process, which "
            f"does not fill in defaults):\n{inputs}\n\nOutputs (all needed with qgis_process too):\n{outputs}\n\n"
            "Open it in the graphical modeler "
            "to change a step, or run it as it is."
        )

    def group(self) -> str:
        return "Example models"

    def groupId(self) -> str:  # noqa: N802
        return "models"

    def createInstance(self):  # noqa: N802
        return ShippedModel(self.path)


def shipped_models() -> list[ShippedModel]:
    """The example graphical-modeler models, ids ``stanalyzer:<file name>``."""
    models = [ShippedModel(str(path)) for path in sorted(MODELS_DIR.glob("*.model3"))]
    return [model for model in models if model.loaded]


class StAnalyzerProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "stanalyzer"

    def name(self) -> str:
        return "Space-time analyzer"

    def longName(self) -> str:  # noqa: N802 (QGIS API name)
        return f"Space-time analyzer {__version__}"

    def icon(self) -> QIcon:
        return QIcon(str(DIR_PLUGIN_ROOT / "resources" / "icons" / "st_analyzer.svg"))

    def versionInfo(self) -> str:  # noqa: N802
        return __version__

    def load(self) -> bool:
        try:  # the settings page lives in the Processing plugin, absent in bare test set-ups
            from processing.core.ProcessingConfig import ProcessingConfig, Setting

            ProcessingConfig.settingIcons[self.name()] = self.icon()
            ProcessingConfig.addSetting(
                Setting(
                    self.name(),
                    SETTING_PYTHON,
                    "Python interpreter for the backend (empty = the Python QGIS runs)",
                    "",
                    valuetype=Setting.FILE,
                )
            )
            ProcessingConfig.readSettings()
        except ImportError:
            pass
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        try:
            from processing.core.ProcessingConfig import ProcessingConfig

            ProcessingConfig.removeSetting(SETTING_PYTHON)
        except ImportError:
            pass

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: N802
        return ["gpkg", "csv"]

    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802
        return ["tif"]

    def loadAlgorithms(self) -> None:  # noqa: N802
        for algorithm in (
            BuildRasterStackAlgorithm(),
            DescribeSpaceTimeAlgorithm(),
            FitStVariogramAlgorithm(),
            StKrigingAlgorithm(),
            StKrigingCvAlgorithm(),
            TrainRasterForecasterAlgorithm(),
            ForecastRasterAlgorithm(),
            BaselineForecastAlgorithm(),
            ForecastByLocationAlgorithm(),
            EvaluateForecastsAlgorithm(),
            DetectPointAnomaliesAlgorithm(),
            DetectRasterAnomaliesAlgorithm(),
            TrainNetworkForecasterAlgorithm(),
            ForecastNetworkAlgorithm(),
            TimeSeriesDiagnosticsAlgorithm(),
            TimeSeriesClusteringAlgorithm(),
            EmergingHotSpotsAlgorithm(),
            LocalOutliersAlgorithm(),
            SetupBackendAlgorithm(),
        ):
            self.addAlgorithm(algorithm)
        registry = QgsApplication.processingRegistry()
        if registry.providerById(self.id()) is self:
            for model in shipped_models():
                self.addAlgorithm(model)
        else:  # the models' steps are this provider's algorithms: load them once it is registered
            registry.providerAdded.connect(self._load_models_when_registered)

    def _load_models_when_registered(self, provider_id: str) -> None:
        if provider_id != self.id():
            return
        QgsApplication.processingRegistry().providerAdded.disconnect(self._load_models_when_registered)
        self.refreshAlgorithms()
