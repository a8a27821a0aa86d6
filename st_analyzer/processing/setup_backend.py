"""stanalyzer:setupbackend — makes the backend's private Python environment (one click, also headless)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingOutputString, QgsProcessingParameterFile

from st_analyzer.backend_setup import BackendSetup, SetupCancelled, SetupError, SetupPlan, default_folder
from st_analyzer.processing.common import StAlgorithm, add_choice, choice_of
from st_analyzer.runner import default_python, forget_probe
from st_analyzer.settings import store_python

TORCH_BUILDS = [
    ("cpu", "CPU build (any machine)"),
    ("cuda", "CUDA build (NVIDIA GPU; a download of several GB)"),
    ("none", "None (no forecasting algorithms)"),
]


class SetupBackendAlgorithm(StAlgorithm):
    ALG_ID = "setupbackend"
    TITLE = "Set up backend"
    GROUP_ID, GROUP = "setup", "Set-up"
    HELP = (
        "Creates the Python environment in which st_analyzer's algorithms run, and stores it in the provider "
        "settings (Settings → Options → Processing → Providers → Space-time analyzer). Run it once after installing "
        "the plugin, and again after an upgrade of the plugin or to repair the environment (it then "
        "works in place).\n\n"
        "The environment is a virtual environment on top of the Python that QGIS runs, with QGIS's own packages "
        "visible, so QGIS's GDAL stack (rasterio, geopandas, pyproj, shapely) is shared and never replaced. It "
        "receives the backend that comes in the plugin, what QGIS's Python lacks of numpy, scipy, pandas, "
        "matplotlib, statsmodels and scikit-learn, and torch. QGIS's own Python is not changed.\n\n"
        "Torch build [TORCH]: CPU (default), CUDA for an NVIDIA GPU, or none (the forecasting algorithms then say "
        "how to add it). Wheel folder [WHEELHOUSE]: for a machine without internet, a folder of wheel files to "
        "install from (nothing is downloaded then). Folder [FOLDER]: where the environment goes (default: the "
        "folder st_analyzer_backend in your QGIS profile).\n\n"
        "Cancel leaves no half-made environment; without internet the run stops with pip's reason."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        add_choice(self, "TORCH", "Torch build", TORCH_BUILDS, 0)
        self.addParameter(
            QgsProcessingParameterFile(
                "WHEELHOUSE",
                "Wheel folder for a machine without internet (optional)",
                behavior=QgsProcessingParameterFile.Folder,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                "FOLDER",
                "Environment folder (default: in the QGIS profile)",
                behavior=QgsProcessingParameterFile.Folder,
                optional=True,
            )
        )
        self.addOutput(QgsProcessingOutputString("OUTPUT_PYTHON", "Backend interpreter"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        folder_text = self.parameterAsString(parameters, "FOLDER", context).strip()
        wheelhouse = self.parameterAsString(parameters, "WHEELHOUSE", context).strip()
        plan = SetupPlan(
            base_python=default_python(),
            folder=Path(folder_text) if folder_text else default_folder(QgsApplication.qgisSettingsDirPath()),
            torch=choice_of(self, parameters, "TORCH", context, TORCH_BUILDS),
            wheelhouse=Path(wheelhouse) if wheelhouse else None,
        )
        feedback.pushInfo(f"Environment: {plan.folder} (on top of {plan.base_python}); torch: {plan.torch}.")

        def report(percent: float, text: str) -> None:
            feedback.setProgress(percent)
            feedback.setProgressText(text)
            feedback.pushInfo(text + "…" if percent < 100 else text)

        try:
            python = BackendSetup(plan, report, feedback.pushDebugInfo, feedback.isCanceled).run()
        except SetupCancelled as exc:
            raise QgsProcessingException(str(exc)) from exc
        except SetupError as exc:
            raise QgsProcessingException(str(exc)) from exc
        store_python(str(python))
        forget_probe(str(python))
        feedback.pushInfo(f"The algorithms now run the backend with {python}.")
        return {"OUTPUT_PYTHON": str(python)}
