"""The plugin as users get it: a zip from qgis-plugin-ci, loaded by QGIS without heavy imports."""

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

from tests.paths import PM10_Q1, REPO, SAMPLE
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
    done = subprocess.run(
        ["/usr/bin/python3", "-c", LOAD_PROBE], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"stanalyzer:buildrasterstack", "stanalyzer:describespacetime"} <= set(report["algorithms"])
    heavy = {"numpy", "torch", "rasterio", "pandas", "geopandas", "scipy", "backend", "matplotlib"}
    assert heavy.isdisjoint(report["new_top_level_modules"]), report["new_top_level_modules"]
    print(f"plugin load + provider registration: {report['seconds'] * 1000:.0f} ms")
    assert report["seconds"] < 2.0


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    """The zip `make package` builds (scripts/package.sh: qgis-plugin-ci + the backend wheel)."""
    done = subprocess.run(
        ["bash", "scripts/package.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    archive = REPO / done.stdout.strip().splitlines()[-1]
    target = tmp_path_factory.mktemp("zip") / archive.name
    shutil.move(archive, target)
    return target


def test_zip_holds_the_plugin_folder_with_license_and_backend_wheel(plugin_zip):
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert all(n.startswith("st_analyzer/") for n in names)
    assert {"st_analyzer/metadata.txt", "st_analyzer/LICENSE", "st_analyzer/resources/icons/st_analyzer.svg"} <= set(
        names
    )
    wheels = [n for n in names if n.startswith("st_analyzer/backend_wheel/")]
    assert len(wheels) == 1 and wheels[0].endswith("-py3-none-any.whl")
    assert not (REPO / "st_analyzer" / "backend_wheel").exists()  # the build leaves the checkout clean


def test_unpacked_zip_loads_in_qgis_process(plugin_zip, tmp_path):
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(plugin_zip).extractall(plugins)
    env = qgis_process_env(tmp_path / "profile")
    env["QGIS_PLUGINPATH"] = str(plugins)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.realpath(p) != str(REPO)
    )  # not the source tree
    enabled = subprocess.run(
        [QGIS_PROCESS, "plugins", "enable", "st_analyzer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    listing = subprocess.run([QGIS_PROCESS, "list"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "stanalyzer:buildrasterstack" in listing.stdout and "stanalyzer:describespacetime" in listing.stdout


@pytest.fixture(scope="module")
def installed_from_zip(plugin_zip, tmp_path_factory):
    """run(*args) → qgis_process with only the unpacked zip: a fresh profile, no backend on any path."""
    root = tmp_path_factory.mktemp("from_zip")
    zipfile.ZipFile(plugin_zip).extractall(root / "plugins")
    env = qgis_process_env(root / "profile")
    env["QGIS_PLUGINPATH"] = str(root / "plugins")
    for name in ("PYTHONPATH", "ST_ANALYZER_PYTHON", "VIRTUAL_ENV"):
        env.pop(name, None)
    env["ST_ANALYZER_TORCH_INDEX"] = ""  # this machine's pip configuration serves the CPU wheel of torch
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)

    def run(*args, timeout=900):
        return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=root)

    enabled = run("plugins", "enable", "st_analyzer")
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return run, root


def test_without_a_backend_every_algorithm_names_set_up_backend(installed_from_zip, tmp_path):
    run, root = installed_from_zip
    if (root / "profile" / "profiles" / "default" / "st_analyzer_backend").exists():
        pytest.skip("the backend environment was already made in this profile")
    done = run(
        "run",
        "stanalyzer:describespacetime",
        "--",
        f"INPUT={SAMPLE / 'era5_t2m_uk_2019_03_hourly.tif'}",
        f"OUTPUT_HTML={tmp_path / 'r.html'}",
    )
    assert done.returncode != 0 and "Set up backend" in done.stdout + done.stderr


def test_setupbackend_then_kriging_and_training_from_the_zip_alone(installed_from_zip, tmp_path):
    run, root = installed_from_zip
    with_torch = os.environ.get("ST_ANALYZER_TEST_TORCH", "cpu") == "cpu"  # the chroots: no CPU wheel at hand
    started = time.monotonic()
    done = run("run", "stanalyzer:setupbackend", "--", f"TORCH={0 if with_torch else 2}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"setupbackend (CPU torch): {time.monotonic() - started:.0f} s")
    python = root / "profile" / "profiles" / "default" / "st_analyzer_backend" / "bin" / "python"
    assert f"OUTPUT_PYTHON:\t{python}" in done.stdout
    shutil.copy(PM10_Q1, tmp_path / "pm10.gpkg")
    done = run(
        "run",
        "stanalyzer:stkriging",
        "--",
        f"INPUT={tmp_path / 'pm10.gpkg'}",
        "ID_FIELD=station_id",
        "TIME_FIELD=date",
        "VALUE_FIELD=pm10",
        "PIXEL_SIZE=40000",
        "START=2005-01-10T00:00:00",
        "END=2005-01-11T00:00:00",
        f"OUTPUT={tmp_path / 'k.tif'}",
    )
    assert done.returncode == 0 and f"Backend interpreter: {python}" in done.stdout, done.stdout[-2000:]
    assert (tmp_path / "k.tif").exists()
    done = run(
        "run",
        "stanalyzer:trainrasterforecaster",
        "--",
        f"INPUT={SAMPLE / 'era5_t2m_uk_2019_03_hourly.tif'}",
        "EPOCHS=1",
        "HIDDEN=4",
        f"OUTPUT_MODEL={tmp_path / 'model'}",
    )
    if with_torch:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert (tmp_path / "model" / "weights.pt").exists()
    else:
        assert done.returncode != 0 and "torch" in done.stdout + done.stderr
    again = run("run", "stanalyzer:setupbackend", "--", f"TORCH={0 if with_torch else 2}")  # repairs in place
    assert again.returncode == 0 and "Repairing and upgrading" in again.stdout + again.stderr
    if with_torch:
        assert "torch is already installed" in again.stdout + again.stderr


def test_cancelled_or_failed_setup_leaves_no_environment(plugin_zip, tmp_path):
    from st_analyzer.backend_setup import BackendSetup, SetupCancelled, SetupError, SetupPlan

    zipfile.ZipFile(plugin_zip).extractall(tmp_path / "plugins")
    wheel = next((tmp_path / "plugins" / "st_analyzer" / "backend_wheel").glob("*.whl"))
    empty = tmp_path / "no_wheels"
    empty.mkdir()
    plan = SetupPlan("/usr/bin/python3", tmp_path / "env", torch="cpu", wheelhouse=empty, wheel=wheel)
    with pytest.raises(SetupError, match="Installing .* failed.*holds the wheels needed"):
        BackendSetup(plan).run()  # offline, and the wheel folder lacks what this Python lacks (statsforecast, torch)
    assert not (tmp_path / "env").exists()
    steps = []
    cancel_after_first = BackendSetup(
        SetupPlan("/usr/bin/python3", tmp_path / "env", torch="none", wheel=wheel),
        report=lambda p, text: steps.append(text),
        cancelled=lambda: bool(steps),
    )
    with pytest.raises(SetupCancelled):
        cancel_after_first.run()
    assert not (tmp_path / "env").exists()


def test_zip_passes_the_repository_checks_with_only_placeholder_warnings(plugin_zip):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "validate_plugin.py"), str(plugin_zip)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout
    warnings = [line for line in done.stdout.splitlines() if line.startswith("WARNING")]
    assert warnings and all("placeholder" in line for line in warnings), done.stdout
    print(done.stdout)


def test_validator_refuses_what_the_repository_refuses(plugin_zip, tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(plugin_zip) as source, zipfile.ZipFile(bad, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith("/LICENSE"):
                target.writestr(item, source.read(item))
        target.writestr("st_analyzer/__pycache__/x.cpython-311.pyc", b"\0")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "validate_plugin.py"), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "st_analyzer/LICENSE is missing" in done.stdout and "compiled file" in done.stdout
    assert "forbidden folder" in done.stdout
