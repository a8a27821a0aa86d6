"""Nothing lost, nothing silently wrong — the backend's side: outputs never over inputs, temporaries owned
by their run, the run ends with its parent, sizes checked before work, one time format per column."""

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from backend.commands import run_command
from backend.data.atomic import AtomicOutputs, set_temporary_listener
from backend.data.time_axis import on_regular_axis
from backend.data.time_parsing import parse_times
from backend.errors import UserInputError
from backend.memory import require_memory, set_limit_mb
from tests.paths import PM10_Q1, REPO, SAMPLE

HOURLY = SAMPLE / "era5_t2m_uk_2019_03_hourly.tif"
PM10 = {"path": str(PM10_Q1), "id_field": "station_id", "time_field": "date", "value_field": "pm10"}


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def default_memory_limit():
    yield
    set_limit_mb(None)


# --- outputs and inputs ----------------------------------------------------------------------------


def test_output_that_is_the_input_stack_is_refused_before_any_work(tmp_path):
    stack = tmp_path / "s.tif"
    shutil.copy(HOURLY, stack)
    before = digest(stack)
    with pytest.raises(UserInputError, match="is the input file .* never writes over its inputs"):
        run_command(
            "baselineforecast", {"input": str(stack), "method": "persistence", "horizon": 2, "output": str(stack)}
        )
    assert digest(stack) == before and sorted(p.name for p in tmp_path.iterdir()) == ["s.tif"]


def test_output_that_is_the_input_geopackage_through_a_symlink_is_refused(tmp_path):
    gpkg = tmp_path / "pm10.gpkg"
    shutil.copy(PM10_Q1, gpkg)
    (tmp_path / "link.gpkg").symlink_to(gpkg)
    before = digest(gpkg)
    with pytest.raises(UserInputError, match="never writes over its inputs"):
        run_command(
            "timeseriesdiagnostics",
            {"source": {"points": {**PM10, "path": str(gpkg)}}, "output": str(tmp_path / "link.gpkg")},
        )
    assert digest(gpkg) == before


def test_two_outputs_on_one_path_are_refused(tmp_path):
    with pytest.raises(UserInputError, match="are the same file"):
        run_command(
            "describespacetime",
            {"raster": str(HOURLY), "output_html": str(tmp_path / "a.html"), "output_table": str(tmp_path / "a.html")},
        )


