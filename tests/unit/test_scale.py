"""Chunked work (backend.scale): scheduler choice, chunk sizes from MEMORY_LIMIT, the lazy stack, and the same
outputs whatever the chunks and the scheduler (threads, a local process pool); a cancelled run stops its worker
processes and leaves nothing."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rasterio

from backend.commands import run_command
from backend.data.lazy_stack import open_lazy_stack
from backend.data.raster_io import open_raster, read_block, read_stack, write_stack
from backend.data.raster_stack import GridSpec, RasterStack
from backend.errors import UserInputError
from backend.memory import set_limit_mb
from backend.scale.blocks import chunk_side
from backend.scale.scheduler import SchedulerChoice
from tests.paths import REPO, SAMPLE

HOURLY = SAMPLE / "era5_t2m_uk_2019_03_hourly.tif"


@pytest.fixture(scope="module")
def week_stack(tmp_path_factory):
    """The first 168 hours of the ERA5 sample (33 × 49 cells)."""
    full = read_stack(HOURLY)
    path = tmp_path_factory.mktemp("stack") / "week.tif"
    write_stack(RasterStack(full.values[:168], full.times[:168], full.grid), path)
    return path


@pytest.mark.parametrize(
    "text, kind, address",
    [
        ("", "threads", None),
        (" processes ", "processes", None),
        ("tcp://10.0.0.5:8786", "cluster", "tcp://10.0.0.5:8786"),
        ("tls://cluster.example.org:8786/", "cluster", "tls://cluster.example.org:8786"),
    ],
)
def test_scheduler_choices(text, kind, address):
    assert SchedulerChoice.parse(text) == SchedulerChoice(kind, address)


@pytest.mark.parametrize("text", ["tcp://host", "http://host:8786", "gpu", "tcp://host:8786 extra"])
def test_an_unknown_scheduler_is_one_clear_message(text):
    with pytest.raises(UserInputError, match="SCHEDULER .* is not understood: leave it empty"):
        SchedulerChoice.parse(text)


def test_chunk_sizes_follow_the_memory_limit():
    try:
        set_limit_mb(1000)
        side = chunk_side(744 * 8 * 96, threads=2, grid_cells=10**8)
        assert 16 <= side and 4 * side * side * 744 * 8 * 96 <= 1000 * 2**20  # 4 chunks in flight fit in 1000 MB
        set_limit_mb(4000)
        assert chunk_side(1000, threads=2, grid_cells=10**8, file_block=(256, 256)) % 256 == 0  # whole blocks
        assert chunk_side(1000, threads=2, grid_cells=400) == 10  # small grids still give every thread work
        set_limit_mb(100)
        with pytest.raises(UserInputError, match="Raise MEMORY_LIMIT"):
            chunk_side(744 * 8 * 96, threads=2, grid_cells=10**8)
    finally:
        set_limit_mb(None)


@pytest.mark.parametrize("in_this_thread", [False, True])
def test_local_chunks_in_threads_or_in_the_calling_thread(in_this_thread):
    import threading

    import dask

    from backend.progress import Reporter
    from backend.scale.blocks import run_chunks
    from backend.scale.scheduler import open_client

    def where(i):
        if i == 3:
            raise UserInputError("chunk 3 is bad")
        return i, threading.current_thread() is threading.main_thread()

    results = {}
    with open_client(SchedulerChoice("threads"), chunks_in_this_thread=in_this_thread) as client:
        tasks = [lambda i=i: dask.delayed(where)(i) for i in range(3)]
        run_chunks(tasks, lambda index, value: results.update({index: value}), Reporter(), client)
        with pytest.raises(UserInputError, match="chunk 3 is bad"):
            run_chunks([lambda: dask.delayed(where)(3)], lambda index, value: None, Reporter(), client)
    assert results == {i: (i, in_this_thread) for i in range(3)}


def test_lazy_stack_chunks_read_as_read_block():
    stack = open_lazy_stack(str(HOURLY), 16)
    windows = stack.windows()
    assert len(windows) == 3 * 4 and stack.data.shape == (744, 33, 49)
    with open_raster(HOURLY) as src:
        for index in (0, 5, 11):
            expected = read_block(src, windows[index])
            np.testing.assert_array_equal(stack.chunk(index).compute(scheduler="sync"), expected)


def _read(path):
    with rasterio.open(path) as src:
        return src.read()


def test_outputs_do_not_depend_on_chunks_or_scheduler(week_stack, tmp_path):
    """Small MEMORY_LIMIT (many chunks), the default, and a local process pool: the same files."""
    runs = {"default": {}, "small_chunks": {"memory_limit_mb": 290}, "processes": {"scheduler": "processes"}}
    for name, extra in runs.items():
        requests = {
            "timeseriesdiagnostics": {"source": {"raster": str(week_stack)}, "output": str(tmp_path / f"d_{name}.tif")},
            "detectrasteranomalies": {"input": str(week_stack), "output_scores": str(tmp_path / f"s_{name}.tif")},
        }
        for command, request in requests.items():
            if name == "processes":  # a process pool (dask.distributed) in a child, as the plugin runs it
                _run_cli(command, request | extra, tmp_path)
            else:
                run_command(command, request | extra)
    for prefix in ("d", "s"):
        reference = _read(tmp_path / f"{prefix}_default.tif")
        assert np.isfinite(reference).any()
        for name in ("small_chunks", "processes"):
            np.testing.assert_array_equal(_read(tmp_path / f"{prefix}_{name}.tif"), reference, err_msg=name)


def test_diagnostics_of_many_chunks_equal_one_block(week_stack, tmp_path):
    """The chunked command against the engine on the whole stack at once."""
    from backend.data.time_axis import summarize_time_axis
    from backend.diagnostics.engine import FIELDS, DiagnosticSettings, diagnose_chunk

    run_command(
        "timeseriesdiagnostics",
        {"source": {"raster": str(week_stack)}, "output": str(tmp_path / "d.tif"), "memory_limit_mb": 290},
    )
    stack = read_stack(week_stack)
    step = summarize_time_axis(stack.times).step
    whole = diagnose_chunk(stack.values, stack.times, 24, DiagnosticSettings(), step)
    expected = np.stack([whole.fields[k].reshape(33, 49) for k in FIELDS]).astype(np.float32)
    np.testing.assert_array_equal(_read(tmp_path / "d.tif"), expected)


def test_cancel_stops_the_worker_processes_and_leaves_no_file(tmp_path):
    full = read_stack(HOURLY)
    stack = tmp_path / "month.tif"
    write_stack(RasterStack(full.values, full.times, GridSpec(49, 33, full.grid.transform, full.grid.crs)), stack)
    out = tmp_path / "out"
    out.mkdir()
    request = {"source": {"raster": str(stack)}, "output": str(out / "d.tif"), "scheduler": "processes"}
    (tmp_path / "request.json").write_text(json.dumps(request))
    child = subprocess.Popen(
        [sys.executable, "-m", "backend", "timeseriesdiagnostics", str(tmp_path / "request.json")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while "chunk(s) of up to" not in child.stdout.readline():  # the pool is up and the chunks are going out
        assert time.monotonic() < deadline and child.poll() is None
    workers = _children(child.pid)
    assert workers
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 130
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "worker processes outlived the cancelled run"
        time.sleep(0.2)
    assert list(out.iterdir()) == []


def _run_cli(command: str, request: dict, folder) -> None:
    path = folder / f"{command}.json"
    path.write_text(json.dumps(request))
    done = subprocess.run(
        [sys.executable, "-m", "backend", command, str(path)], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _children(pid: int) -> list[int]:
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in done.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
