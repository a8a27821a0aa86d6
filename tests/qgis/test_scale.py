"""SCHEDULER: the chunked algorithms on a real dask.distributed cluster (a scheduler and two worker processes on
127.0.0.1, started here) through qgis_process give the local run's outputs, and the work runs on the workers; a
worker killed mid-run does not change the output (dask runs its chunks again elsewhere)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import rasterio

from tests.paths import REPO
from tests.qgis.conftest import QGIS_PROCESS
from tests.qgis.data import PM10_Q1, SAMPLE_COPY

pytestmark = pytest.mark.qgis_process
SEPARABLE = json.loads((REPO / "tests" / "fixtures" / "gstat" / "models.json").read_text())["separable"]
WORKER_PYTHON = os.environ.get("ST_ANALYZER_PYTHON", sys.executable)  # the backend's interpreter: it imports backend


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask_cluster(address: str, code: str):
    """Run ``code`` (which defines ``answer(client)``) in a child Python holding a distributed Client on ``address``
    and return its JSON answer: the test process itself never starts distributed's event loop (at exit it could
    crash a QGIS process)."""
    script = (
        "import json, sys\nfrom distributed import Client\n" + code + "\nclient = Client(sys.argv[1], timeout=60)\n"
        "print(json.dumps(answer(client)))\nclient.close()\n"
    )
    done = subprocess.run([WORKER_PYTHON, "-c", script, address], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


class LocalDaskCluster:
    """``dask scheduler`` and ``dask worker`` processes (each in its own process group, so a worker and its nanny
    can be killed together, as when a machine is lost)."""

    def __init__(self, workers: int, python: str = WORKER_PYTHON, with_backend: bool = True, cwd=None) -> None:
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if with_backend:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        common = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
        common["cwd"] = cwd
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = subprocess.Popen(
            [python, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", port]
            + ["--dashboard-address", ":0"],
            **common,
        )
        self.workers = [
            subprocess.Popen(
                [python, "-m", "distributed.cli.dask_worker", self.address, "--nthreads", "1"]
                + ["--name", f"w{i}", "--dashboard-address", ":0"],
                **common,
            )
            for i in range(workers)
        ]
        ask_cluster(self.address, f"def answer(client):\n    client.wait_for_workers({workers}, timeout=120)")

    def kill_worker(self, index: int) -> None:
        os.killpg(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait(timeout=30)

    def tasks_done_per_worker(self) -> dict[str, list[str]]:
        """Keys of the tasks each live worker finished (its transition log)."""
        return ask_cluster(
            self.address,
            "def finished(dask_worker):\n"
            "    log = dask_worker.state.log if hasattr(dask_worker, 'state') else dask_worker.log\n"
            "    return [str(entry[0]) for entry in log if len(entry) > 2 and entry[2] == 'memory']\n"
            "def answer(client):\n    return client.run(finished)",
        )

    def tasks_on_scheduler(self) -> int:
        return ask_cluster(
            self.address,
            "def answer(client):\n    return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))",
        )

    def worker_names(self) -> list[str]:
        return ask_cluster(
            self.address,
            "def answer(client):\n    return [w['name'] for w in client.scheduler_info()['workers'].values()]",
        )

    def close(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def cluster():
    started = LocalDaskCluster(workers=2)
    yield started
    started.close()


def _read(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def _run(qgis_process, algorithm: str, *arguments: str) -> None:
    done = qgis_process("run", f"stanalyzer:{algorithm}", "--", *arguments, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_chunked_algorithms_on_a_cluster_equal_the_local_run(qgis_process, cluster, tmp_path, small_stack):
    (tmp_path / "m.json").write_text(json.dumps(SEPARABLE))
    runs = {
        "timeseriesdiagnostics": ([f"INPUT={small_stack}"], ["OUTPUT"]),
        "detectrasteranomalies": ([f"INPUT={small_stack}"], ["OUTPUT_SCORES", "OUTPUT_FLAGS", "OUTPUT_SUMMARY"]),
        "emerginghotspots": ([f"INPUT={small_stack}", "TIME_STEP=1D"], ["OUTPUT"]),
        "timeseriesclustering": ([f"INPUT={small_stack}", "N_CLUSTERS=3"], ["OUTPUT"]),
        "stkriging": (
            [
                f"INPUT={PM10_Q1}",
                "ID_FIELD=station_id",
                "TIME_FIELD=date",
                "VALUE_FIELD=pm10",
                f"MODEL_FILE={tmp_path / 'm.json'}",
                "NMAX=25",
                "ST_ANI=60000",
                "PIXEL_SIZE=25000",
                "START=2005-01-05T00:00:00",
                "END=2005-01-07T00:00:00",
                "STEP=1 day",
            ],
            ["OUTPUT", "OUTPUT_VARIANCE"],
        ),
    }
    for algorithm, (arguments, outputs) in runs.items():
        for where, scheduler in (("local", ""), ("cluster", cluster.address)):
            files = [f"{name}={tmp_path / f'{algorithm}_{name}_{where}.tif'}" for name in outputs]
            _run(qgis_process, algorithm, *arguments, *files, *([f"SCHEDULER={scheduler}"] if scheduler else []))
        for name in outputs:
            local, remote = (_read(tmp_path / f"{algorithm}_{name}_{where}.tif") for where in ("local", "cluster"))
            np.testing.assert_array_equal(local, remote, err_msg=f"{algorithm} {name}")
    done = cluster.tasks_done_per_worker()
    assert len(done) == 2
    for function in ("diagnose_chunk", "score_chunk", "krige_grid_rows", "chunk_hot_spots", "chunk_clusters"):
        assert any(key.startswith(function) for keys in done.values() for key in keys), (function, done)


def test_a_worker_killed_mid_run_does_not_change_the_output(qgis_process, cluster, tmp_path):
    from backend.data.raster_io import read_stack, write_stack
    from backend.data.raster_stack import GridSpec, RasterStack

    full = read_stack(SAMPLE_COPY / "era5_t2m_uk_2019_03_hourly.tif")  # every hour of March: STL needs seconds
    stack = tmp_path / "crop.tif"
    grid = GridSpec(16, 16, full.grid.transform, full.grid.crs)
    write_stack(RasterStack(full.values[:, :16, :16], full.times, grid), stack)
    _run(qgis_process, "timeseriesdiagnostics", f"INPUT={stack}", f"OUTPUT={tmp_path / 'local.tif'}")
    command = [
        "run",
        "stanalyzer:timeseriesdiagnostics",
        "--",
        f"INPUT={stack}",
        f"OUTPUT={tmp_path / 'cluster.tif'}",
        f"SCHEDULER={cluster.address}",
    ]
    run = subprocess.Popen(
        [QGIS_PROCESS, *command], env=qgis_process.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    while not cluster.tasks_on_scheduler():
        assert run.poll() is None and time.monotonic() < deadline, run.stdout.read()
    time.sleep(1.0)  # the workers are inside their first chunks
    cluster.kill_worker(0)
    output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output[-3000:]
    np.testing.assert_array_equal(_read(tmp_path / "local.tif"), _read(tmp_path / "cluster.tif"))
    assert cluster.worker_names() == ["w1"]


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="needs the system Python (with dask) as a worker")
def test_workers_without_the_backend_get_it_and_read_relative_paths(tmp_path, small_stack):
    """Workers of the system Python, in another folder and without st_analyzer: the run sends them the backend and
    the input's relative path is made absolute."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import distributed, rasterio, statsmodels"], capture_output=True)
    if probe.returncode:
        pytest.skip("the system Python lacks distributed, rasterio or statsmodels")
    workers = LocalDaskCluster(1, python="/usr/bin/python3", with_backend=False, cwd=tmp_path)
    lines = []
    try:
        for where, scheduler in (("local", ""), ("cluster", workers.address)):
            request = {"input": os.path.basename(small_stack), "output_scores": str(tmp_path / f"{where}.tif")}
            (tmp_path / f"{where}.json").write_text(json.dumps({**request, "scheduler": scheduler}))
            done = subprocess.run(
                [WORKER_PYTHON, "-m", "backend", "detectrasteranomalies", str(tmp_path / f"{where}.json")],
                capture_output=True,
                text=True,
                cwd=os.path.dirname(small_stack),
                env={**os.environ, "PYTHONPATH": str(REPO)},
                timeout=300,
            )
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            lines += done.stdout.splitlines()
    finally:
        workers.close()
    assert any("was sent to 1 worker(s)" in line for line in lines), lines
    np.testing.assert_array_equal(_read(tmp_path / "local.tif"), _read(tmp_path / "cluster.tif"))