def test_model_folder_holding_other_files_is_refused_before_training(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    started = time.monotonic()
    with pytest.raises(UserInputError, match="holds other files than a model"):
        run_command("trainrasterforecaster", {"input": str(HOURLY), "output_model": str(folder)})
    assert time.monotonic() - started < 5 and (folder / "notes.txt").read_text() == "mine"


def test_unwritable_output_folder_is_refused_before_training(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(UserInputError, match="Cannot create the output folder"):
        run_command("trainrasterforecaster", {"input": str(HOURLY), "output_model": str(blocker / "model")})


def test_an_existing_model_folder_is_replaced_whole(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with AtomicOutputs() as outputs:
        tmp = outputs.temporary_folder(folder)
        (tmp / "config.json").write_text('{"new": 1}')
        (tmp / "weights.pt").write_bytes(b"w")
    assert json.loads((folder / "config.json").read_text()) == {"new": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


# --- temporaries ----------------------------------------------------------------------------------


def test_temporaries_are_announced_unique_and_removed_on_failure(tmp_path):
    announced = []
    set_temporary_listener(lambda path, sidecars: announced.append(path))
    try:
        with pytest.raises(RuntimeError):
            with AtomicOutputs() as outputs:
                first = outputs.temporary(tmp_path / "k[1]*.tif")
                first.write_text("a")
                second = outputs.temporary(tmp_path / "k[1]*.tif")  # asked again: the first one is dropped
                assert not first.exists()
                second.write_text("b")
                raise RuntimeError("engine failed")
    finally:
        set_temporary_listener(None)
    assert announced == [first, second] and first != second
    assert list(tmp_path.iterdir()) == []


def test_another_runs_temporary_file_survives_a_failing_run(tmp_path):
    others = tmp_path / ".k05.tif.99999-0000abcd.partial.tif"
    others.write_text("another run is writing this")
    code, messages = _cli(
        tmp_path,
        "stkriging",
        {
            "points": PM10,
            "model_file": str(tmp_path / "missing.json"),
            "grid": {"xmin": 0, "ymin": 0, "xmax": 1, "ymax": 1, "pixel_size": 1},
            "output": str(tmp_path / "k05.tif"),
        },
    )
    assert code == 1 and "does not exist" in messages[-1]["message"]
    assert others.exists()


# --- the CLI and its parent ------------------------------------------------------------------------


def _cli(tmp_path, command, request):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    done = subprocess.run(
        [sys.executable, "-m", "backend", command, str(path)], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize(
    "content, message",
    [(b'{"input": "caf\xe9"}', "is not UTF-8 text"), (None, "is a folder; give a JSON request file")],
)
def test_unreadable_request_files_are_input_errors(tmp_path, content, message):
    request = tmp_path / "request"
    if content is None:
        request.mkdir()
    else:
        request.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-m", "backend", "describespacetime", str(request)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    last = json.loads(done.stdout.splitlines()[-1])
    assert done.returncode == 1 and last["kind"] == "input" and message in last["message"]


def test_backend_ends_within_two_seconds_when_its_parent_pipe_closes(slow_build_request):
    _request, path, out_dir = slow_build_request
    child = subprocess.Popen(
        [sys.executable, "-m", "backend", "buildrasterstack", str(path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "ST_ANALYZER_PARENT_PID": str(os.getpid())},
    )
    deadline = time.monotonic() + 60
    while not list(out_dir.glob(".big.tif.*.partial*")):
        assert time.monotonic() < deadline and child.poll() is None, "the build ended before the test could act"
        time.sleep(0.05)
    started = time.monotonic()
    child.stdin.close()  # what the kernel does when QGIS or qgis_process dies
    assert child.wait(timeout=10) == 131
    assert time.monotonic() - started < 2.0
    assert os.listdir(out_dir) == []


def test_sigterm_acts_while_the_main_thread_is_busy(tmp_path):
    script = (
        "from backend import lifeline\nlifeline.install(130, 131, lambda: print('cancelled', flush=True))\n"
        "import numpy\nfrom backend.data.atomic import AtomicOutputs\n"
        f"outputs = AtomicOutputs()\noutputs.temporary({str(tmp_path / 'x.tif')!r}).write_text('partial')\n"
        "print('ready', flush=True)\nwhile True:\n    numpy.linalg.eigvalsh(numpy.eye(1500))\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    started = time.monotonic()
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=10) == 130 and time.monotonic() - started < 2.0
    assert child.stdout.read().strip() == "cancelled" and list(tmp_path.iterdir()) == []


# --- sizes ------------------------------------------------------------------------------------------


def test_a_grid_beyond_the_memory_budget_is_refused_with_what_to_change(tmp_path):
    model = run_command(
        "fitstvariogram",
        {"points": PM10, "output_model": str(tmp_path / "m.json"), "variogram": {"model": "separable", "tlags": 3}},
    )
    started = time.monotonic()
    with pytest.raises(
        UserInputError, match="needs about .* of memory, more than the memory limit of 64 MB.*PIXEL_SIZE"
    ):
        run_command(
            "stkriging",
            {
                "points": PM10,
                "model_file": model.outputs["OUTPUT_MODEL"],
                "memory_limit_mb": 64,
                "grid": {
                    "xmin": 280000,
                    "ymin": 5230000,
                    "xmax": 920000,
                    "ymax": 6100000,
                    "pixel_size": 100,
                    "start": "2005-01-10",
                    "end": "2005-01-11",
                },
                "output": str(tmp_path / "k.tif"),
            },
        )
    assert time.monotonic() - started < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_require_memory_names_the_default_budget():
    with pytest.raises(UserInputError, match="a quarter of this machine's memory"):
        require_memory(1e18, "Something huge", "Use less.")


def test_irregular_times_are_not_spread_on_a_minute_axis():
    times = np.array(
        ["2005-01-01T00:00", "2005-01-01T00:01", "2005-02-01T00:00", "2005-03-03T07:13"], dtype="datetime64[s]"
    )
    with pytest.raises(UserInputError, match="too irregular for a regular axis"):
        on_regular_axis(times, np.zeros((2, 4), np.float32), axis=1)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("hidden", 4096, "hidden size must be between 2 and 1024"),
        ("lookback", 10**9, "lookback must be between 1 and 10000"),
    ],
)
def test_model_folders_with_absurd_sizes_are_refused(tmp_path, key, value, message):
    pytest.importorskip("torch")
    folder = tmp_path / "m"
    run_command(
        "trainrasterforecaster",
        {
            "input": str(HOURLY),
            "output_model": str(folder),
            "device": "cpu",
            "config": {"epochs": 1, "hidden": 4, "max_batches_per_epoch": 1},
        },
    )
    config = json.loads((folder / "config.json").read_text())
    config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserInputError, match=message):
        run_command("forecastraster", {"input": str(HOURLY), "model": str(folder), "output": str(tmp_path / "f.tif")})


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/st_analyzer_pwned",))


def test_a_pickle_with_code_is_refused_without_suggesting_to_unpickle_it(tmp_path):
    torch = pytest.importorskip("torch")
    folder = tmp_path / "m"
    run_command(
        "trainrasterforecaster",
        {
            "input": str(HOURLY),
            "output_model": str(folder),
            "device": "cpu",
            "config": {"epochs": 1, "hidden": 4, "max_batches_per_epoch": 1},
        },
    )
    torch.save({"weights": _Payload()}, folder / "weights.pt", pickle_protocol=pickle.DEFAULT_PROTOCOL)
    with pytest.raises(UserInputError) as error:
        run_command("forecastraster", {"input": str(HOURLY), "model": str(folder), "output": str(tmp_path / "f.tif")})
    assert "never loads such files" in str(error.value) and "weights_only" not in str(error.value)
    assert not Path("/tmp/st_analyzer_pwned").exists()


# --- times -------------------------------------------------------------------------------------------


def test_day_first_dates_are_read_with_one_format_for_the_column():
    january = parse_times([f"{day:02d}/01/2005" for day in range(1, 32)])
    assert str(january[0]) == "2005-01-01T00:00:00" and str(january[-1]) == "2005-01-31T00:00:00"
    assert np.all(np.diff(january) == np.timedelta64(86400, "s"))


def test_ambiguous_day_month_order_is_refused_and_time_format_resolves_it():
    with pytest.raises(UserInputError, match="day first or month first .* TIME_FORMAT"):
        parse_times(["01/02/2005", "03/02/2005"])
    assert str(parse_times(["01/02/2005"], time_format="%m/%d/%Y")[0]) == "2005-01-02T00:00:00"
    with pytest.raises(UserInputError, match="Expected the format '%d/%m/%Y'"):
        parse_times(["2005-02-01"], time_format="%d/%m/%Y")


@pytest.mark.parametrize("window", ["-2 days", "0h", "soon"])
def test_rolling_windows_must_be_positive_durations(window):
    with pytest.raises(UserInputError, match="rolling window"):
        run_command(
            "detectpointanomalies",
            {
                "points": PM10,
                "output": "/tmp/never_written.gpkg",
                "detection": {"method": "rolling_median", "window": window},
            },
        )
    assert not Path("/tmp/never_written.gpkg").exists()


def test_all_nodata_stack_gives_one_message_and_no_output(tmp_path):
    import rasterio

    with rasterio.open(HOURLY) as src:
        profile = src.profile
        empty = tmp_path / "empty.tif"
        with rasterio.open(empty, "w", **{**profile, "nodata": np.nan}) as dst:
            dst.write(np.full((src.count, src.height, src.width), np.nan, np.float32))
            dst.update_tags(**src.tags())
            for band in range(1, src.count + 1):
                dst.set_band_description(band, src.descriptions[band - 1])
                dst.update_tags(band, **src.tags(band))
    with pytest.raises(UserInputError, match="Every value of the input is no data"):
        run_command("timeseriesdiagnostics", {"source": {"raster": str(empty)}, "output": str(tmp_path / "d.tif")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.tif"]
