"""Nothing lost, nothing silently wrong — as a hostile user tries it, through the real `qgis_process`.

Every case asserts the message, the exit code, that the inputs are byte-identical afterwards and
that no temporary file is left; the process cases measure how fast the backend ends.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsProcessingFeedback

from st_analyzer.runner import BackendCancelled, BackendRunner
from tests.paths import PM10_Q1, SAMPLE
from tests.qgis.conftest import QGIS_PROCESS, qgis_process_env

pytestmark = pytest.mark.qgis_process

HOURLY = SAMPLE / "era5_t2m_uk_2019_03_hourly.tif"  # copied from the repository, never opened by QGIS here
PM10_FIELDS = ("ID_FIELD=station_id", "TIME_FIELD=date", "VALUE_FIELD=pm10")
PYTHON = os.environ.get("ST_ANALYZER_PYTHON", "python3")


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Temporary files of st_analyzer runs in ``folder`` (and request/input-copy folders in the temp dir)."""
    return sorted(p.name for p in Path(folder).iterdir() if ".partial" in p.name or p.name.startswith("st_analyzer_"))


def output_of(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr


@pytest.fixture
def work(tmp_path):
    """A folder with private copies of the inputs (from the repository's files: the session's copies may be open
    in the test QGIS with a write-ahead log); on leaving, no temporary file may be left in it."""
    shutil.copy(HOURLY, tmp_path / "stack.tif")
    shutil.copy(PM10_Q1, tmp_path / "pm10.gpkg")
    yield tmp_path
    assert leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def process_env(tmp_path_factory):
    """Environment of a qgis_process with the plugin enabled in a private profile."""
    env = qgis_process_env(tmp_path_factory.mktemp("reliability_profile"))
    enabled = subprocess.run(
        [QGIS_PROCESS, "plugins", "enable", "st_analyzer"], env=env, capture_output=True, text=True, timeout=120
    )
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return env


@pytest.fixture(scope="module")
def spawn(process_env):
    """spawn(*args) → a running qgis_process (Popen)."""

    def start(*args, temp_dir=None):
        env = {**process_env, "TMPDIR": str(temp_dir)} if temp_dir else process_env
        return subprocess.Popen(
            [QGIS_PROCESS, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    return start


def backend_children(parent_pid: int) -> list[int]:
    """Pids of `python -m backend` processes whose parent is ``parent_pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent_pid and b"backend" in cmdline and b"info" not in cmdline:  # not the version probe
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for_backend(process: subprocess.Popen, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "qgis_process ended before its backend could be seen"
        children = backend_children(process.pid)
        if children:
            return children[0]
        time.sleep(0.1)
    raise AssertionError("no backend child appeared")


# --- outputs over inputs ------------------------------------------------------------------------------


def test_output_equal_to_the_input_stack_is_refused(qgis_process, work):
    before = digest(work / "stack.tif")
    done = qgis_process(
        "run",
        "stanalyzer:baselineforecast",
        "--",
        f"INPUT={work / 'stack.tif'}",
        "METHOD=0",
        "HORIZON=2",
        f"OUTPUT={work / 'stack.tif'}",
    )
    assert done.returncode != 0 and "never writes over its inputs" in output_of(done)
    assert digest(work / "stack.tif") == before


def test_output_equal_to_the_input_geopackage_is_refused(qgis_process, work):
    before = digest(work / "pm10.gpkg")
    (work / "link.gpkg").symlink_to(work / "pm10.gpkg")
    for output in ("pm10.gpkg", "link.gpkg"):
        done = qgis_process(
            "run",
            "stanalyzer:timeseriesdiagnostics",
            "--",
            f"INPUT={work / 'pm10.gpkg'}",
            *PM10_FIELDS,
            f"OUTPUT={work / output}",
        )
        assert done.returncode != 0 and "never writes over its inputs" in output_of(done), output
    assert digest(work / "pm10.gpkg") == before


def test_output_over_the_file_of_a_filtered_layer_is_refused(qgis_process, work):
    before = digest(work / "pm10.gpkg")
    layer = f"{work / 'pm10.gpkg'}|subset=\"station_id\" != 'DEBB053'"
    done = qgis_process(
        "run", "stanalyzer:timeseriesdiagnostics", "--", f"INPUT={layer}", *PM10_FIELDS, f"OUTPUT={work / 'pm10.gpkg'}"
    )
    assert done.returncode != 0 and "never writes over its inputs" in output_of(done)
    assert digest(work / "pm10.gpkg") == before


# --- temporaries owned by their run --------------------------------------------------------------------


def test_a_failing_run_leaves_another_runs_temporary_alone(qgis_process, work):
    others = work / ".k[05]*.tif.4242-0badcafe.partial.tif"  # what a concurrent run to the same output writes
    others.write_text("another run")
    (work / ".k[05]*.tif.4242-0badcafe.partial").mkdir()  # and a model folder it is filling
    bad_model = work / "model.json"
    bad_model.write_text("{not json")
    done = qgis_process(
        "run",
        "stanalyzer:stkriging",
        "--",
        f"INPUT={work / 'pm10.gpkg'}",
        *PM10_FIELDS,
        f"MODEL_FILE={bad_model}",
        "PIXEL_SIZE=50000",
        f"OUTPUT={work / 'k[05]*.tif'}",
    )
    assert done.returncode != 0 and "is not valid JSON" in output_of(done)
    assert "IsADirectoryError" not in output_of(done) and others.read_text() == "another run"
    others.unlink()
    (work / ".k[05]*.tif.4242-0badcafe.partial").rmdir()


# --- the backend ends with qgis_process -----------------------------------------------------------------


@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_backend_ends_within_two_seconds_when_qgis_process_is_killed(spawn, work, kill, tmp_path_factory):
    temp = tmp_path_factory.mktemp("tmpdir")
    process = spawn(*long_kriging_run(work), temp_dir=temp)
    backend = wait_for_backend(process)
    time.sleep(1.0)
    process.send_signal(kill)
    killed_at = time.monotonic()
    process.wait(timeout=30)
    while alive(backend) and time.monotonic() - killed_at < 10:
        time.sleep(0.02)
    assert time.monotonic() - killed_at < 2.0, f"the backend lived on after {kill.name} of qgis_process"
    time.sleep(0.5)
    assert not (work / "k.tif").exists() and not (work / "k_variance.tif").exists()
    assert [
        (p, sorted(os.listdir(p))) for p in temp.rglob("st_analyzer_*")
    ] == []  # left to the backend by a killed qgis_process


def long_kriging_run(work: Path) -> list[str]:
    """qgis_process arguments of a grid kriging that runs for minutes (1 km over Germany, 90 days)."""
    return [
        "run",
        "stanalyzer:stkriging",
        "--",
        f"INPUT={work / 'pm10.gpkg'}",
        *PM10_FIELDS,
        f"MODEL_FILE={fitted_model(work)}",
        "PIXEL_SIZE=1000",
        f"OUTPUT={work / 'k.tif'}",
    ]


def test_a_killed_backend_is_named_as_such(spawn, work):
    process = spawn(*long_kriging_run(work))
    backend = wait_for_backend(process)
    time.sleep(1.0)
    os.kill(backend, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode != 0 and "killed (SIGKILL)" in stdout + stderr and "memory" in stdout + stderr
    assert not (work / "k.tif").exists()


# --- cancel within 2 s ------------------------------------------------------------------------------------


class CancelAfterStart(QgsProcessingFeedback):
    """Cancels ``delay`` seconds after the backend reported ``min_progress`` % (with 0: its first message;
    with None: ``delay`` seconds after the run started)."""

    def __init__(self, delay: float, min_progress: float | None = 0.0) -> None:
        super().__init__()
        self.delay, self.min_progress = delay, min_progress
        self.cancelled_at = None
        self._timer = None
        if min_progress is None:
            self._started()

    def _started(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self.delay, self._cancel)
            self._timer.start()

    def _cancel(self) -> None:
        self.cancelled_at = time.monotonic()
        self.cancel()

    def setProgress(self, percent):  # noqa: N802 (QGIS API name)
        super().setProgress(percent)
        if self.min_progress is not None and percent >= self.min_progress:
            self._started()

    def pushInfo(self, text):  # noqa: N802
        super().pushInfo(text)
        if not self.min_progress:
            self._started()


def fitted_model(work: Path) -> str:
    from backend.commands import run_command

    path = work / "vgm.json"
    run_command(
        "fitstvariogram",
        {"points": PM10_REQUEST(work), "output_model": str(path), "variogram": {"model": "separable", "tlags": 3}},
    )
    return str(path)


def PM10_REQUEST(work: Path) -> dict:  # noqa: N802 (a constant-like factory)
    return {"path": str(work / "pm10.gpkg"), "id_field": "station_id", "time_field": "date", "value_field": "pm10"}


@pytest.mark.parametrize(
    "command, min_progress", [("trainrasterforecaster", 0.0), ("stkriging", 21.0), ("timeseriesdiagnostics", None)]
)
def test_cancel_takes_effect_within_two_seconds(work, command, min_progress):
    if command == "trainrasterforecaster":
        pytest.importorskip("torch", reason="torch is not installed in this environment (the host tests training)")
    requests = {
        "trainrasterforecaster": {
            "input": str(work / "stack.tif"),
            "output_model": str(work / "model"),
            "device": "cpu",
        },
        "stkriging": {
            "points": PM10_REQUEST(work),
            "model_file": fitted_model(work) if command == "stkriging" else "",
            "grid": {"xmin": 280000, "ymin": 5230000, "xmax": 920000, "ymax": 6100000, "pixel_size": 1000},
            "output": str(work / "k.tif"),
        },
        "timeseriesdiagnostics": {"source": {"raster": str(work / "stack.tif")}, "output": str(work / "d.tif")},
    }
    feedback = CancelAfterStart(delay=2.0 if min_progress is not None else 8.0, min_progress=min_progress)
    with pytest.raises(BackendCancelled):
        BackendRunner(PYTHON, feedback).run(command, requests[command])
    assert feedback.cancelled_at is not None, "the run ended before it was cancelled"
    assert time.monotonic() - feedback.cancelled_at < 2.0
    assert not [p for p in work.iterdir() if p.name in ("model", "k.tif", "k_variance.tif", "d.tif")]


# --- sizes, times and other bad input ---------------------------------------------------------------------


def test_a_grid_too_large_is_refused_at_once(qgis_process, work):
    """A 1 m grid over Germany (5.6e11 cells): kriging works in chunks of rows, so memory is not the limit; the
    2 TB output is refused before any work."""
    started = time.monotonic()
    done = qgis_process(
        "run",
        "stanalyzer:stkriging",
        "--",
        f"INPUT={work / 'pm10.gpkg'}",
        *PM10_FIELDS,
        "PIXEL_SIZE=1",
        "START=2005-01-10T00:00:00",
        "END=2005-01-10T00:00:00",
        f"OUTPUT={work / 'k.tif'}",
    )
    assert done.returncode != 0 and "on disk" in output_of(done) and "coarser grid" in output_of(done)
    assert "Traceback" not in output_of(done) and time.monotonic() - started < 90
    assert not (work / "k.tif").exists()


def _text_dates_layer(work: Path, days: int, name: str) -> Path:
    """The PM10 sample's first ``days`` days of January with the date as dd/mm/yyyy text."""
    import geopandas as gpd

    frame = gpd.read_file(work / "pm10.gpkg")
    frame["date"] = frame["date"].astype(str).str[:10]
    frame = frame[frame["date"] < f"2005-01-{days + 1:02d}"].copy()
    frame["date"] = frame["date"].str[8:10] + "/" + frame["date"].str[5:7] + "/" + frame["date"].str[0:4]
    path = work / name
    frame.to_file(path, driver="GPKG")
    return path


def test_day_first_text_dates_are_read_as_one_format(qgis_process, work):
    layer = _text_dates_layer(work, 31, "dmy.gpkg")
    done = qgis_process(
        "run", "stanalyzer:describespacetime", "--", f"INPUT={layer}", *PM10_FIELDS, f"OUTPUT_HTML={work / 'd.html'}"
    )
    assert done.returncode == 0, output_of(done)[-2000:]
    assert "31 time steps from 2005-01-01T00:00:00Z to 2005-01-31T00:00:00Z, step 1 day" in done.stdout


def test_ambiguous_text_dates_are_refused_and_time_format_reads_them(qgis_process, work):
    layer = _text_dates_layer(work, 12, "ambiguous.gpkg")
    before = digest(layer)
    done = qgis_process(
        "run", "stanalyzer:describespacetime", "--", f"INPUT={layer}", *PM10_FIELDS, f"OUTPUT_HTML={work / 'd.html'}"
    )
    assert done.returncode != 0 and "day first or month first" in output_of(done) and "TIME_FORMAT" in output_of(done)
    assert not (work / "d.html").exists()
    done = qgis_process(
        "run",
        "stanalyzer:describespacetime",
        "--",
        f"INPUT={layer}",
        *PM10_FIELDS,
        "TIME_FORMAT=%d/%m/%Y",
        f"OUTPUT_HTML={work / 'd.html'}",
    )
    assert done.returncode == 0 and "12 time steps from 2005-01-01T00:00:00Z to 2005-01-12" in done.stdout
    assert digest(layer) == before


def test_a_negative_window_is_refused(qgis_process, work):
    done = qgis_process(
        "run",
        "stanalyzer:detectpointanomalies",
        "--",
        f"INPUT={work / 'pm10.gpkg'}",
        *PM10_FIELDS,
        "METHOD=1",
        "WINDOW=-2 days",
        f"OUTPUT={work / 'a.gpkg'}",
    )
    assert done.returncode != 0 and "must be a positive duration" in output_of(done)
    assert not (work / "a.gpkg").exists()


def test_an_existing_folder_that_is_not_a_model_is_refused_before_training(qgis_process, work):
    (work / "mine").mkdir()
    (work / "mine" / "notes.txt").write_text("keep me")
    started = time.monotonic()
    done = qgis_process(
        "run", "stanalyzer:trainrasterforecaster", "--", f"INPUT={work / 'stack.tif'}", f"OUTPUT_MODEL={work / 'mine'}"
    )
    assert done.returncode != 0 and "holds other files than a model" in output_of(done)
    assert time.monotonic() - started < 60 and (work / "mine" / "notes.txt").read_text() == "keep me"


def test_a_model_with_pickled_code_is_refused_without_a_hint_to_unpickle(qgis_process, work):
    torch = pytest.importorskip("torch")
    from backend.commands import run_command

    run_command(
        "trainrasterforecaster",
        {
            "input": str(work / "stack.tif"),
            "output_model": str(work / "model"),
            "device": "cpu",
            "config": {"epochs": 1, "hidden": 4, "max_batches_per_epoch": 1},
        },
    )
    torch.save({"w": np.dtype}, work / "model" / "weights.pt")  # a global outside the allowed list
    done = qgis_process(
        "run",
        "stanalyzer:forecastraster",
        "--",
        f"INPUT={work / 'stack.tif'}",
        f"MODEL={work / 'model'}",
        f"OUTPUT={work / 'f.tif'}",
    )
    assert done.returncode != 0 and "never loads such files" in output_of(done)
    assert "weights_only" not in output_of(done) and not (work / "f.tif").exists()


def test_all_nodata_stack_is_one_message_and_no_output(qgis_process, work):
    import rasterio

    with rasterio.open(work / "stack.tif", "r+") as dst:
        dst.nodata = np.nan
        dst.write(np.full((dst.count, dst.height, dst.width), np.nan, np.float32))
    done = qgis_process(
        "run", "stanalyzer:timeseriesdiagnostics", "--", f"INPUT={work / 'stack.tif'}", f"OUTPUT={work / 'd.tif'}"
    )
    assert done.returncode != 0 and "Every value of the input is no data" in output_of(done)
    assert not (work / "d.tif").exists()


def test_input_copies_of_filtered_layers_are_removed(process_env, work, tmp_path_factory):
    layer = f"{work / 'pm10.gpkg'}|subset=\"station_id\" != 'DEBB053'"
    temp = tmp_path_factory.mktemp("tmpdir")
    done = subprocess.run(
        [
            QGIS_PROCESS,
            "run",
            "stanalyzer:describespacetime",
            "--",
            f"INPUT={layer}",
            *PM10_FIELDS,
            f"OUTPUT_HTML={work / 'd.html'}",
        ],
        env={**process_env, "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, output_of(done)[-2000:]
    assert "Copying" in done.stdout and list(temp.rglob("st_analyzer_*")) == []
