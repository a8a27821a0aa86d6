import os
import shutil
import subprocess

import pytest

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt install python3-qgis)")

from tests.paths import REPO  # noqa: E402

QGIS_PROCESS = shutil.which("qgis_process.bin", path="/usr/bin:" + os.environ.get("PATH", "")) or "qgis_process.bin"


@pytest.fixture(scope="session")
def provider(qgis_app, qgis_processing):
    """The st_analyzer provider registered in this test session's QGIS."""
    from qgis.core import QgsApplication

    from st_analyzer.processing.provider import StAnalyzerProvider

    registry = QgsApplication.processingRegistry()
    existing = registry.providerById("stanalyzer")
    if existing is not None:
        yield existing
        return
    instance = StAnalyzerProvider()
    assert registry.addProvider(instance)
    yield instance
    registry.removeProvider(instance)


@pytest.fixture
def run_alg(provider):
    """run_alg(id, params) → results of processing.run, in a fresh context with a project."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    def run(alg_id, params, context=None, feedback=None):
        context = context or QgsProcessingContext()
        context.setProject(QgsProject.instance())
        return processing.run(alg_id, params, context=context, feedback=feedback or QgsProcessingFeedback())

    return run


def qgis_process_env(profile):
    """Environment for a real qgis_process subprocess with the plugin from this checkout."""
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        QGIS_PLUGINPATH=str(REPO),
        QGIS_CUSTOM_CONFIG_PATH=str(profile),
        PROJ_DATA=env.get("PROJ_DATA", "/usr/share/proj"),
    )
    return env


@pytest.fixture(scope="session")
def qgis_process(tmp_path_factory):
    """qgis_process(*args) → CompletedProcess, with the plugin enabled in a private profile."""
    profile = tmp_path_factory.mktemp("qgis_profile")
    env = qgis_process_env(profile)
    enabled = subprocess.run(
        [QGIS_PROCESS, "plugins", "enable", "st_analyzer"], env=env, capture_output=True, text=True, timeout=120
    )
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr

    def call(*args, timeout=300):
        return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=timeout)

    call.env = env  # for tests that start qgis_process themselves (e.g. to act while it runs)
    return call


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory):
    """The first 200 hours of the ERA5 sample on a 12 × 12 crop, as a GeoTIFF stack path (training bands only)."""
    from backend.data.raster_io import read_stack, write_stack
    from backend.data.raster_stack import GridSpec, RasterStack
    from tests.qgis.data import SAMPLE_COPY

    full = read_stack(SAMPLE_COPY / "era5_t2m_uk_2019_03_hourly.tif")
    path = tmp_path_factory.mktemp("stack") / "small.tif"
    write_stack(
        RasterStack(
            full.values[:200, :12, :12], full.times[:200], GridSpec(12, 12, full.grid.transform, full.grid.crs)
        ),
        path,
    )
    return str(path)


@pytest.fixture(autouse=True)
def processing_results_without_mock_iface(monkeypatch):
    """Processing's result loading passes ``iface.layerTreeView()`` to C++ (QGIS ≥ 3.44), which refuses the
    mock iface of pytest-qgis; results are loaded into the project as in qgis_process, without a layer tree."""
    try:
        from processing.gui import Postprocessing as postprocessing  # noqa: N813 (the module's own name)
    except ImportError:
        return
    if hasattr(postprocessing, "iface"):
        monkeypatch.setattr(postprocessing, "iface", None)
