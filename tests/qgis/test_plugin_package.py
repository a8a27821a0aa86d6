"""The plugin as users get it: a zip from qgis-plugin-ci, loaded by QGIS without heavy imports."""

import json
import os
import subprocess
import sys
import zipfile

import pytest

from tests.paths import REPO
from tests.qgis.conftest import QGIS_PROCESS, qgis_process_env

LOAD_PROBE = r"""
import json, sys, time
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
before = set(sys.modules)
started = time.perf_counter()
import st_analyzer
plugin = st_analyzer.classFactory(None)
plugin.initProcessing()
elapsed = time.perf_counter() - started
provider = QgsApplication.processingRegistry().providerById("stanalyzer")
new = sorted(m.split(".")[0] for m in set(sys.modules) - before)
print(json.dumps({"seconds": elapsed, "algorithms": sorted(a.id() for a in provider.algorithms()),
                  "new_top_level_modules": sorted(set(new))}))
plugin.unload()
"""


def test_plugin_loads_fast_without_heavy_imports(tmp_path):
    env = qgis_process_env(tmp_path / "profile")
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(["/usr/bin/python3", "-c", LOAD_PROBE], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"stanalyzer:buildrasterstack", "stanalyzer:describespacetime"} <= set(report["algorithms"])
    heavy = {"numpy", "torch", "rasterio", "pandas", "geopandas", "scipy", "backend", "matplotlib"}
    assert heavy.isdisjoint(report["new_top_level_modules"]), report["new_top_level_modules"]
    print(f"plugin load + provider registration: {report['seconds'] * 1000:.0f} ms")
    assert report["seconds"] < 2.0


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    version = next(line.split("=", 1)[1].strip() for line in (REPO / "st_analyzer" / "metadata.txt").read_text().splitlines()
                   if line.startswith("version="))
    ci = os.path.join(os.path.dirname(sys.executable), "qgis-plugin-ci")
    done = subprocess.run([ci, "package", version, "--allow-uncommitted-changes"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    archive = REPO / f"st_analyzer.{version}.zip"
    target = tmp_path_factory.mktemp("zip") / archive.name
    archive.replace(target)
    return target


def test_zip_holds_only_the_plugin_folder(plugin_zip):
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert all(n.startswith("st_analyzer/") for n in names)
    assert "st_analyzer/metadata.txt" in names and "st_analyzer/resources/icons/st_analyzer.svg" in names
    assert not any(n.startswith("st_analyzer/backend") for n in names)


def test_unpacked_zip_loads_in_qgis_process(plugin_zip, tmp_path):
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(plugin_zip).extractall(plugins)
    env = qgis_process_env(tmp_path / "profile")
    env["QGIS_PLUGINPATH"] = str(plugins)
    env["PYTHONPATH"] = os.pathsep.join(p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                        if p and os.path.realpath(p) != str(REPO))  # not the source tree
    enabled = subprocess.run([QGIS_PROCESS, "plugins", "enable", "st_analyzer"], env=env, capture_output=True,
                             text=True, timeout=120, cwd=tmp_path)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    listing = subprocess.run([QGIS_PROCESS, "list"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "stanalyzer:buildrasterstack" in listing.stdout and "stanalyzer:describespacetime" in listing.stdout
